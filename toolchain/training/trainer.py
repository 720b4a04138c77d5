"""The one training loop: teacher, students, OD-Rec and the baselines all go through it.

Per epoch: shuffled mini-batches (the order of epoch e depends only on (seed, e)), Adam with
L2 weight decay, a rich progress bar with the running loss; then validation (the deployed
form of the model, in eval mode, a student's encoder rounded as freeze will store it), early
stopping on the monitored metric (NDCG@10 by default; only in the last phase, so a student
always finishes its pretraining), the best weights, a metrics line and a checkpoint. At the end the best weights are reloaded into a
fresh inference model, exactly as ``odtool eval`` loads them, and scored on the test split.

Batches are trimmed to their longest session: every model masks padding, so the result is
the same as at the full max_len, only faster. (Exported models keep a fixed L.)
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from typing import Any, Callable

import numpy as np
import torch

from toolchain.atomic import atomic_write_json
from toolchain.artifact.elastic import cut_model
from toolchain.artifact.freeze import encoder_as_stored
from toolchain.data.batching import pad_batch
from toolchain.data.dataset import SessionDataset
from toolchain.errors import CheckpointError, OdtoolError, UsageError
from toolchain.evaluation.evaluate import evaluate
from toolchain.models.base import SessionRecommender
from toolchain.models.cut_encoders import has_cut_encoders
from toolchain.progress import Task as Bar
from toolchain.progress import info, progress
from toolchain.training import rng
from toolchain.training.checkpoint import load_state, load_weights, save_state, save_weights
from toolchain.training.run_dir import RunDir
from toolchain.training.spec import RunSpec
from toolchain.training.tasks import Task

STATE_VERSION = 1


class TrainingDivergedError(OdtoolError):
    """The loss became NaN or infinite."""


class Trainer:
    """Train a task by epochs: Adam, validation, early stopping and checkpoints in a RunDir."""
    def __init__(self, task: Task, spec: RunSpec, ds: SessionDataset, run: RunDir, device: torch.device,
                 inference_model: Callable[[], SessionRecommender]) -> None:
        if len(ds.valid) == 0:
            raise UsageError("the dataset has no validation split, which early stopping needs",
                             hint="prepare it again with --valid-fraction 0.1")
        self.task, self.spec, self.ds, self.run, self.device = task, spec, ds, run, device
        self.cfg = spec.train
        self.inference_model = inference_model
        task.module.to(device)
        self.optimizer = torch.optim.Adam(task.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.l2)
        self.schedule = [name for name, n in task.phases for _ in range(n)]
        self.best, self.best_epoch, self.bad_epochs = -math.inf, 0, 0

    # ------------------------------------------------------------------ driver
    def fit(self, resume: bool = False) -> dict[str, Any]:
        self._clock0, self._spent_before = time.perf_counter(), 0.0
        start = self._resume() + 1 if resume else 1
        if start == 1:
            self.run.metrics.unlink(missing_ok=True)
            self.task.prepare()
            if self.task.validate_start:
                self._validate_start()
        total = len(self.schedule)
        epoch_seconds: dict[str, list[float]] = defaultdict(list)
        epoch_costs: list[float] = []  # each epoch's training + validation seconds
        for r in self.run.read_metrics():
            if r.get("phase") not in (None, "start"):
                epoch_seconds[r["phase"]].append(r["epoch_seconds"])
                epoch_costs.append(r["epoch_seconds"] + r.get("eval_seconds", 0.0))
        stopped = self._should_stop(start - 1)
        out_of_time = False
        for epoch in range(start, total + 1):
            if stopped:
                break
            if self._out_of_time(epoch, epoch_costs):
                out_of_time = True
                break
            phase = self.schedule[epoch - 1]
            if epoch > 1 and phase != self.schedule[epoch - 2]:
                self.bad_epochs = 0  # patience counts within the final phase only
            t0 = time.perf_counter()
            train = self._train_epoch(epoch, phase)
            seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            valid = self._validate()
            eval_seconds = time.perf_counter() - t0
            improved = self._score(valid) > self.best
            if improved:
                self.best, self.best_epoch, self.bad_epochs = self._score(valid), epoch, 0
                self._save_best(epoch, valid)
            else:
                self.bad_epochs += 1
            epoch_seconds[phase].append(seconds)
            epoch_costs.append(seconds + eval_seconds)
            self.run.append_metrics({"epoch": epoch, "phase": phase, "train": train, "valid": valid,
                                     "epoch_seconds": seconds, "eval_seconds": eval_seconds,
                                     "elapsed_seconds": self.elapsed(), "best": improved})
            self._checkpoint(epoch)
            self._report(epoch, total, phase, train, valid, seconds, improved)
            stopped = self._should_stop(epoch)
        return self._finish(stopped, out_of_time, epoch_seconds)

    def elapsed(self) -> float:
        """Seconds this run has trained: the earlier sessions' (a resumed run) and this one's,
        its preparation (e.g. the code assignment) included."""
        return self._spent_before + time.perf_counter() - self._clock0

    def _out_of_time(self, epoch: int, epoch_costs: list[float]) -> bool:
        """Whether ``max_minutes`` forbids starting ``epoch``: the time spent plus the slowest
        epoch so far would pass it (the first epoch always runs: nothing predicts its cost)."""
        limit = self.cfg.max_minutes * 60.0
        if not limit or not epoch_costs:
            return False
        spent, expected = self.elapsed(), max(epoch_costs)
        if spent + expected <= limit:
            return False
        info(f"stopping before epoch {epoch}: {spent / 60:.1f} min spent, an epoch takes up to "
             f"{expected / 60:.1f} min, --max-minutes is {self.cfg.max_minutes:g}")
        return True

    def _validate_start(self) -> None:
        """Epoch 0: the model as prepared (e.g. post-training-quantized) is a candidate too, so
        training never ships something worse on validation than where it started."""
        t0 = time.perf_counter()
        valid = self._validate()
        self.best, self.best_epoch = self._score(valid), 0
        self._save_best(0, valid)
        self.run.append_metrics({"epoch": 0, "phase": "start", "valid": valid, "epoch_seconds": 0.0,
                                 "eval_seconds": time.perf_counter() - t0, "elapsed_seconds": self.elapsed(),
                                 "best": True})
        info(f"epoch 0 (start, untrained): valid P@10 {100 * valid['P@10']:.2f} NDCG@10 {100 * valid['NDCG@10']:.2f}")

    def _should_stop(self, epoch: int) -> bool:
        last_phase = epoch >= 1 and self.schedule[epoch - 1] == self.schedule[-1]
        return bool(self.cfg.patience and last_phase and self.bad_epochs >= self.cfg.patience
                    and epoch < len(self.schedule))

    # ------------------------------------------------------------------ one epoch
    def epoch_lr(self, epoch: int) -> float:
        """The learning rate epoch ``epoch`` (1-based) trains at."""
        return self.cfg.lr * self.cfg.lr_decay ** (epoch - 1)

    def _train_epoch(self, epoch: int, phase: str) -> dict[str, float]:
        split, bs = self.ds.train, self.cfg.batch_size
        for group in self.optimizer.param_groups:
            group["lr"] = self.epoch_lr(epoch)
        order = rng.epoch_order(len(split), self.cfg.seed, epoch)
        self.task.module.train()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        with progress(transient=True) as bar:
            status = Bar(bar, f"epoch {epoch}/{len(self.schedule)} {phase}", total=-(-len(split) // bs))
            for step, start in enumerate(range(0, len(split), bs)):
                idx = order[start:start + bs]
                items, lengths = pad_batch(split, idx, self.cfg.max_len)
                items = items[:, :int(lengths.max())]
                targets = torch.from_numpy(split.targets[idx].astype(np.int64))
                items, lengths, targets = (t.to(self.device) for t in (items, lengths, targets))
                self.task.before_step(phase)
                terms = self.task.loss(items, lengths, targets, phase)
                self.optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                self.optimizer.step()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.detach() * len(idx)
                count += len(idx)
                status.advance()
                if step % 50 == 0:
                    status.update(status=f"loss {self._finite(sums['loss'] / count, epoch):.4f}")
        out = {k: float(v / count) for k, v in sums.items()}
        self._finite(out["loss"], epoch)
        return out

    @staticmethod
    def _finite(value: torch.Tensor | float, epoch: int) -> float:
        v = float(value)
        if not math.isfinite(v):
            raise TrainingDivergedError(f"training diverged in epoch {epoch}: the loss is {v}",
                                        hint="lower --lr, or raise --l2")
        return v

    @property
    def _encoder_storage(self) -> str:
        """How freeze will store the encoder (a student's deployment choice; fp32 otherwise)."""
        return str(self.spec.deploy.get("encoder_storage", "fp32")) if self.spec.kind == "student" else "fp32"

    def _validate(self) -> dict[str, Any]:
        """Metrics of the deployed form on the validation split (the encoder rounded as freeze
        stores it); an elastic table's smaller cuts are measured too, under "cuts" ({columns: metrics})."""
        self.task.before_eval()
        self.task.module.eval()
        model = self.task.model
        with encoder_as_stored(model, self._encoder_storage):
            valid = self._measure(model, "")
        cuts = model.items.validation_cuts()
        if cuts:
            per = {}
            for cut in cuts:
                if has_cut_encoders(model):  # the cut's own encoder, folded, then rounded as freeze stores it
                    with encoder_as_stored(cut_model(model, cut), self._encoder_storage) as folded:
                        per[str(cut)] = self._measure(folded, f" (cut {cut})")
                else:
                    with encoder_as_stored(model, self._encoder_storage), model.items.at_cut(cut):
                        per[str(cut)] = self._measure(model, f" (cut {cut})")
            valid["cuts"] = per
        return valid

    def _measure(self, model: SessionRecommender, what: str) -> dict[str, float]:
        return evaluate(model, self.ds.valid, batch_size=self.cfg.eval_batch_size, max_len=self.cfg.max_len,
                        device=self.device, description=f"validating{what}")

    def _score(self, valid: dict[str, Any]) -> float:
        """What early stopping and the best epoch follow: the monitored metric, averaged over
        the whole table and its validated cuts for an elastic one (every cut must stay good)."""
        values = [valid[self.cfg.monitor]] + [m[self.cfg.monitor] for m in valid.get("cuts", {}).values()]
        return sum(values) / len(values)

    # ------------------------------------------------------------------ files
    def _save_best(self, epoch: int, valid: dict[str, float]) -> None:
        save_weights(self.run.model, self.task.model)
        self.task.save_best_extras(self.run.root)
        atomic_write_json(self.run.best, {"epoch": epoch, "monitor": self.cfg.monitor, "valid": valid})

    def _checkpoint(self, epoch: int) -> None:
        weights, state = self.run.checkpoint_files(epoch)
        save_weights(weights, self.task.module)
        save_state(state, {
            "version": STATE_VERSION, "epoch": epoch, "optimizer": self.optimizer.state_dict(),
            "rng": rng.capture(),
            "trainer": {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs},
        })
        self.run.commit_checkpoint(epoch, self.cfg.keep_checkpoints)

    def _resume(self) -> int:
        """Restore the last checkpoint; returns its epoch (0: none yet, start afresh)."""
        found = self.run.latest_checkpoint()
        if found is None:
            return 0
        epoch, weights, state_path = found
        load_weights(self.task.module, weights)
        state = load_state(state_path)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            rng.restore(state["rng"])
            t = state["trainer"]
            self.best, self.best_epoch, self.bad_epochs = float(t["best"]), int(t["best_epoch"]), int(t["bad_epochs"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise CheckpointError(f"{state_path}: does not match this run ({type(e).__name__}: {e})") from e
        self.run.truncate_metrics(epoch)
        spent = [r["elapsed_seconds"] for r in self.run.read_metrics() if "elapsed_seconds" in r]
        self._spent_before = spent[-1] if spent else 0.0
        info(f"resuming {self.run.root} after epoch {epoch} (best so far: epoch {self.best_epoch})")
        return epoch

    def _finish(self, stopped: bool, out_of_time: bool, epoch_seconds: dict[str, list[float]]) -> dict[str, Any]:
        trained = self.elapsed()  # the test split's scoring is not training
        model = self.inference_model()
        load_weights(model, self.run.model)
        model.to(self.device).eval()
        with encoder_as_stored(model, self._encoder_storage):  # as the frozen artifact will score
            test = evaluate(model, self.ds.test, batch_size=self.cfg.eval_batch_size, max_len=self.cfg.max_len,
                            device=self.device, description="testing")
        best = json.loads(self.run.best.read_text())
        self.run.append_metrics({"epoch": best["epoch"], "test": test})
        summary = {
            "kind": self.spec.kind, "best_epoch": best["epoch"], "valid": best["valid"], "test": test,
            "epochs_run": len([r for r in self.run.read_metrics() if r.get("phase") not in (None, "start")]),
            "stopped_early": stopped, "stopped_by_time": out_of_time,
            "train_seconds": trained,
            "mean_epoch_seconds": {k: sum(v) / len(v) for k, v in epoch_seconds.items() if v},
        }
        atomic_write_json(self.run.summary, summary)
        return summary

    def _report(self, epoch: int, total: int, phase: str, train: dict[str, float], valid: dict[str, float],
                seconds: float, improved: bool) -> None:
        terms = " ".join(f"{k} {v:.4f}" for k, v in train.items() if k != "loss")
        info(f"epoch {epoch}/{total} [{phase}] loss {train['loss']:.4f} ({terms})  valid P@10 "
             f"{100 * valid['P@10']:.2f} NDCG@10 {100 * valid['NDCG@10']:.2f}"
             + "".join(f" | cut {c}: {100 * m['P@10']:.2f} {100 * m['NDCG@10']:.2f}"
                       for c, m in valid.get("cuts", {}).items())
             + f"  {seconds:.1f}s" + ("  [green]best[/]" if improved else ""))
