"""Full-ranking metrics for next-item prediction: P@K (hit ratio), NDCG@K, MRR@K.

Every item is ranked (no sampled negatives). With one target per sequence:

* rank   = 1 + number of items scored strictly higher than the target
           + number of *other* items scored equal to it (ties count against the model);
* P@K    = 1[rank <= K] (the paper's "precision" is this hit ratio);
* NDCG@K = 1[rank <= K] / log2(rank + 1);
* MRR@K  = 1[rank <= K] / rank.

Index 0 is padding and is never ranked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

DEFAULT_KS = (5, 10, 20)


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1-based ranks of ``targets`` [B] among ``scores`` [B, |V|+1] (column 0 = padding)."""
    scores = scores.detach().float()
    scores = scores[:, 1:]
    t = (targets.long() - 1).view(-1, 1)
    target_score = scores.gather(1, t)
    higher = (scores > target_score).sum(1)
    equal = (scores == target_score).sum(1) - 1  # minus the target itself
    return 1 + higher + equal


def metrics_from_ranks(ranks: np.ndarray | torch.Tensor, ks=DEFAULT_KS) -> dict[str, float]:
    r = torch.as_tensor(ranks, dtype=torch.float64)
    out: dict[str, float] = {}
    if r.numel() == 0:
        return {f"{m}@{k}": float("nan") for k in ks for m in ("P", "NDCG", "MRR")}
    for k in ks:
        hit = r <= k
        out[f"P@{k}"] = hit.double().mean().item()
        out[f"NDCG@{k}"] = torch.where(hit, 1.0 / torch.log2(r + 1.0), torch.zeros_like(r)).mean().item()
        out[f"MRR@{k}"] = torch.where(hit, 1.0 / r, torch.zeros_like(r)).mean().item()
    return out


@dataclass
class RankAccumulator:
    """Collects ranks batch by batch; ``result()`` gives every metric."""

    ks: tuple[int, ...] = DEFAULT_KS
    _ranks: list[torch.Tensor] = field(default_factory=list)

    def add(self, scores: torch.Tensor, targets: torch.Tensor) -> None:
        self._ranks.append(target_ranks(scores, targets).cpu())

    @property
    def count(self) -> int:
        return sum(len(r) for r in self._ranks)

    def result(self) -> dict[str, float]:
        ranks = torch.cat(self._ranks) if self._ranks else torch.zeros(0)
        return metrics_from_ranks(ranks, self.ks)
