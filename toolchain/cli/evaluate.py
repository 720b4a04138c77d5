"""``odtool eval``: full-ranking metrics, sizes and compression ratios of trained runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from toolchain.cli.common import print_json, stdout
from toolchain.data.pipeline import load_dataset
from toolchain.errors import UsageError
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.popularity import PopularityRecommender
from toolchain.progress import info

REPORTED = ("P@5", "P@10", "P@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@20")


def metrics_table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("model", style="bold")
    for m in REPORTED:
        table.add_column(m, justify="right")
    for name, metrics in rows.items():
        table.add_row(name, *(f"{100 * metrics[m]:.2f}" for m in REPORTED))
    return table


def size_table(sizes: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="deployed bytes: the frozen artifact's parts (codes / codebooks / TT cores / rows, the "
                        "encoder in its storage dtype; vocabulary not counted)", title_justify="left")
    for col in ("model", "kind", "bytes", "table bytes", "teacher bytes", "table ratio", "byte ratio"):
        table.add_column(col, justify="left" if col in ("model", "kind") else "right")
    for name, s in sizes.items():
        table.add_row(name, s["kind"], f"{s['model_bytes']:,}", f"{s['table_bytes']:,}", f"{s['teacher_bytes']:,}",
                      f"{s['table_ratio']:.1f}", f"{s['byte_ratio']:.1f}")
    return table


def _run_name(path: str, taken: dict) -> str:
    name = Path(path).name or path
    return name if name not in taken else path


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
    from toolchain.training.build import load_trained, reference_teacher
    from toolchain.training.run_dir import RunDir
    from toolchain.training.sizes import size_report

    paths = [r for r in runs if r != "popularity"]
    if data is None and paths:
        data = RunDir(paths[0]).read_config().get("data", {}).get("path")
        if data:
            info(f"evaluating on {data} (the dataset {paths[0]} was trained on)")
    if split not in ("test", "valid"):
        raise UsageError(f"--split {split!r}: choose test or valid")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    ds = load_dataset(data)
    target = ds.split(split)
    rows = {"popularity": evaluate(PopularityRecommender.fit(ds), target, batch_size=batch_size)}
    details: dict[str, dict[str, Any]] = {}
    for path in paths:
        spec, model = load_trained(path, dataset=ds, allow_incomplete=allow_incomplete)
        name = _run_name(path, rows)
        rows[name] = evaluate(model, target, batch_size=batch_size, max_len=spec.train.max_len,
                              description=f"evaluating {name}")
        size = size_report(model, reference_teacher(spec, ds.n_items), spec.deploy.get("encoder_storage", "fp32"))
        details[name] = {"path": str(path), "kind": spec.kind, "item_table": spec.table_kind, **size}
    if as_json:
        print_json({"split": split, "sequences": len(target), "metrics": rows, "runs": details})
        return
    stdout.print(metrics_table(f"{split} split, {len(target):,} sequences, metrics in %", rows))
    if details:
        stdout.print(size_table(details))
