"""``odtool export``: an artifact -> .pte / .ptl / .onnx, each checked against eager."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from toolchain.artifact.budget import human
from toolchain.cli.common import print_json, stdout
from toolchain.errors import UsageError
from toolchain.formats import Format


#: --format's choices: every format (from the one definition) and "all"
FormatChoice = Enum("FormatChoice", {**{f.value: f.value for f in Format}, "all": "all"}, type=str)


class KernelChoice(str, Enum):
    odtool = "odtool"
    portable = "portable"


def check_sessions(spec_data: dict, data: Optional[Path], n_items: int, max_len: int, count: int):
    """Sessions for the parity check: the dataset's test split when available, else synthetic."""
    from export.parity import random_sessions
    from toolchain.data.batching import pad_batch
    from toolchain.data.dataset import SessionDataset
    from toolchain.progress import info

    path = data or spec_data.get("path")
    if path and (Path(path) / "manifest.json").is_file():
        ds = SessionDataset.load(path)
        if ds.n_items == n_items and len(ds.test):
            idx = [int(i) for i in __import__("numpy").linspace(0, len(ds.test) - 1, min(count, len(ds.test)))]
            return [pad_batch(ds.test, [i], max_len) for i in idx]
        info(f"[yellow]{path} does not match the artifact's {n_items} items: checking on synthetic sessions[/]")
    return random_sessions(n_items, max_len, count)


def export_command(
    artifact: Path = typer.Argument(..., help="A frozen artifact directory (odtool freeze ... --out DIR)."),
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
    """
    from export.graphs.base import GraphOptions, Kernels
    from export.pipeline import export_model
    from toolchain.artifact.load import load_artifact

    from toolchain.checksum import sha256_file
    from toolchain.outputs import mark, writing

    bundle, spec, model = load_artifact(artifact)
    out = out or artifact / "export"
    formats = [f.value for f in Format] if format.value == "all" else [format.value]
    storage = bundle.manifest.get("freeze", {}).get("encoder_storage", "fp32")
    options = GraphOptions(max_len, top_k, Kernels(kernels.value), encoder_storage=storage)
    options.check(model.items.n_items)  # before any session is built at that length
    stem = name or artifact.resolve().name
    if not stem or stem.startswith(".") or any(c in stem for c in "/\\\0") or len(stem) > 200:
        raise UsageError(f"--name {stem!r} is not a plain file name stem",
                         hint="use letters, digits, '-' and '_', e.g. --name student")
    checks = check_sessions(spec.data, data, model.items.n_items, max_len, sessions)
    # an export directory collects files: an existing one takes new files, same names need --overwrite
    with writing(out, "export", overwrite=True, inputs=[artifact]):
        results = export_model(model, stem, formats, out, options, checks,
                               model_info={"artifact": str(artifact), "kind": spec.kind,
                                           "manifest_sha256": sha256_file(artifact / "manifest.json"),
                                           "artifact_bytes": bundle.manifest.get("total_bytes")},
                               overwrite=overwrite)
        mark(out, "export")
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
