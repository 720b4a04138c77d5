"""Training settings shared by every model (the paper's section 6.1.3 defaults)."""

from __future__ import annotations

import dataclasses

from toolchain.config import Config, check_positive
from toolchain.evaluation.metrics import DEFAULT_KS

DEVICES = ("auto", "cpu", "cuda")
MONITORS = tuple(f"{m}@{k}" for m in ("P", "NDCG", "MRR") for k in DEFAULT_KS)


@dataclasses.dataclass
class TrainConfig(Config):
    """epochs: training epochs (for students: of the joint phase, after pretraining);
    batch_size, lr (Adam), l2 (Adam weight decay), init_range (U(-b, b)); lr_decay: epoch e
    trains at lr * lr_decay ** (e - 1) (1: a constant rate; computed from the epoch number,
    so a resumed run trains at the rate an uninterrupted one would); patience: epochs
    without a better validation ``monitor`` before stopping (0 = never stop early);
    max_len: sessions keep their most recent max_len items; threads: torch CPU threads
    (0 = torch's default); device: auto | cpu | cuda; keep_checkpoints: epoch checkpoints
    kept on disk (the latest ones); max_minutes: a wall-clock budget for training (0 = none):
    an epoch is not started when the minutes spent so far (every epoch and its validation,
    resumed runs included) plus the slowest epoch so far would pass it."""

    KIND = "train"

    epochs: int = 20
    batch_size: int = 100
    lr: float = 1e-3
    lr_decay: float = 1.0
    l2: float = 1e-5
    init_range: float = 0.1
    patience: int = 3
    monitor: str = "NDCG@10"
    seed: int = 0
    max_len: int = 50
    eval_batch_size: int = 500
    threads: int = 0
    device: str = "auto"
    keep_checkpoints: int = 2
    max_minutes: float = 0.0

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                       init_range=self.init_range, max_len=self.max_len,
                       eval_batch_size=self.eval_batch_size, keep_checkpoints=self.keep_checkpoints)
        if not 0.0 < self.lr_decay <= 1.0:
            problems.append(f"lr_decay must be in (0, 1] (each epoch's rate over the last), got {self.lr_decay}")
        for name in ("l2", "patience", "threads", "seed", "max_minutes"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.monitor not in MONITORS:
            problems.append(f"monitor must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        return problems

    @classmethod
    def tiny(cls) -> TrainConfig:
        """For tests: a few quick epochs, single thread, CPU."""
        return cls(epochs=3, batch_size=32, lr=1e-2, patience=0, threads=1, device="cpu")
