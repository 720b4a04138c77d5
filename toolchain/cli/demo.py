"""``odtool demo``: the main job on the synthetic default, end to end.

data -> train teacher and student -> evaluate -> freeze -> export (ExecuTorch, TorchScript-lite,
ONNX, each checked against eager) -> bench (host, and the Pixel 2 emulator when provisioned)
-> size-check against the budgets in pyproject.toml. Sized to run in about 3 minutes on an
idle 2-core CPU: a small teacher (N = 64, 6 epochs) and the deployable student at 1/RATIO of
the teacher's deployed bytes (2 epochs; otherwise the defaults of ``odtool train student``).
Each step is the same code the CLI commands run, at any size.
"""

from __future__ import annotations

from pathlib import Path

from toolchain.cli.common import kv_table, stdout
from toolchain.cli.evaluate import metrics_table, size_table
from toolchain.cli.train import print_summary
from toolchain.training.lifecycle import train_run
from toolchain.training.build import Deploy
from toolchain.data.pipeline import synth_dataset
from toolchain.data.stats import TABLE2_COLUMNS, table2_row
from toolchain.data.synth import SynthConfig
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.popularity import PopularityRecommender

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
    from toolchain.training.build import load_trained, reference_teacher
    from toolchain.training.sizes import size_report

    data = out / "data"
    stdout.rule("1. data: synthetic default")
    ds = synth_dataset(SynthConfig(), data, overwrite=True)
    row = table2_row(ds)
    stdout.print(kv_table(f"dataset {data}", [(label, row[k]) for k, label in TABLE2_COLUMNS]))

    stdout.rule("2. train the teacher (SASRec + soft-attention readout, full item table)")
    teacher = out / "runs" / "teacher"
    print_summary("teacher", teacher, train_run("teacher", teacher, data=data, flags=TEACHER, overwrite=True))

    stdout.rule(f"3. train the student: 1/{RATIO:g} of the teacher's bytes (k-means codes, the teacher's encoder, "
                "fine-tuned on the deployed table)")
    student = out / "runs" / "student"
    print_summary("student", student, train_run("student", student, data=data, flags=STUDENT, teacher=teacher,
                                                overwrite=True, deploy=Deploy(ratio=RATIO)))

    stdout.rule("4. evaluate on the test split")
    rows = {"popularity": evaluate(PopularityRecommender.fit(ds), ds.test)}
    sizes = {}
    for name, path in (("teacher", teacher), ("student", student)):
        spec, model = load_trained(path, dataset=ds)
        rows[name] = evaluate(model, ds.test, max_len=spec.train.max_len)
        sizes[name] = {"kind": spec.kind, **size_report(model, reference_teacher(spec, ds.n_items),
                                                        spec.deploy.get("encoder_storage", "fp32"))}
    stdout.print(metrics_table(f"test split, {len(ds.test):,} sequences, metrics in %", rows))
    stdout.print(size_table(sizes))
    share = {m: 100 * rows["student"][m] / max(rows["teacher"][m], 1e-12) for m in ("P@10", "NDCG@10")}
    stdout.print(f"student: {sizes['student']['model_bytes']:,} bytes, 1/{sizes['student']['byte_ratio']:.1f} of the "
                 f"teacher's {sizes['teacher']['model_bytes']:,}; P@10 {share['P@10']:.1f}% and NDCG@10 "
                 f"{share['NDCG@10']:.1f}% of the teacher's")
    stdout.print(f"[dim]the same, any time: odtool eval {teacher} {student}[/]")
    deploy(out, teacher, student, data)


def deploy(out: Path, teacher: Path, student: Path, data: Path) -> None:
    """Steps 5-8: freeze, export, bench, size-check (through the CLI commands themselves)."""
    from typer.testing import CliRunner

    from toolchain.cli.main import app
    from toolchain.paths import odtool_home

    def odtool(*args: str) -> None:
        stdout.print(f"[bold]$ odtool {' '.join(args)}[/]")
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        stdout.print(result.stdout, end="", markup=False, highlight=False)
        if result.exit_code != 0:
            stdout.print(result.stderr, end="", markup=False, highlight=False)
            raise SystemExit(result.exit_code)

    art, exp = out / "artifacts", out / "export"
    stdout.rule("5. freeze: code matrix + codebooks + int8 encoder, checksummed")
    for name, run in (("teacher", teacher), ("student", student)):
        odtool("freeze", str(run), "--out", str(art / name), "--data", str(data), "--overwrite")
    stdout.rule("6. export, each format checked against eager")
    odtool("export", str(art / "student"), "--format", "all", "--out", str(exp), "--data", str(data),
           "--overwrite")
    odtool("export", str(art / "teacher"), "--format", "executorch", "--out", str(exp), "--data", str(data),
           "--overwrite")
    stdout.rule("7. bench: prediction time per 100 sessions")
    devices = ["host"]
    from android_harness.provision.layout import EmulatorLayout

    if EmulatorLayout.at(None).is_provisioned():
        devices.append("emulator")
    else:
        stdout.print(f"[dim]the Pixel 2 emulator is not provisioned ({odtool_home() / 'emulator'}): benching the "
                     "host only; `odtool emulator setup` adds it[/]")
    for device in devices:
        odtool("bench", "--device", device, "--artifacts", str(art), "--models", "student,teacher",
               "--formats", "executorch", "--sessions", "50", "--out", str(out / "bench" / device), "--overwrite")
    stdout.rule("8. size-check against \\[tool.odtool.size-budget] in pyproject.toml")
    from toolchain.artifact.budget import find_pyproject, load_budgets

    pyproject = find_pyproject(Path.cwd())
    if pyproject is None or not load_budgets(pyproject):
        stdout.print("[dim]no pyproject.toml with \\[tool.odtool.size-budget] here: skipping the size gate "
                     "(run the demo from the odtool checkout, or `odtool size-check FILE --budget 2MiB`)[/]")
        return
    odtool("size-check", *(str(p) for p in sorted(exp.glob("*.*")) if not p.name.endswith(".json")))
