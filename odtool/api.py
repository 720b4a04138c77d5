"""odtool's public Python API: one function per stage of the pipeline, as the commands run them.

data (:func:`prepare`, :func:`synth`, :func:`load`) -> :func:`train` -> :func:`evaluate` ->
:func:`freeze` -> :func:`export` -> :func:`bench` -> :func:`size_check`; and the emulator
(:func:`emulator_setup`, :func:`emulator_status`). Each is a thin call into the package that
does the work; ``odtool`` (the command line, :mod:`odtool.cli`) parses options, calls one of
these and prints what it returns. Errors are :class:`toolchain.errors.OdtoolError`\\ s.

    from odtool import api

    api.synth("data/synth")
    api.train("teacher", "runs/teacher", data="data/synth")
    api.freeze(Path("runs/teacher"), Path("artifacts/teacher"))
    api.export(Path("artifacts/teacher"), ["executorch"])
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from android_harness.bench.measure import BenchOutcome
    from android_harness.provision.setup import SetupReport
    from export.pipeline import ExportResult
    from toolchain.sizes.budget import SizeCheck
    from toolchain.data.dataset import SessionDataset
    from toolchain.data.preprocess import PrepareOptions
    from toolchain.data.readers import ReadOptions
    from toolchain.data.synth import SynthConfig
    from toolchain.stages import FrozenFamily, FrozenRun, RunsEvaluation


# ------------------------------------------------------------------------------------ data
def prepare(input: str | Path, out: str | Path, *, fmt: str = "auto", prepare_opts: PrepareOptions | None = None,
            read_opts: ReadOptions | None = None, overwrite: bool = False) -> SessionDataset:
    """Read a raw session log and write the canonical dataset to ``out`` (``odtool data prepare``)."""
    from toolchain.data.pipeline import prepare_dataset

    return prepare_dataset(input, out, fmt=fmt, prepare_opts=prepare_opts, read_opts=read_opts, overwrite=overwrite)


def synth(out: str | Path | None = None, config: SynthConfig | None = None, *,
          overwrite: bool = False) -> SessionDataset:
    """Generate the synthetic dataset ``config`` in ``out`` (default: the cached default) (``odtool data synth``)."""
    from toolchain.data.pipeline import synth_dataset
    from toolchain.data.synth import SynthConfig, default_dataset_dir

    return synth_dataset(config or SynthConfig(), out or default_dataset_dir(), overwrite=overwrite)


def load(data: str | Path | None = None) -> SessionDataset:
    """A prepared dataset; ``None`` is the synthetic default, built on first use (``odtool data stats``)."""
    from toolchain.data.pipeline import load_dataset

    return load_dataset(data)


# -------------------------------------------------------------------------- train, eval
def train(kind: str, out: str | Path, **options: Any) -> dict[str, Any]:
    """Train (``resume=True``: continue) a ``kind`` run in ``out`` (``odtool train``; options: ``train_run``'s)."""
    from toolchain.training.lifecycle import train_run

    return train_run(kind, Path(out), **options)


def student_ratio(run: str | Path) -> float:
    """The Eq. (13) compression ratio of a student run (``odtool train odrec --match-student``)."""
    from toolchain.stages import student_ratio

    return student_ratio(Path(run))


def evaluate(runs: Sequence[str | Path], data: str | Path | None = None, split: str = "test",
             batch_size: int = 500, allow_incomplete: bool = False) -> RunsEvaluation:
    """Full-ranking metrics, sizes and compression ratios of runs, and the popularity floor (``odtool eval``)."""
    from toolchain.stages import evaluate_runs

    return evaluate_runs(runs, data, split=split, batch_size=batch_size, allow_incomplete=allow_incomplete)


# --------------------------------------------------------------------- freeze, export
def freeze(run: str | Path, out: str | Path, *, budget: str | int | None = None,
           budgets: Sequence[str | int] | None = None, **options: Any) -> FrozenRun | FrozenFamily:
    """Freeze a trained run into a checksummed artifact, measured before it appears (``odtool freeze``).

    ``budget`` (e.g. "300KiB"): an elastic run is cut to the largest prefix that fits, any other
    run must fit already. ``budgets``: an elastic run cut to each, written as a family directory."""
    from toolchain.sizes.units import parse_size
    from toolchain.errors import UsageError
    from toolchain.stages import freeze_family, freeze_run

    if budgets is not None:
        if budget is not None:
            raise UsageError("give either --budget or --budgets, not both")
        return freeze_family(Path(run), Path(out), [(str(b).strip(), parse_size(b)) for b in budgets], **options)
    return freeze_run(Path(run), Path(out), budget=parse_size(budget) if budget is not None else None, **options)


def profile_budget(profile: str | Path) -> int:
    """The model budget in bytes of a device profile (name or .json path); an error if it sets none."""
    from android_harness.device_profile import load_profile

    return load_profile(profile).require_model_budget()


def export(artifact: str | Path, formats: Sequence[str], out: str | Path | None = None, *,
           profile: str | Path | None = None, **options: Any) -> list[ExportResult]:
    """Export a frozen artifact in each format, each checked against eager (``odtool export``).

    ``profile``: the device profile whose model budget the exports must fit. ``artifact`` may
    then be a family (``odtool freeze --budgets``): its largest member whose exports fit is the
    one exported (a member whose exported program comes out over the budget gives way to the
    next smaller)."""
    from export.pipeline import export_artifact
    from toolchain.sizes.units import human
    from toolchain.artifact.family import is_family, read_family
    from toolchain.errors import BudgetExceededError, UsageError
    from toolchain.progress import info

    artifact = Path(artifact)
    target = Path(out) if out is not None else None
    if profile is None:
        if is_family(artifact):
            raise UsageError(f"{artifact} is a family of artifacts, one per budget: say which to export",
                             hint=f"pass --profile NAME (its model budget picks one), or export {artifact}/<budget>")
        return export_artifact(artifact, list(formats), target, **options)
    budget = profile_budget(profile)
    if not is_family(artifact):
        results = export_artifact(artifact, list(formats), target, **options)
        _require_exports_within(results, budget, profile)
        return results
    family = read_family(artifact)
    members = [m for m in family if m.deployed_bytes <= budget][::-1]
    if not members:
        smallest = family[0]
        raise UsageError(f"no artifact of the family {artifact} fits profile {profile}'s model budget of "
                         f"{human(budget)}: the smallest, {smallest.name}, takes {human(smallest.deployed_bytes)}",
                         hint="freeze the run again with a smaller budget among --budgets")
    # one file name whichever member fits: a member that comes out over is replaced by the next one
    opts = {**options, "name": options.get("name") or artifact.resolve().name}
    for i, member in enumerate(members):
        info(f"profile {profile}: model budget {human(budget)} -> {member.name} "
             f"({human(member.deployed_bytes)} of artifact parts)")
        results = export_artifact(member.path, list(formats), target or artifact / "export",
                                  **{**opts, "overwrite": opts.get("overwrite", False) or i > 0})
        try:
            _require_exports_within(results, budget, profile)
            return results
        except BudgetExceededError as e:
            if i + 1 == len(members):
                raise
            info(f"  {e.message}; trying the next smaller member")
    raise AssertionError("unreachable")


def _require_exports_within(results: list[ExportResult], budget: int, profile: str | Path) -> None:
    from toolchain.sizes.units import human
    from toolchain.errors import BudgetExceededError

    over = [r for r in results if r.bytes > budget]
    if over:
        raise BudgetExceededError(", ".join(f"{Path(r.path).name} is {human(r.bytes)}" for r in over)
                                  + f", over profile {profile}'s model budget of {human(budget)}",
                                  hint="export a smaller artifact (an elastic run: freeze it with a smaller --budget)")


# ------------------------------------------------------------------- bench, size gate
def bench(*, presets: Sequence[str] = (), artifacts: Sequence[str | Path] = (), out: str | Path = "bench-out",
          overwrite: bool = False, command: str | None = None, **plan: Any) -> BenchOutcome:
    """Time every model on a device, in the paper's Table 5 layout, and write the report to ``out`` (``odtool bench``).

    ``plan``: the other fields of :class:`android_harness.bench.plan.BenchPlan` (device,
    profile, models, formats, sessions, ...); ``command`` (default: this process's command
    line) is recorded in the report."""
    from android_harness.bench.measure import bench as run_bench
    from android_harness.bench.plan import BenchPlan, rows_for

    rows = rows_for(list(presets), [Path(a) for a in artifacts])
    command = command or "odtool " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return run_bench(BenchPlan(rows=rows, out=Path(out), **plan), command=command, overwrite=overwrite)


def size_check(paths: Sequence[str | Path], budget: str | int | None = None,
               pyproject: str | Path | None = None, profile: str | Path | None = None) -> list[SizeCheck]:
    """Each path verified and measured against ``budget``, or a device ``profile``'s model
    budget, else pyproject.toml's budgets (``odtool size-check``)."""
    from toolchain.sizes.budget import check_sizes
    from toolchain.sizes.units import parse_size
    from toolchain.errors import UsageError

    if profile is not None:
        if budget is not None:
            raise UsageError("give either --budget or --profile, not both")
        return check_sizes([Path(p) for p in paths], profile_budget(profile), source=f"profile {profile}")
    return check_sizes([Path(p) for p in paths], parse_size(budget) if budget else None,
                       Path(pyproject) if pyproject is not None else None)


def require_within_budget(checks: list[SizeCheck]) -> None:
    """The size gate on :func:`size_check`'s result: BudgetExceededError when a path is over its budget."""
    from toolchain.sizes.budget import require_within_budget

    require_within_budget(checks)


# ---------------------------------------------------------------------------- emulator
def emulator_setup(cache: str | Path | None = None, **options: Any) -> SetupReport:
    """Provision the Pixel 2 emulator into its cache; a second run only verifies (``odtool emulator setup``)."""
    from android_harness.provision.setup import setup

    return setup(Path(cache) if cache is not None else None, **options)


def emulator_status(cache: str | Path | None = None, profile: str = "pixel2") -> tuple[Any, list[Any], bool]:
    """(layout, rows, ready) of the emulator cache, reading only (``odtool emulator status``)."""
    from android_harness.provision.status import ready, status

    layout, rows = status(Path(cache) if cache is not None else None, profile)
    return layout, rows, ready(rows)
