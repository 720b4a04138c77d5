"""The run directory: everything one ``odtool train`` writes, in one documented layout.

::

    RUN/
      config.json          what was trained: kind, model / item-table / train / distill configs,
                           the teacher run, the dataset (path, sha256, |V|); schema + version
      checkpoints/
        epoch-0003.safetensors   every tensor of the training task after epoch 3 (for a
                                 student: "student.*", "teacher.*", "proj_t.*", "proj_s.*")
        epoch-0003.state.pt      optimizer, RNG streams, early-stopping counters (plain tensors,
                                 read with torch.load(weights_only=True))
        latest.json              the last complete checkpoint: epoch, file names, sha256 of both
      model.safetensors    the deployable model's weights at the best validation epoch
      teacher.safetensors  (bidirectional students) the co-trained teacher at that epoch
      best.json            best epoch and its validation metrics
      metrics.jsonl        one line per epoch: phase, mean train loss terms, validation metrics,
                           epoch and evaluation seconds; a last line with the test metrics
      summary.json         written when training ends: best epoch, valid / test metrics, timing

Write order within an epoch: best model (if improved) -> metrics line -> checkpoint files ->
``latest.json``. Each write is atomic, and ``latest.json`` is only replaced once its files
are complete, so a run killed at any moment resumes from the last finished epoch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolchain.atomic import atomic_write_json, atomic_write_text
from toolchain.checksum import sha256_file
from toolchain.errors import CheckpointError
from toolchain.versioned import stamped, version_problem

SCHEMA = "odtool.run"
VERSION = 1


class RunDir:
    """Paths into one run directory; reads and writes its config, checkpoints and metrics."""
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.checkpoints = self.root / "checkpoints"
        self.latest = self.checkpoints / "latest.json"
        self.model = self.root / "model.safetensors"
        self.teacher = self.root / "teacher.safetensors"
        self.best = self.root / "best.json"
        self.metrics = self.root / "metrics.jsonl"
        self.summary = self.root / "summary.json"

    # ------------------------------------------------------------------ config
    def write_config(self, spec: dict[str, Any]) -> None:
        atomic_write_json(self.config, stamped(SCHEMA, VERSION, spec))

    def read_config(self) -> dict[str, Any]:
        if not self.config.is_file():
            raise CheckpointError(f"{self.root} is not an odtool run (no config.json)",
                                  hint="train one with `odtool train teacher --data DIR --out RUN`")
        try:
            data = json.loads(self.config.read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{self.config}: invalid JSON ({e})") from e
        problem = version_problem(data, SCHEMA, "run", VERSION)
        if problem:
            raise CheckpointError(f"{self.config}: {problem}", hint="upgrade odtool")
        return {k: v for k, v in data.items() if k not in ("schema", "version")}

    # ------------------------------------------------------------------ lifecycle
    @property
    def finished(self) -> bool:
        """Training ran to its end (``summary.json`` is written last)."""
        return self.summary.is_file()

    def progress(self) -> str:
        """How far an unfinished run got, in words: "2 of 4 epochs"."""
        done = 0
        if self.latest.is_file():
            try:
                done = int(json.loads(self.latest.read_text())["epoch"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                done = 0
        try:
            planned = self.read_config().get("train", {}).get("epochs")
        except CheckpointError:
            planned = None
        return f"{done} of {planned} epochs" if planned else f"{done} epochs"

    def require_finished(self, allow_incomplete: bool = False, *, role: str = "run") -> None:
        """Refuse a run that never finished training unless ``allow_incomplete``."""
        if self.finished or allow_incomplete:
            return
        kind = self.read_config().get("kind", "KIND")
        raise CheckpointError(
            f"{role} {self.root} did not finish training: it stopped after {self.progress()}",
            hint=f"finish it with `odtool train {kind} --out {self.root} --resume`, or pass "
                 "--allow-incomplete to use its best epoch so far")

    def latest_checkpoint_exists(self) -> bool:
        """Whether at least one epoch was committed (the run can be resumed)."""
        return self.latest.is_file()

    def discard(self) -> None:
        """Remove what a run that never completed an epoch wrote (only the files of this layout),
        and the directory itself if nothing else is left in it."""
        for f in (self.config, self.latest, self.model, self.teacher, self.best, self.metrics, self.summary):
            f.unlink(missing_ok=True)
        if self.checkpoints.is_dir():
            for f in self.checkpoints.iterdir():
                if f.name.startswith(("epoch-", ".tmp-")):
                    f.unlink(missing_ok=True)
            if not any(self.checkpoints.iterdir()):
                self.checkpoints.rmdir()
        if self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_files(self, epoch: int) -> tuple[Path, Path]:
        stem = self.checkpoints / f"epoch-{epoch:04d}"
        return stem.with_suffix(".safetensors"), stem.with_suffix(".state.pt")

    def commit_checkpoint(self, epoch: int, keep: int) -> None:
        """Point ``latest.json`` at epoch ``epoch``'s (complete) files; prune older ones."""
        weights, state = self.checkpoint_files(epoch)
        atomic_write_json(self.latest, {
            "epoch": epoch, "weights": weights.name, "state": state.name,
            "sha256": {weights.name: sha256_file(weights), state.name: sha256_file(state)},
        })
        for old in range(1, epoch - keep + 1):
            for f in self.checkpoint_files(old):
                f.unlink(missing_ok=True)

    def latest_checkpoint(self) -> tuple[int, Path, Path] | None:
        """(epoch, weights, state) of the last complete checkpoint, verified; None if none yet."""
        if not self.latest.is_file():
            return None
        try:
            info = json.loads(self.latest.read_text())
            epoch, names, sums = int(info["epoch"]), (info["weights"], info["state"]), info["sha256"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{self.latest}: unreadable ({e})",
                                  hint="delete it to restart the run from scratch") from e
        paths = tuple(self.checkpoints / n for n in names)
        for p in paths:
            if not p.is_file():
                raise CheckpointError(f"{p}: missing (named by {self.latest})")
            if sha256_file(p) != sums.get(p.name):
                raise CheckpointError(f"{p}: checksum mismatch, the file is corrupted or truncated",
                                      hint="restore it, or delete checkpoints/ to train from scratch")
        return epoch, paths[0], paths[1]

    # ------------------------------------------------------------------ metrics
    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics, "a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete record (a line cut short by a kill mid-append is skipped)."""
        if not self.metrics.is_file():
            return []
        records = []
        for line in self.metrics.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_metrics(self, last_epoch: int) -> None:
        """Keep the epoch records up to ``last_epoch`` (what a resumed run will not redo)."""
        keep = [r for r in self.read_metrics() if r.get("epoch", 0) <= last_epoch and "test" not in r]
        atomic_write_text(self.metrics, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))
