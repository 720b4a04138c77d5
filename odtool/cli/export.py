"""``odtool export``: an artifact -> .pte / .ptl / .onnx, each checked against eager."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from odtool import api
from odtool.cli.common import print_json, stdout
from toolchain.sizes.units import human
from toolchain.formats import Format


#: --format's choices: every format (from the one definition) and "all"
FormatChoice = Enum("FormatChoice", {**{f.value: f.value for f in Format}, "all": "all"}, type=str)


class KernelChoice(str, Enum):
    """ExecuTorch student scoring: odtool's fused kernels or ExecuTorch's portable kernels only."""
    odtool = "odtool"
    portable = "portable"


def export_command(
    artifact: Path = typer.Argument(..., help="A frozen artifact directory (odtool freeze ... --out DIR), or with "
                                    "--profile a family (odtool freeze ... --budgets)."),
    format: FormatChoice = typer.Option(Format.executorch.value, "--format", "-f",
                                       help=f"{', '.join(f.value for f in Format)} or all."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory (default: ARTIFACT/export)."),
    name: Optional[str] = typer.Option(None, help="File name stem (default: the artifact's directory name)."),
    max_len: int = typer.Option(50, help="Session length of the graph's input (longer sessions keep their "
                                "most recent items)."),
    top_k: int = typer.Option(20, help="Items returned per session."),
    kernels: KernelChoice = typer.Option(KernelChoice.odtool, help="ExecuTorch student scoring: odtool's fused "
                                         "code_topk kernel, or ExecuTorch's own kernels only (portable)."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset whose test sessions check parity "
                                        "(default: the training dataset, else synthetic sessions)."),
    sessions: int = typer.Option(64, min=1, help="Number of sessions in the parity check (at least 1: parity "
                                 "is never skipped)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace export files of the same name in --out."),
    profile: Optional[str] = typer.Option(None, "--profile", help="A device profile (name or .json) whose "
                                          "model_budget every export must fit; given a family, the largest "
                                          "member that fits is exported."),
    as_json: bool = typer.Option(False, "--json", help="Print the export reports as JSON."),
) -> None:
    """Export a frozen artifact and check each export against the eager model.

    Each file appears only after its check passed: the exported top-k must equal eager's (ties
    aside) and scores agree within 1e-4 relative on every check session; otherwise the command
    says which format, which session and by how much, and exits 1. A <file>.report.json records
    size, parity, export time and runtime versions.

    Examples:

      odtool export artifacts/student --format executorch

      odtool export artifacts/student --format all --out exports/

      odtool export artifacts/teacher --format onnx --top-k 10

      odtool export artifacts/family --profile go-phone      # the member that fits the phone
    """
    formats = [f.value for f in Format] if format.value == "all" else [format.value]
    results = api.export(artifact, formats, out, name=name, max_len=max_len, top_k=top_k, kernels=kernels.value,
                         data=data, sessions=sessions, overwrite=overwrite, profile=profile)
    show_exports(artifact, results, as_json)


def show_exports(artifact: Path, results: list, as_json: bool = False) -> None:
    """What ``odtool export`` prints: a row per export (size, parity, time) and its warnings (or JSON)."""
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    table = Table(title=f"exports of {artifact}", title_justify="left")
    for col in ("format", "file", "size", "parity", "max rel. err", "export s"):
        table.add_column(col, justify="left" if col in ("format", "file", "parity") else "right")
    for r in results:
        p = r.parity
        table.add_row(r.format, Path(r.path).name, human(r.bytes), f"ok ({p['sessions']} sessions)" if p["ok"] else "FAILED",
                      f"{p['max_relative_error']:.1e}", f"{r.export_seconds:.1f}")
    stdout.print(table)
    for r in results:
        for w in r.warnings:
            stdout.print(f"[yellow]warning ({r.format}):[/] {w}")
