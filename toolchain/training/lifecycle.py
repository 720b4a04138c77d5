"""The run lifecycle: create or resume a run directory and train it.

:func:`train_run` is what ``odtool train`` calls (and the demo, the tests, the benchmarks).
It locks the run directory for the whole training and claims it under the output rule
(:mod:`toolchain.outputs`): a new run needs a new or empty directory, an existing run is
continued with ``resume`` or replaced with ``overwrite``. A teacher must have finished and
have trained on the same dataset; a new run that fails before its first checkpoint leaves
nothing behind, so a plain retry works.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from toolchain.data.pipeline import load_dataset
from toolchain.errors import UsageError
from toolchain.models.build import build_model
from toolchain.outputs import claim, lock
from toolchain.progress import info
from toolchain.training.build import (
    Deploy,
    build_task,
    check_teacher,
    new_spec,
    require_same_dataset,
)
from toolchain.training.run_dir import RunDir
from toolchain.training.spec import RunSpec, read_config_file
from toolchain.training.trainer import Trainer

#: settings that may change when a run is resumed
RUNTIME = {"threads", "device", "max_minutes"}  # may change on --resume (not the model)


def train_run(kind: str, out: Path, *, data: Path | None = None, flags: dict[str, dict[str, Any]] | None = None,
              preset: str = "tmall", config: Path | None = None, teacher: Path | None = None,
              target_ratio: float | None = None, resume: bool = False, overwrite: bool = False,
              deploy: Deploy = Deploy(), allow_incomplete: bool = False) -> dict[str, Any]:
    """Create (or resume) the run in ``out`` and train it; returns the summary.

    The run directory is locked for the whole training (:mod:`toolchain.outputs`). A new run
    that fails before its first checkpoint leaves nothing behind, so a plain retry works.
    Students train with ``deploy.recipe`` (default: deployable)."""
    with lock(out):
        return _train_locked(kind, RunDir(out), data, flags or {}, preset, config, teacher, target_ratio,
                             resume, overwrite, deploy, allow_incomplete)


def _train_locked(kind, run, data, flags, preset, config, teacher, target_ratio, resume, overwrite, deploy,
                  allow_incomplete) -> dict[str, Any]:
    if resume:
        changed = {k for sec in flags.values() for k in sec} - RUNTIME
        sized = deploy.budget is not None or deploy.ratio is not None or deploy.encoder_storage is not None
        if changed or config or teacher or target_ratio is not None or sized:
            raise UsageError(f"--resume continues with the settings in {run.config}; drop "
                             f"{', '.join(sorted(changed)) or 'the config / teacher options'}",
                             hint="or start a new run with another --out")
        if overwrite:
            raise UsageError("--resume continues the run in --out, --overwrite replaces it: choose one")
        spec = RunSpec.from_dict(run.read_config(), source=str(run.config))
        if spec.kind != kind:
            raise UsageError(f"{run.root} is a {spec.kind} run: use `odtool train {spec.kind} --resume`")
        spec.train = spec.train.replace(**flags.get("train", {}))
        ds = load_dataset(data or spec.data.get("path"))
        require_same_dataset(run, spec.data, ds)
        return _fit(kind, run, spec, ds, resume=True)
    # a run that never committed an epoch (and nobody is writing: we hold its lock) is abandoned
    abandoned = run.config.is_file() and not run.latest_checkpoint_exists() and not run.model.is_file()
    try:
        existing = claim(run.root, "run", overwrite=overwrite or abandoned, inputs=[data, teacher, config])
    except UsageError:
        if run.config.is_file() and not overwrite:
            raise UsageError(f"{run.root} already holds a run",
                             hint="--resume continues it, --overwrite starts it again") from None
        raise
    if data is None and teacher is not None:  # a student trains on its teacher's dataset
        data = RunDir(teacher).read_config().get("data", {}).get("path")
    ds = load_dataset(data)
    if teacher is not None:
        check_teacher(teacher, ds, allow_incomplete)
    spec = new_spec(kind, ds, data, preset=preset, file=read_config_file(config) if config else None,
                    flags=flags, teacher_run=teacher, target_ratio=target_ratio, deploy=deploy)
    if existing:
        shutil.rmtree(run.root)  # claim() checked that it is an odtool run
    run.root.mkdir(parents=True, exist_ok=True)
    run.write_config(spec.to_dict())
    try:
        return _fit(kind, run, spec, ds, resume=False)
    except BaseException:
        if run.latest_checkpoint_exists():
            raise  # resumable: keep it
        run.discard()
        raise


def _fit(kind: str, run: RunDir, spec: RunSpec, ds, resume: bool) -> dict[str, Any]:
    device = device_for(spec.train.device)
    if spec.train.threads:
        torch.set_num_threads(spec.train.threads)
    info(f"training {kind} on {ds.n_items:,} items, {len(ds.train):,} sequences -> {run.root} ({device})")
    task = build_task(spec, ds)
    trainer = Trainer(task, spec, ds, run, device, lambda: build_model(spec.model_spec, ds.n_items))
    return trainer.fit(resume=resume)


def device_for(name: str) -> torch.device:
    """The torch device of a run's ``train.device`` (cuda only where available)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available", hint="use --device auto or cpu")
    return torch.device("cuda" if name != "cpu" and torch.cuda.is_available() else "cpu")
