"""The pipeline's stages that start from trained runs: evaluate runs, freeze a run.

Each joins several rooms (training's runs, the artifact's freezing and loading, evaluation),
so it sits above them, inside ``toolchain``. ``odtool eval`` and ``odtool freeze`` call them
through :mod:`odtool.api`, and print what they return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from toolchain.artifact.bundle import Bundle, write_manifest
from toolchain.artifact.quantize import FloatStorage
from toolchain.data.pipeline import load_dataset
from toolchain.errors import UsageError
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.popularity import PopularityRecommender
from toolchain.progress import info

SPLITS = ("test", "valid")


@dataclass
class RunsEvaluation:
    """What ``odtool eval`` reports: metrics per model (the popularity floor first), sizes per run."""

    split: str
    sequences: int
    metrics: dict[str, dict[str, float]]
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {"split": self.split, "sequences": self.sequences, "metrics": self.metrics, "runs": self.runs}


def _run_name(path: str, taken: dict) -> str:
    name = Path(path).name or path
    return name if name not in taken else path


def evaluate_runs(runs: Sequence[str | Path], data: str | Path | None = None, split: str = "test",
                  batch_size: int = 500, allow_incomplete: bool = False) -> RunsEvaluation:
    """Full-ranking metrics of each run (``"popularity"`` alone: the floor), with its deployed size
    and compression ratios; ``data`` defaults to the first run's dataset, else the synthetic default."""
    from toolchain.training.build import load_trained, reference_teacher
    from toolchain.training.run_dir import RunDir
    from toolchain.training.sizes import size_report

    paths = [str(r) for r in runs if str(r) != "popularity"]
    if data is None and paths:
        data = RunDir(paths[0]).read_config().get("data", {}).get("path")
        if data:
            info(f"evaluating on {data} (the dataset {paths[0]} was trained on)")
    if split not in SPLITS:
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
    return RunsEvaluation(split, len(target), rows, details)


@dataclass
class FrozenRun:
    """A frozen artifact as ``odtool freeze`` reports it."""

    path: Path
    kind: str
    bundle: Bundle
    metrics: dict[str, Any]  # {"split", "P@10", ...} of the frozen model; {} when not measured


def freeze_run(run: Path, out: Path, *, data: Path | None = None, packed: bool = False,
               codebook_dtype: FloatStorage = FloatStorage.fp32, encoder_dtype: FloatStorage | None = None,
               eval_split: str = "test", overwrite: bool = False, allow_incomplete: bool = False) -> FrozenRun:
    """Freeze a trained run into ``out``: staged, loaded back and measured on ``eval_split``
    (test, valid or none) before it appears, the metrics written into its manifest."""
    from toolchain.artifact.freeze import FreezeOptions, dataset_for_run, freeze_model
    from toolchain.artifact.load import load_artifact
    from toolchain.atomic import atomic_dir
    from toolchain.outputs import writing
    from toolchain.training.build import load_trained, require_same_dataset
    from toolchain.training.run_dir import RunDir

    if eval_split not in (*SPLITS, "none"):
        raise UsageError(f"--eval-split {eval_split!r}: choose test, valid or none")
    spec, model = load_trained(run, allow_incomplete=allow_incomplete)
    ds = dataset_for_run(spec, data)
    require_same_dataset(RunDir(run), spec.data, ds)
    encoder = encoder_dtype or FloatStorage(spec.deploy.get("encoder_storage", "fp32"))
    metrics: dict[str, Any] = {}
    with writing(out, "artifact", overwrite=overwrite, inputs=[run, data]), atomic_dir(out) as staged:
        # the artifact is complete (frozen, loaded back, measured) before it appears under out
        freeze_model(model, spec, ds.vocab, staged, FreezeOptions(packed, codebook_dtype, encoder),
                     source={"run": str(run.resolve()), "dataset_sha256": ds.manifest.get("arrays_sha256")})
        if eval_split != "none":
            _, _, frozen = load_artifact(staged)
            info(f"measuring the frozen model on the {eval_split} split")
            metrics = {"split": eval_split, **evaluate(frozen, ds.split(eval_split))}
            manifest = json.loads((staged / "manifest.json").read_text())
            write_manifest(staged, {**manifest, "metrics": metrics})
    return FrozenRun(out, spec.kind, Bundle.load(out), metrics)


def student_ratio(run: Path) -> float:
    """The Eq. (13) compression ratio of a student run's item table (``--match-student``)."""
    from toolchain.compression.item_table import ITEM_TABLES
    from toolchain.training.run_dir import RunDir
    from toolchain.training.spec import RunSpec

    spec = RunSpec.from_dict(RunDir(run).read_config(), source=str(run))
    if spec.kind != "student":
        raise UsageError(f"{run} is a {spec.kind} run, not a student run")
    table = ITEM_TABLES.get(spec.table_kind)(spec.data["n_items"], spec.model.dim, spec.item_table)
    return table.compression_ratio()
