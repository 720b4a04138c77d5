"""``odtool freeze``: a trained run -> a compact, checksummed artifact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table

from odtool import api
from odtool.cli.common import print_json, stdout
from toolchain.sizes.units import human
from toolchain.artifact.quantize import FloatStorage

from toolchain.stages import FrozenFamily

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
        None, "--encoder-dtype", help="Encoder matrices: fp32, fp16, or int8 or int4 per-row (weight-only; int4 "
        "halves int8's bytes, ~0.2%% of P@10 on Diginetica's validation split). "
        "(default: the run's choice: int8 for deployable students, else fp32)"),
    evaluate_split: str = typer.Option("test", "--eval-split",
                                       help="Split to measure the frozen model on (test, valid, or none)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the artifact already in --out."),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete",
                                          help="Freeze a run that never finished training (its best epoch so far)."),
    budget: Optional[str] = typer.Option(
        None, "--budget", "-b", help="Bytes the artifact may take, e.g. 300KiB: an elastic run (train "
        "--elastic) is cut to the largest prefix that fits; any other run must fit already."),
    budgets: Optional[str] = typer.Option(
        None, "--budgets", help="Comma-separated budgets, e.g. 200KiB,500KiB,1MiB: an elastic run cut to "
        "each, written as a family (OUT/<budget>/ artifacts + OUT/family.json)."),
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

      odtool freeze runs/elastic --out artifacts/small --budget 300KiB

      odtool freeze runs/elastic --out artifacts/family --budgets 300KiB,600KiB,2MiB
    """
    many = [b for b in budgets.split(",") if b.strip()] if budgets is not None else None
    frozen = api.freeze(run, out, budget=budget, budgets=many, data=data, packed=packed,
                        codebook_dtype=codebook_dtype, encoder_dtype=encoder_dtype, eval_split=evaluate_split,
                        overwrite=overwrite, allow_incomplete=allow_incomplete)
    if isinstance(frozen, FrozenFamily):
        show_family(frozen, as_json)
    else:
        show_frozen(frozen, as_json)


def show_family(family: FrozenFamily, as_json: bool = False) -> None:
    """What ``odtool freeze --budgets`` prints: one row per artifact of the family (or JSON)."""
    if as_json:
        print_json({"family": str(family.path), "members": [
            {"artifact": str(m.path), "deployed_bytes": m.bundle.manifest["deployed_bytes"], "cut": m.cut,
             "metrics": m.metrics} for m in family.members]})
        return
    table = Table(title=f"artifact family {family.path}", title_justify="left")
    for col in ("artifact", "budget", "bytes", "cut", "valid P@10", "valid NDCG@10", "P@10", "split"):
        table.add_column(col, justify="left" if col in ("artifact", "split") else "right")
    for m in family.members:
        cut, valid = m.cut or {}, (m.cut or {}).get("valid", {})
        table.add_row(m.path.name, human(cut["budget_bytes"]) if cut.get("budget_bytes") else "-",
                      f"{m.bundle.manifest['deployed_bytes']:,}", f"{cut.get('columns')} of {cut.get('of')}",
                      f"{100 * valid['P@10']:.2f}" if valid else "-", f"{100 * valid['NDCG@10']:.2f}" if valid else "-",
                      f"{100 * m.metrics['P@10']:.2f}" if m.metrics else "-", m.metrics.get("split", "-"))
    stdout.print(table)
    for m in family.members:
        if (m.cut or {}).get("warning"):
            stdout.print(f"warning ({m.path.name}): {m.cut['warning']}")


def show_frozen(frozen: FrozenRun, as_json: bool = False) -> None:
    """What ``odtool freeze`` prints: the artifact's parts and the frozen model's metrics (or JSON)."""
    out, bundle, metrics = frozen.path, frozen.bundle, frozen.metrics
    if as_json:
        print_json({"artifact": str(out), "total_bytes": bundle.manifest["total_bytes"],
                    "parts": bundle.parts, "metrics": metrics, "cut": frozen.cut})
        return
    table = Table(title=f"artifact {out} ({frozen.kind}): {human(bundle.manifest['total_bytes'])}",
                  title_justify="left")
    for col in ("part", "file", "bytes", "sha256"):
        table.add_column(col, justify="right" if col == "bytes" else "left")
    for name, p in sorted(bundle.parts.items()):
        table.add_row(name, p["file"], f"{p['bytes']:,}", p["sha256"][:16])
    stdout.print(table)
    if frozen.cut:
        c, v = frozen.cut, frozen.cut["valid"]
        stdout.print(f"elastic cut: {c['columns']} of {c['of']} code columns, "
                     f"{bundle.manifest['deployed_bytes']:,} bytes"
                     + (f" within {c['budget_bytes']:,}" if c.get("budget_bytes") else "")
                     + f"; valid P@10 {100 * v['P@10']:.2f}, NDCG@10 {100 * v['NDCG@10']:.2f}")
        if c.get("warning"):
            stdout.print(f"warning: {c['warning']}")
    if metrics:
        stdout.print("frozen model, " + metrics["split"] + ": " +
                     ", ".join(f"{k} {100 * metrics[k]:.2f}" for k in ("P@10", "NDCG@10", "MRR@20")))
