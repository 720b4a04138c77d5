"""``odtool demo``: the main job on the synthetic default, end to end.

data -> train teacher and student -> evaluate -> freeze -> export (ExecuTorch, TorchScript-lite,
ONNX, each checked against eager) -> bench (host, and the Pixel 2 emulator when provisioned)
-> size-check against the budgets in pyproject.toml. Sized to run in about 3 minutes on an
idle 2-core CPU: a small teacher (N = 64, 6 epochs) and the deployable student at 1/RATIO of
the teacher's deployed bytes (2 epochs; otherwise the defaults of ``odtool train student``).
Each step is the :mod:`odtool.api` call its CLI command makes, printed as that command prints it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from odtool import api
from odtool.cli.bench import show_bench
from odtool.cli.common import stdout
from odtool.cli.data import show_stats
from odtool.cli.evaluate import show_evaluation
from odtool.cli.export import show_exports
from odtool.cli.freeze import show_frozen
from odtool.cli.size import show_checks
from odtool.cli.train import print_summary
from toolchain.data.synth import SynthConfig
from toolchain.formats import Format
from toolchain.progress import muted
from toolchain.training.build import Deploy

TRAIN = {"threads": 2, "device": "cpu", "patience": 2}
TEACHER = {"model": {"dim": 64, "dropout": 0.2}, "train": {**TRAIN, "epochs": 6}}
STUDENT = {"train": {**TRAIN, "epochs": 2}}  # everything else: odtool train student's defaults
#: the student's budget: 1/RATIO of the teacher's deployed bytes. The synthetic default has 2,9xx
#: items, so fixed costs (the int8 encoder, the codebooks) weigh more than on a real catalogue.
RATIO = 6.0


def run_demo(out: Path, overwrite: bool = False) -> None:
    """The whole demo in ``out`` (a demo directory: with ``overwrite`` an earlier demo's outputs
    are replaced one by one, each only if it is the odtool output expected there)."""
    from toolchain.outputs import mark, writing

    with writing(out, "demo", overwrite=overwrite):
        out.mkdir(parents=True, exist_ok=True)
        mark(out, "demo")
        _run_demo(out)


def _run_demo(out: Path) -> None:
    data = out / "data"
    stdout.rule("1. data: synthetic default")
    show_stats(api.synth(data, SynthConfig(), overwrite=True), data)

    stdout.rule("2. train the teacher (SASRec + soft-attention readout, full item table)")
    teacher = out / "runs" / "teacher"
    print_summary("teacher", teacher, api.train("teacher", teacher, data=data, flags=TEACHER, overwrite=True))

    stdout.rule(f"3. train the student: 1/{RATIO:g} of the teacher's bytes (k-means codes, the teacher's encoder, "
                "fine-tuned on the deployed table)")
    student = out / "runs" / "student"
    print_summary("student", student, api.train("student", student, data=data, flags=STUDENT, teacher=teacher,
                                                overwrite=True, deploy=Deploy(ratio=RATIO)))

    stdout.rule("4. evaluate on the test split")
    result = api.evaluate([teacher, student], data)
    show_evaluation(result)
    rows, sizes = result.metrics, result.runs
    share = {m: 100 * rows["student"][m] / max(rows["teacher"][m], 1e-12) for m in ("P@10", "NDCG@10")}
    stdout.print(f"student: {sizes['student']['model_bytes']:,} bytes, 1/{sizes['student']['byte_ratio']:.1f} of the "
                 f"teacher's {sizes['teacher']['model_bytes']:,}; P@10 {share['P@10']:.1f}% and NDCG@10 "
                 f"{share['NDCG@10']:.1f}% of the teacher's")
    stdout.print(f"[dim]the same, any time: odtool eval {teacher} {student}[/]")
    with muted():  # each step prints its command and its result only
        deploy(out, teacher, student, data)


def _command(*args: object) -> None:
    """The command line that does the same step, printed before its result."""
    stdout.print(f"[bold]$ odtool {' '.join(map(str, args))}[/]")


def deploy(out: Path, teacher: Path, student: Path, data: Path) -> None:
    """Steps 5-8: freeze, export, bench, size-check, each printed as its command prints it."""
    from android_harness.provision.layout import EmulatorLayout
    from toolchain.sizes.budget import find_pyproject, load_budgets
    from toolchain.paths import odtool_home

    art, exp = out / "artifacts", out / "export"
    stdout.rule("5. freeze: code matrix + codebooks + int8 encoder, checksummed")
    for name, run in (("teacher", teacher), ("student", student)):
        _command("freeze", run, "--out", art / name, "--data", data, "--overwrite")
        show_frozen(api.freeze(run, art / name, data=data, overwrite=True))
    stdout.rule("6. export, each format checked against eager")
    every = [f.value for f in Format]
    for name, fmt, formats in (("student", "all", every), ("teacher", "executorch", ["executorch"])):
        _command("export", art / name, "--format", fmt, "--out", exp, "--data", data, "--overwrite")
        show_exports(art / name, api.export(art / name, formats, exp, data=data, overwrite=True))
    stdout.rule("7. bench: prediction time per 100 sessions")
    devices = ["host"]
    if EmulatorLayout.at(None).is_provisioned():
        devices.append("emulator")
    else:
        stdout.print(f"[dim]the Pixel 2 emulator is not provisioned ({odtool_home() / 'emulator'}): benching the "
                     "host only; `odtool emulator setup` adds it[/]")
    for device in devices:
        bench_out = out / "bench" / device
        _command("bench", "--device", device, "--artifacts", art, "--models", "student,teacher",
                 "--formats", "executorch", "--sessions", "50", "--out", bench_out, "--overwrite")
        outcome = api.bench(device=device, artifacts=[art], models=["student", "teacher"], formats=["executorch"],
                            sessions=50, out=bench_out, overwrite=True)
        show_bench(outcome)
        if outcome.all_failed:
            raise typer.Exit(1)
    stdout.rule("8. size-check against \\[tool.odtool.size-budget] in pyproject.toml")
    pyproject = find_pyproject(Path.cwd())
    if pyproject is None or not load_budgets(pyproject):
        stdout.print("[dim]no pyproject.toml with \\[tool.odtool.size-budget] here: skipping the size gate "
                     "(run the demo from the odtool checkout, or `odtool size-check FILE --budget 2MiB`)[/]")
        return
    paths = [p for p in sorted(exp.glob("*.*")) if not p.name.endswith(".json")]
    _command("size-check", *paths)
    checks = api.size_check(paths)
    show_checks(checks)
    api.require_within_budget(checks)

