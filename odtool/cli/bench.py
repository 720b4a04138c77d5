"""``odtool bench``: the paper's Table 5 (prediction time per 100 sessions) on a device."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from android_harness.bench.plan import TABLE5_MODELS
from android_harness.devices import DEVICES
from export.graphs.base import Kernels
from odtool import api
from odtool.cli.common import stdout
from toolchain.formats import Format
from toolchain.models.scale_presets import KINDS, SCALES

if TYPE_CHECKING:
    from android_harness.bench.measure import BenchOutcome

# the choices come from the registries, never copied
DeviceChoice = Enum("DeviceChoice", {n: n for n in DEVICES.names()}, type=str)
PresetChoice = Enum("PresetChoice", {n: n for n in SCALES}, type=str)


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def bench_command(
    device: DeviceChoice = typer.Option("host", "--device", help="host, emulator (Pixel 2 under QEMU) "
                                        "or adb (a real phone / Android emulator)."),
    profile: str = typer.Option("pixel2", help="Device profile for the emulator (a name or a JSON file)."),
    preset: Optional[List[PresetChoice]] = typer.Option(None, "--preset", help="Paper scale to build every model "
                                                        "at (repeatable): tmall, retailrocket. Default: tmall, "
                                                        "unless --artifacts is given."),
    artifacts: Optional[List[Path]] = typer.Option(None, "--artifacts", help="Directory of frozen artifacts named "
                                                   "by model (DIR/student, DIR/teacher, ...), repeatable."),
    models: str = typer.Option(",".join(TABLE5_MODELS), help="Comma-separated models: " + ", ".join(KINDS) + "."),
    formats: str = typer.Option("executorch", help="Comma-separated formats: "
                                + ", ".join(f.value for f in Format) + "."),
    sessions: int = typer.Option(100, help="Sessions per timed pass."),
    threads: int = typer.Option(1, help="Runtime threads (1 matches the paper's single-session setting)."),
    warmup: int = typer.Option(3, help="Untimed inferences first."),
    repeat: int = typer.Option(1, help="Timed passes over the sessions."),
    max_len: int = typer.Option(50, help="Session length of the exported graphs."),
    top_k: int = typer.Option(20, help="Items returned per session."),
    kernels: Kernels = typer.Option(Kernels.odtool, help="Student scoring in ExecuTorch: odtool (the fused "
                                    "kernels) or portable (ExecuTorch's own operators)."),
    serial: Optional[str] = typer.Option(None, help="adb: the device serial (else ANDROID_SERIAL)."),
    core: Optional[int] = typer.Option(None, help="Pin the runner (or QEMU) to this host CPU."),
    data: Optional[Path] = typer.Option(None, help="Dataset whose test split gives the session lengths."),
    host_check: bool = typer.Option(True, help="On emulator / adb, also run on the host and compare top-k."),
    out: Path = typer.Option(Path("bench-out"), "--out", "-o", help="Where exports and the report go."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the bench report already in --out."),
) -> None:
    """Measure each model on a device: seconds per 100 sessions in the paper's Table 5 layout
    (a row per dataset, a column per model), the student's speed-up against OD-Rec and the
    teacher, sizes, peak memory, the emulator's top-k checked against the host's, and a chart.

    Without trained artifacts every model is built at the preset's scale with initialised
    weights (timing does not depend on them) and the report says so. One failing model only
    fails its own cell.

    Examples:

      odtool bench --device emulator --preset tmall --sessions 100

      odtool bench --device host --preset tmall --preset retailrocket --formats executorch,onnx

      odtool bench --device emulator --artifacts demo-out/artifacts --models student,teacher
    """
    outcome = api.bench(presets=[p.value for p in preset or []], artifacts=artifacts or [], out=out,
                        overwrite=overwrite, device=device.value, profile=profile, models=_csv(models),
                        formats=_csv(formats), sessions=sessions, threads=threads, warmup=warmup, repeat=repeat,
                        max_len=max_len, top_k=top_k, kernels=kernels.value,
                        cores=(core,) if core is not None else None, serial=serial, data=data,
                        check_host=host_check)
    show_bench(outcome)
    if outcome.all_failed:
        raise typer.Exit(1)


def show_bench(outcome: BenchOutcome) -> None:
    """What ``odtool bench`` prints: the report's Table 5 and the files written."""
    stdout.print(outcome.paths["markdown"].read_text())
    stdout.print("written: " + ", ".join(str(p) for p in outcome.paths.values()))
