"""``odtool freeze``: a trained run -> a compact, checksummed artifact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table

from odtool import api
from odtool.cli.common import print_json, stdout
from toolchain.artifact.budget import human
from toolchain.artifact.quantize import FloatStorage

if TYPE_CHECKING:
    from toolchain.stages import FrozenRun


def freeze_command(
    run: Path = typer.Argument(..., help="A trained run directory (odtool train ... --out RUN)."),
    out: Path = typer.Option(..., "--out", "-o", help="Artifact directory to write."),
    data: Optional[Path] = typer.Option(None, "--data", "-d",
                                        help="The training dataset (default: the path in the run's config)."),
    packed: bool = typer.Option(False, "--packed", help="Bit-pack codes to ceil(log2 K) bits."),
    codebook_dtype: FloatStorage = typer.Option(FloatStorage.fp32, "--codebook-dtype",
                                                help="Codebook storage of the paper's codes: fp32, fp16, or int8 "
                                                     "with a per-row scale (a deployable student's codebooks keep "
                                                     "the storage they trained with)."),
    encoder_dtype: Optional[FloatStorage] = typer.Option(
        None, "--encoder-dtype", help="Encoder matrices: fp32, fp16, or int8 per-row (weight-only). "
        "(default: the run's choice: int8 for deployable students, else fp32)"),
    evaluate_split: str = typer.Option("test", "--eval-split",
                                       help="Split to measure the frozen model on (test, valid, or none)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the artifact already in --out."),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete",
                                          help="Freeze a run that never finished training (its best epoch so far)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest summary as JSON."),
) -> None:
    """Freeze a run: code matrix + codebooks (students) or the model's own tensors, the encoder,
    the vocabulary and a manifest with the size and sha256 of every part.

    The artifact is loaded back and evaluated before the command finishes, so the metrics in
    its manifest are those of the frozen model itself.

    Examples:

      odtool freeze runs/student --out artifacts/student

      odtool freeze runs/student --out artifacts/student-small --packed --codebook-dtype fp16

      odtool freeze runs/teacher --out artifacts/teacher-int8 --encoder-dtype int8

      odtool freeze runs/teacher --out artifacts/teacher
    """
    frozen = api.freeze(run, out, data=data, packed=packed, codebook_dtype=codebook_dtype,
                        encoder_dtype=encoder_dtype, eval_split=evaluate_split, overwrite=overwrite,
                        allow_incomplete=allow_incomplete)
    show_frozen(frozen, as_json)


def show_frozen(frozen: FrozenRun, as_json: bool = False) -> None:
    """What ``odtool freeze`` prints: the artifact's parts and the frozen model's metrics (or JSON)."""
    out, bundle, metrics = frozen.path, frozen.bundle, frozen.metrics
    if as_json:
        print_json({"artifact": str(out), "total_bytes": bundle.manifest["total_bytes"],
                    "parts": bundle.parts, "metrics": metrics})
        return
    table = Table(title=f"artifact {out} ({frozen.kind}): {human(bundle.manifest['total_bytes'])}",
                  title_justify="left")
    for col in ("part", "file", "bytes", "sha256"):
        table.add_column(col, justify="right" if col == "bytes" else "left")
    for name, p in sorted(bundle.parts.items()):
        table.add_row(name, p["file"], f"{p['bytes']:,}", p["sha256"][:16])
    stdout.print(table)
    if metrics:
        stdout.print("frozen model, " + metrics["split"] + ": " +
                     ", ".join(f"{k} {100 * metrics[k]:.2f}" for k in ("P@10", "NDCG@10", "MRR@20")))
