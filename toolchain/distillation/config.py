"""Distillation settings: the weights of Eq. (29), the schedule and the paper's ablation switches.

Ablations (EODRec section 6.5), each a flag that removes exactly its part:

=============== ==================== ==========================================
variant         setting              what goes away
=============== ==================== ==========================================
Stu-base        ``enabled=False``    L_con, L_soft and the teacher's updates
Stu-w/o-c       ``contrastive=False`` L_con
Stu-w/o-b       ``bidirectional=False`` the teacher's L_rec and every gradient into
                                     the teacher (it is frozen, in eval mode)
Stu-w/o-s       ``soft_targets=False`` L_soft
Stu-w/o-m       codes ``mixup=False`` embedding mixup (a codes-table setting)
=============== ==================== ==========================================

OD-Rec is the semi-tensor-train student with ``bidirectional=False`` (its distillation is
one-way) and no mixup or L_mse (its table has neither).
"""

from __future__ import annotations

import dataclasses

from toolchain.config import Config, check_positive, check_range


@dataclasses.dataclass
class DistillConfig(Config):
    """beta: weight of L_con (Eq. 22); gamma: weight of L_soft (Eq. 24); tau: InfoNCE
    temperature; hot_fraction: share of items (by training popularity) that are hot;
    pretrain_epochs: epochs of L_rec + L_mse before the joint training (Eq. 26);
    kd_temperature: softmax temperature of the soft targets (the paper's is 1);
    init_from_teacher: start the student's encoder (everything but the item table) as a copy
    of the teacher's (the deployable recipe; the paper initialises the student afresh);
    train_encoder: whether the student's encoder trains (False: only its item table does)."""

    KIND = "distill"

    enabled: bool = True
    contrastive: bool = True
    soft_targets: bool = True
    bidirectional: bool = True
    beta: float = 0.01
    gamma: float = 0.3
    tau: float = 0.2
    kd_temperature: float = 1.0
    hot_fraction: float = 0.2
    pretrain_epochs: int = 2
    init_from_teacher: bool = False
    train_encoder: bool = True

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, tau=self.tau, kd_temperature=self.kd_temperature)
        for name in ("beta", "gamma"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        check_range(problems, "hot_fraction", self.hot_fraction, 0.0, 1.0)
        if self.pretrain_epochs < 0:
            problems.append(f"pretrain_epochs must be >= 0, got {self.pretrain_epochs}")
        return problems

    @classmethod
    def tmall_scale(cls) -> DistillConfig:
        """The paper's best Tmall weights: beta 0.01, gamma 0.3."""
        return cls(beta=0.01, gamma=0.3)

    @classmethod
    def retailrocket_scale(cls) -> DistillConfig:
        """The paper's best RetailRocket weights: beta 0.5, gamma 0.3."""
        return cls(beta=0.5, gamma=0.3)

    @classmethod
    def tiny(cls) -> DistillConfig:
        """For tests: one pretraining epoch."""
        return cls(pretrain_epochs=1)

    @classmethod
    def odrec(cls) -> DistillConfig:
        """OD-Rec: one-way distillation from a frozen teacher."""
        return cls(bidirectional=False)

    @classmethod
    def deployable(cls) -> DistillConfig:
        """The deployable recipe: encoder copied from the teacher, no pretraining, the teacher
        frozen (it is the reference the student is measured against), soft targets at weight 1,
        no contrastive term (switch it on with --contrastive)."""
        return cls(contrastive=False, bidirectional=False, gamma=1.0, pretrain_epochs=0,
                   init_from_teacher=True)

    @property
    def teacher_trains(self) -> bool:
        """Whether the teacher is updated (bidirectional distillation that is switched on)."""
        return self.enabled and self.bidirectional
