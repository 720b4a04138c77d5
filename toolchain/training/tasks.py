"""What the generic trainer trains: one model, or a teacher-student pair.

A task exposes ``module`` (every tensor that is checkpointed), ``model`` (what is validated,
tested and deployed), its ``phases`` ((name, epochs) in order), the parameters to optimise,
and a ``loss`` per batch. The trainer knows nothing else about models.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from toolchain.distillation.pair import DistillationPair
from toolchain.evaluation.evaluate import session_vectors
from toolchain.models.base import SessionRecommender
from toolchain.progress import info
from toolchain.training.checkpoint import save_weights


class ModelTask:
    """Teacher and baselines: cross-entropy over all items (plus any table terms)."""

    validate_start = False  # no epoch 0: an untrained model is never a candidate

    def __init__(self, model: SessionRecommender, epochs: int) -> None:
        self.model = model
        self.module: nn.Module = model
        self.phases = [("train", epochs)]

    def parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def loss(self, items: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
             phase: str) -> dict[str, torch.Tensor]:
        return self.model.loss(items, lengths, targets)

    def prepare(self) -> None:
        pass

    def before_step(self, phase: str) -> None:
        pass

    def before_eval(self) -> None:
        pass

    def save_best_extras(self, directory: Path) -> None:
        pass


class DistillTask:
    """Students (EODRec, OD-Rec): ``pretrain`` epochs of L_rec (+ L_mse), then ``distill``.

    The teacher's table is copied into the student's codes table before every step while
    the teacher trains (before the first step otherwise), so X is always the current one.
    """

    def __init__(self, pair: DistillationPair, pretrain_epochs: int, epochs: int,
                 item_counts: torch.Tensor | None = None, train_split=None) -> None:
        self.pair = pair
        self.item_counts = item_counts  # [|V|+1] training popularity (weights of the code assignment)
        self.train_split = train_split  # the teacher's session vectors on it steer score-aware codes
        self.model: SessionRecommender = pair.student
        self.module: nn.Module = pair
        self.phases = [(name, n) for name, n in (("pretrain", pretrain_epochs), ("distill", epochs)) if n > 0]
        self._synced = False
        # a student that starts from the teacher (the deployable recipe) is validated before
        # training: if no epoch beats its start on validation, the start is what ships
        self.validate_start = pair.config.init_from_teacher

    def parameters(self) -> list[nn.Parameter]:
        return self.pair.trainable_parameters()

    def loss(self, items: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
             phase: str) -> dict[str, torch.Tensor]:
        return self.pair.loss(items, lengths, targets, phase)

    def prepare(self) -> None:
        """Before the first epoch of a fresh run: copy the teacher's encoder when the recipe says
        so, then assign fixed codes from the teacher's table (quantized codes) or fit the codes
        to X (the paper's codes, see CodesTable.fit_codes)."""
        if self.pair.config.init_from_teacher:
            self.pair.copy_teacher_encoder()
            info("student encoder initialised from the teacher's")
        self.pair.sync_teacher_embeddings()
        table = self.pair.student.items
        if hasattr(table, "assign_from"):
            info(f"assigning {table.m} x {table.k} {table.config.structure} codes to {table.n_items:,} items "
                 f"by k-means on the teacher's table")
            teacher = self.pair.teacher
            sessions = None
            if table.config.metric == "sessions" and self.train_split is not None:
                mode = teacher.training
                sessions = session_vectors(teacher.eval(), self.train_split)
                teacher.train(mode)
            with torch.no_grad():
                err = table.assign_from(teacher.items.all_embeddings(), sessions=sessions,
                                        weights=None if self.item_counts is None else self.item_counts + 1.0)
            info(f"  relative {'score' if sessions is not None else 'reconstruction'} error against the "
                 f"teacher's table: {err:.4f}")
        if hasattr(table, "fit_codes") and table.config.fit_steps:
            info(f"fitting the codes to the teacher's table ({table.config.fit_steps} steps)")
            info(f"  L_mse of the hard codes: {table.fit_codes():.4f} (mean |X|^2 "
                 f"{float((table._teacher[1:] ** 2).sum(-1).mean()):.4f})")

    def before_step(self, phase: str) -> None:
        if not self._synced or (phase == "distill" and self.pair.config.teacher_trains):
            self.pair.sync_teacher_embeddings(refresh_codes=False)  # eval() refreshes the codes
            self._synced = True
        self.pair.student.items.before_step()  # an elastic table draws the step's cut

    def before_eval(self) -> None:
        self.pair.sync_teacher_embeddings()

    def save_best_extras(self, directory: Path) -> None:
        if self.pair.config.teacher_trains:
            save_weights(directory / "teacher.safetensors", self.pair.teacher)


Task = ModelTask | DistillTask
