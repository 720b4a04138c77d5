"""``odtool eval``: full-ranking metrics, sizes and compression ratios of trained runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer
from rich.table import Table

from odtool import api
from odtool.cli.common import print_json, stdout

if TYPE_CHECKING:
    from toolchain.stages import RunsEvaluation

REPORTED = ("P@5", "P@10", "P@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@20")


def metrics_table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    """One row per model, the reported metrics in %."""
    table = Table(title=title, title_justify="left")
    table.add_column("model", style="bold")
    for m in REPORTED:
        table.add_column(m, justify="right")
    for name, metrics in rows.items():
        table.add_row(name, *(f"{100 * metrics[m]:.2f}" for m in REPORTED))
    return table


def size_table(sizes: dict[str, dict[str, Any]]) -> Table:
    """Deployed bytes and compression ratios, one row per run."""
    table = Table(title="deployed bytes: the frozen artifact's parts (codes / codebooks / TT cores / rows, the "
                        "encoder in its storage dtype; vocabulary not counted)", title_justify="left")
    for col in ("model", "kind", "bytes", "table bytes", "teacher bytes", "table ratio", "byte ratio"):
        table.add_column(col, justify="left" if col in ("model", "kind") else "right")
    for name, s in sizes.items():
        table.add_row(name, s["kind"], f"{s['model_bytes']:,}", f"{s['table_bytes']:,}", f"{s['teacher_bytes']:,}",
                      f"{s['table_ratio']:.1f}", f"{s['byte_ratio']:.1f}")
    return table


def show_evaluation(result: RunsEvaluation, as_json: bool = False) -> None:
    """What ``odtool eval`` prints: the metrics table and the size table (or JSON)."""
    if as_json:
        print_json(result.to_dict())
        return
    stdout.print(metrics_table(f"{result.split} split, {result.sequences:,} sequences, metrics in %", result.metrics))
    if result.runs:
        stdout.print(size_table(result.runs))


def eval_command(
    runs: List[str] = typer.Argument(..., help="Run directories, or 'popularity' for the floor alone."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset (default: the one the first run "
                                        "was trained on, else the synthetic default)."),
    split: str = typer.Option("test", help="Split to evaluate: test or valid."),
    batch_size: int = typer.Option(500, help="Sessions scored at once."),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete",
                                          help="Evaluate runs that never finished training (best epoch so far)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Evaluate with full ranking: P@K (hit ratio), NDCG@K for K in 5, 10, 20, and MRR@20.

    For each run: its deployed size in bytes and its compression ratio against the teacher,
    both as the paper's table ratio (Eq. 13 for codes: |V| N / (M K N + M |V|); tensor trains:
    |V| N / core entries) and as the real byte ratio of the whole model. Runs without a teacher
    are compared with a SASRec teacher of their N. The popularity recommender is always
    reported alongside, as the floor to beat.

    Examples:

      odtool eval popularity --data data/diginetica

      odtool eval runs/teacher runs/student runs/odrec --data data/diginetica

      odtool eval runs/student --json
    """
    show_evaluation(api.evaluate(runs, data, split=split, batch_size=batch_size, allow_incomplete=allow_incomplete),
                    as_json)
