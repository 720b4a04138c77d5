"""Teacher and student trained together: EODRec's Eq. (29) and OD-Rec's one-way variant.

Per batch (items [B, L], lengths [B], targets [B]), student first, then teacher:

    h_s, h_t          position states of student / teacher             [B, L, N]
    theta_s, theta_t  Eq. (3) readouts over the whole session           [B, N]
    rec               CE(theta_s . E'_v, target)       (student, mixup when on)
    mse               L_mse of the codes table (Eq. 14; absent for other tables)
    rec_teacher       CE(theta_t . X_v, target)        (only when the teacher trains)
    hot, cold         sub-session masks: hot = top 20% items by popularity (Eq. 20)
    z_tea = [theta_hot^tea, theta_cold^stu],  z_stu = [theta_hot^stu, theta_cold^tea]  (Eq. 21)
    con               InfoNCE(W_t z_tea, W_s z_stu), tau = 0.2           (Eq. 22)
    soft              KL(softmax(theta_t X) || softmax(theta_s E'))     (Eq. 24)
    loss              rec + mse + rec_teacher + beta con + gamma soft    (Eq. 29)

Hot and cold sub-sessions reuse each model's own readout (same parameters) on the same
position states, with the hot or cold mask: one backbone pass per model. A session with
no cold (or no hot) item gets a zero vector for that half, so its recombined views still
contrast the half it has, as the paper prescribes.

**How gradients flow.** Bidirectional (Eq. 25): the teacher runs in train mode, its
L_rec is added, and L_con and L_soft are differentiated through *both* models, so the KL
term also pulls the teacher's distribution towards the student's: the reverse transfer.
The student's X (mixup, L_mse, code learner) is a detached copy of the teacher's current
table, refreshed before every step: the teacher learns from the student only through the
distillation losses, never by being dragged towards the codes. With the teacher frozen
(Stu-w/o-b, OD-Rec) it runs in eval mode under ``no_grad``.

In the ``pretrain`` phase (Eq. 26) only rec + mse are computed; the teacher is not run.
"""

from __future__ import annotations

import torch
from torch import nn

from toolchain.distillation.config import DistillConfig
from toolchain.distillation.losses import hot_cold_masks, info_nce, soft_target_kl
from toolchain.errors import ConfigError
from toolchain.models.base import mask_padding
from toolchain.models.cut_encoders import plain_name
from toolchain.models.sasrec import SASRec

PHASES = ("pretrain", "distill")


class DistillationPair(nn.Module):
    """Holds teacher, student and the projections W_t, W_s (2N -> N); computes Eq. (29)."""

    def __init__(self, teacher: SASRec, student: SASRec, is_hot: torch.Tensor,
                 config: DistillConfig | None = None) -> None:
        super().__init__()
        self.config = config or DistillConfig()
        n = student.config.dim
        if teacher.config.dim != n:
            raise ConfigError(f"student dim {n} differs from the teacher's {teacher.config.dim}; "
                              f"the student's dim must equal the teacher's", source="distillation")
        self.teacher = teacher
        self.student = student
        self.proj_t = nn.Linear(2 * n, n, bias=False)  # W_t
        self.proj_s = nn.Linear(2 * n, n, bias=False)  # W_s
        for p in (*self.proj_t.parameters(), *self.proj_s.parameters()):
            nn.init.uniform_(p, -0.1, 0.1)
        self.register_buffer("is_hot", is_hot.bool(), persistent=False)  # [|V|+1]
        self.teacher.requires_grad_(self.config.teacher_trains)
        if not self.config.train_encoder:  # only the item table (codebooks, rotation) trains
            table = {id(p) for p in student.items.parameters()}
            for p in student.parameters():
                p.requires_grad_(id(p) in table)
        self.sync_teacher_embeddings()

    def train(self, mode: bool = True) -> DistillationPair:
        super().train(mode)
        self.teacher.train(mode and self.config.teacher_trains)
        return self

    @torch.no_grad()
    def sync_teacher_embeddings(self, refresh_codes: bool = True) -> None:
        """Give the student's table (if it learns from X) the teacher's current table."""
        if hasattr(self.student.items, "set_teacher_embeddings"):
            self.student.items.set_teacher_embeddings(self.teacher.items.all_embeddings(), refresh_codes)

    @torch.no_grad()
    def copy_teacher_encoder(self) -> None:
        """Student encoder <- teacher encoder (every tensor outside the item tables)."""
        # (a student with cut_encoders names its W NAME.parametrizations.TENSOR.original; its
        # corrections stay zero)
        own = {plain_name(k): (k, v) for k, v in self.student.state_dict().items()}
        tensors = {k: v for k, v in self.teacher.state_dict().items() if not k.startswith("items.")}
        bad = [k for k, v in tensors.items() if k not in own or own[k][1].shape != v.shape]
        if bad:
            raise ConfigError(f"the teacher's encoder does not fit the student's ({', '.join(bad[:3])}); "
                              "init_from_teacher needs the same backbone", source="distillation")
        self.student.load_state_dict({own[k][0]: v for k, v in tensors.items()}, strict=False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def loss(self, items: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
             phase: str = "distill") -> dict[str, torch.Tensor]:
        """Named terms (unweighted) and their weighted sum under "loss"; see the module doc.
        When the student's table trains several cuts in one step (an elastic table's
        ``anchor_full``), the student's terms are the mean over those cuts; the teacher runs once."""
        c = self.config
        passes: list = []  # the teacher's pass, run once, after the student's first (dropout draws keep their order)

        def teacher():
            if not passes:
                passes.append(self._teacher_pass(items, lengths))
            return passes[0]

        teacher = teacher if phase == "distill" and c.enabled else None
        table = self.student.items
        cuts = table.step_cuts()
        if not cuts:
            terms = self._student_terms(items, lengths, targets, teacher)
        else:
            per_cut = []
            for cut in cuts:
                with table.at_cut(cut):
                    per_cut.append(self._student_terms(items, lengths, targets, teacher))
            terms = {k: sum(t[k] for t in per_cut) / len(per_cut) for k in per_cut[0]}
        weights = {"con": c.beta, "soft": c.gamma}
        terms["loss"] = sum(weights.get(k, 1.0) * v for k, v in terms.items())
        return terms

    def _teacher_pass(self, items, lengths) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The teacher's hidden states, mask and logits (with gradients only when it trains)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.teacher_trains):
            h_t, mask = self.teacher.sequence(items, lengths)
            logits_t = mask_padding(self.teacher.items.score(self.teacher.readout(h_t, mask)))
        return h_t, mask, logits_t

    def _student_terms(self, items, lengths, targets, teacher) -> dict[str, torch.Tensor]:
        """L_rec, the table's own terms and (``teacher``: the teacher's pass) L_rec of the
        teacher when it trains, L_con and L_soft."""
        c = self.config
        h_s, mask = self.student.sequence(items, lengths)
        logits_s = mask_padding(self.student.items.score(self.student.readout(h_s, mask)))
        terms = {"rec": nn.functional.cross_entropy(logits_s, targets),
                 **self.student.items.auxiliary_losses()}
        if teacher is None:
            return terms
        h_t, _, logits_t = teacher()
        if c.teacher_trains:
            terms["rec_teacher"] = nn.functional.cross_entropy(logits_t, targets)
        if c.contrastive:
            hot, cold = hot_cold_masks(items * mask, mask, self.is_hot)
            hot_s, cold_s = self.student.readout(h_s, hot), self.student.readout(h_s, cold)
            with torch.set_grad_enabled(torch.is_grad_enabled() and c.teacher_trains):
                hot_t, cold_t = self.teacher.readout(h_t, hot), self.teacher.readout(h_t, cold)
            z_tea = torch.cat([hot_t, cold_s], -1)  # Eq. (21)
            z_stu = torch.cat([hot_s, cold_t], -1)
            terms["con"] = info_nce(self.proj_t(z_tea), self.proj_s(z_stu), c.tau)
        if c.soft_targets:
            terms["soft"] = soft_target_kl(logits_t, logits_s, c.kd_temperature)
        return terms
