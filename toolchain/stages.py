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
from toolchain.artifact.quantize import FloatStorage, PAPER_CODEBOOK_STORAGES
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
    from toolchain.sizes.report import size_report

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
    cut: dict[str, Any] | None = None  # an elastic run's cut: {"columns", "of", "budget_bytes", "valid"}


@dataclass
class FrozenFamily:
    """The artifacts ``odtool freeze --budgets`` wrote from one run: one per budget."""

    path: Path
    members: list[FrozenRun]


def freeze_run(run: Path, out: Path, *, data: Path | None = None, packed: bool = False,
               codebook_dtype: FloatStorage = FloatStorage.fp32, encoder_dtype: FloatStorage | None = None,
               eval_split: str = "test", overwrite: bool = False, allow_incomplete: bool = False,
               budget: int | None = None) -> FrozenRun:
    """Freeze a trained run into ``out``: staged, loaded back and measured on ``eval_split``
    (test, valid or none) before it appears, the metrics written into its manifest.

    With ``budget`` (bytes) an elastic run is cut to the largest prefix that fits (its
    validation metrics measured and recorded); any other run must already fit."""
    from toolchain.atomic import atomic_dir
    from toolchain.outputs import writing

    source = _FreezeSource.load(run, data, packed, codebook_dtype, encoder_dtype, eval_split, allow_incomplete)
    with writing(out, "artifact", overwrite=overwrite, inputs=[run, data]), atomic_dir(out) as staged:
        # the artifact is complete (frozen, loaded back, measured) before it appears under out
        metrics, cut = source.freeze_into(staged, budget)
    return FrozenRun(out, source.spec.kind, Bundle.load(out), metrics, cut)


def freeze_family(run: Path, out: Path, budgets: Sequence[tuple[str, int]], *, data: Path | None = None,
                  packed: bool = False, codebook_dtype: FloatStorage = FloatStorage.fp32,
                  encoder_dtype: FloatStorage | None = None, eval_split: str = "test", overwrite: bool = False,
                  allow_incomplete: bool = False) -> FrozenFamily:
    """One elastic run cut to each of ``budgets`` ((label, bytes), e.g. ("300KiB", 307200)): a
    directory ``out`` with one normal artifact per budget (``out/LABEL``) and ``family.json``
    listing them, written whole (staged, then renamed)."""
    from toolchain.artifact.family import FAMILY_FILE, write_family
    from toolchain.atomic import atomic_dir
    from toolchain.outputs import writing

    if not budgets:
        raise UsageError("--budgets needs at least one budget, e.g. --budgets 300KiB,1MiB")
    labels = [label for label, _ in budgets]
    if len(set(labels)) != len(labels):
        raise UsageError(f"--budgets names a budget twice: {', '.join(labels)}")
    source = _FreezeSource.load(run, data, packed, codebook_dtype, encoder_dtype, eval_split, allow_incomplete)
    if not source.elastic:
        raise UsageError(f"{run} is not an elastic run: it freezes to one size only",
                         hint="train one with odtool train student --elastic, or freeze without --budgets")
    members: list[dict[str, Any]] = []
    with writing(out, "family", overwrite=overwrite, inputs=[run, data]), atomic_dir(out) as staged:
        for label, budget in sorted(budgets, key=lambda b: b[1]):
            metrics, cut = source.freeze_into(staged / label, budget)
            bundle = Bundle.load(staged / label)
            members.append({"name": label, "budget_bytes": budget, "deployed_bytes": bundle.manifest["deployed_bytes"],
                            "cut": cut, "metrics": metrics})
        write_family(staged, {"run": str(run.resolve()), "members": members})
    info(f"wrote {len(members)} artifacts and {FAMILY_FILE} to {out}")
    return FrozenFamily(out, [FrozenRun(out / m["name"], source.spec.kind, Bundle.load(out / m["name"]), m["metrics"],
                                        m["cut"]) for m in members])


@dataclass
class _FreezeSource:
    """A trained run, loaded once, that :meth:`freeze_into` writes out (whole, or cut to budgets)."""

    run: Path
    spec: Any
    model: Any
    ds: Any
    options: Any
    eval_split: str

    @classmethod
    def load(cls, run: Path, data: Path | None, packed: bool, codebook_dtype: FloatStorage,
             encoder_dtype: FloatStorage | None, eval_split: str, allow_incomplete: bool) -> _FreezeSource:
        from toolchain.artifact.freeze import FreezeOptions
        from toolchain.training.build import dataset_for_run, load_trained, require_same_dataset
        from toolchain.training.run_dir import RunDir

        if eval_split not in (*SPLITS, "none"):
            raise UsageError(f"--eval-split {eval_split!r}: choose test, valid or none")
        if FloatStorage(codebook_dtype) not in PAPER_CODEBOOK_STORAGES:
            raise UsageError(f"--codebook-dtype {FloatStorage(codebook_dtype).value}: freeze stores the paper's "
                             f"codebooks as {', '.join(s.value for s in PAPER_CODEBOOK_STORAGES)}",
                             hint="use fp16 or int8 here; a deployable student's codebooks are int4 when it "
                                  "trains so (odtool train student --codebook-dtype int4), and --encoder-dtype int4 "
                                  "stores the encoder's matrices so")
        spec, model = load_trained(run, allow_incomplete=allow_incomplete)
        ds = dataset_for_run(spec, data)
        require_same_dataset(RunDir(run), spec.data, ds)
        encoder = encoder_dtype or FloatStorage(spec.deploy.get("encoder_storage", "fp32"))
        return cls(run, spec, model, ds, FreezeOptions(packed, codebook_dtype, encoder), eval_split)

    @property
    def elastic(self) -> bool:
        from toolchain.artifact.elastic import is_elastic

        return is_elastic(self.model)

    def freeze_into(self, staged: Path, budget: int | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Freeze (an elastic run: the largest cut within ``budget``, the whole table without one)
        into ``staged``; returns (metrics on the split asked for, the cut or None)."""
        import dataclasses

        from toolchain.sizes.units import human
        from toolchain.artifact.elastic import choose_cut, cut_model
        from toolchain.artifact.freeze import deployed_bytes, freeze_model
        from toolchain.artifact.load import load_artifact

        model, spec, cut = self.model, self.spec, None
        if self.elastic:
            chosen = choose_cut(model, budget if budget is not None else 1 << 62, self.options)
            model = cut_model(model, chosen.columns)
            spec = dataclasses.replace(spec, item_table=model.items.config,
                                       deploy={**spec.deploy, "budget_bytes": budget})
            info(f"cut: {chosen.columns} of {chosen.of} code columns, {chosen.bytes:,} bytes ({human(chosen.bytes)})"
                 + (f" within {budget:,}" if budget is not None else "") + "; measuring it on the valid split")
            valid = evaluate(model, self.ds.valid, description=f"validating the {chosen.columns}-column cut")
            cut = {"columns": chosen.columns, "of": chosen.of, "budget_bytes": budget, "valid": valid}
            warning = self._empty_subspaces(chosen.columns, valid)
            if warning:
                cut["warning"] = warning
        elif budget is not None:
            got = deployed_bytes(model, self.options)["total"]
            if got > budget:
                raise UsageError(f"{self.run} freezes to {got:,} bytes ({human(got)}), over the budget of "
                                 f"{budget:,} ({human(budget)}); it is not an elastic run, so it cannot be cut",
                                 hint="train it with --budget, or an elastic run (--elastic) to cut at freeze time")
        freeze_model(model, spec, self.ds.vocab, staged, self.options, cut=cut,
                     source={"run": str(self.run.resolve()), "dataset_sha256": self.ds.manifest.get("arrays_sha256")})
        metrics: dict[str, Any] = {}
        if self.eval_split != "none":
            _, _, frozen = load_artifact(staged)
            info(f"measuring the frozen model on the {self.eval_split} split")
            metrics = {"split": self.eval_split, **evaluate(frozen, self.ds.split(self.eval_split))}
            manifest = json.loads((staged / "manifest.json").read_text())
            write_manifest(staged, {**manifest, "metrics": metrics})
        return metrics, cut


    def _empty_subspaces(self, columns: int, valid: dict[str, Any]) -> str | None:
        """A warning when a cut is shorter than the table's first stage (its S subspaces, or its
        ``lead`` columns), so it codes only part of each item vector (on Diginetica the
        one-column cut of S = 4 keeps ~11% of the whole table's P@10), naming the bytes of the
        smallest cut that codes every subspace."""
        from toolchain.artifact.elastic import cut_bytes
        from toolchain.sizes.units import human

        items = self.model.items
        first = min(int(getattr(items, "lead", 1)), items.m)  # columns of the first stage
        if columns >= first:
            return None
        s, span = int(items.subspaces), int(getattr(items, "span", 1))
        need = cut_bytes(self.model, first, self.options)
        return (f"this {columns}-column cut leaves {s - columns * span} of the table's {s} subspaces without a "
                f"code (valid P@10 {100 * valid['P@10']:.2f}); the smallest cut that codes every subspace "
                f"({first} columns) needs a budget of {need:,} bytes ({human(need)})")


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
