"""``odtool eval``: full-ranking metrics of a trained run or a reference recommender."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from toolchain.cli.common import not_built, print_json, stdout
from toolchain.data.pipeline import load_dataset
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.popularity import PopularityRecommender

REPORTED = ("P@5", "P@10", "P@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@20")


def metrics_table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("model", style="bold")
    for m in REPORTED:
        table.add_column(m, justify="right")
    for name, metrics in rows.items():
        table.add_row(name, *(f"{100 * metrics[m]:.2f}" for m in REPORTED))
    return table


def eval_command(
    run: str = typer.Argument(..., help="A run directory, or 'popularity' for the reference floor."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset (default: synthetic)."),
    split: str = typer.Option("test", help="Split to evaluate: test or valid."),
    batch_size: int = typer.Option(500, help="Sessions scored at once."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Evaluate with full ranking: P@K (hit ratio), NDCG@K, MRR@K for K in 5, 10, 20.

    The popularity recommender is always reported alongside, as the floor to beat.

    Examples:

      odtool eval popularity --data data/diginetica

      odtool eval runs/student --data data/diginetica --json
    """
    ds = load_dataset(data)
    target = ds.split(split)
    rows = {"popularity": evaluate(PopularityRecommender.fit(ds), target, batch_size=batch_size)}
    if run != "popularity":
        not_built("eval RUN", 3, "models and training")
    if as_json:
        print_json({"split": split, "sequences": len(target), "metrics": rows})
    else:
        stdout.print(metrics_table(f"{split} split, {len(target):,} sequences, metrics in %", rows))
