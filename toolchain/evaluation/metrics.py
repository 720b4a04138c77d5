"""Full-ranking metrics for next-item prediction: P@K (hit ratio), NDCG@K, MRR@K.

Every item is ranked (no sampled negatives), one target per sequence. Let h be the number
of items scored strictly higher than the target and g the size of its tie group (the
target plus every other item with exactly its score). Ties are broken uniformly at random
and each metric is its *expectation* over that draw (McSherry & Najork, ECIR 2008): the
target is equally likely to sit at any rank h+1 .. h+g, so

* P@K    = |{r in h+1..h+g : r <= K}| / g              (the paper's "precision" = hit ratio)
* NDCG@K = sum over those r of 1/log2(r + 1), / g
* MRR@K  = sum over those r of 1/r, / g

Without ties (g = 1) these are the usual 1[r <= K], 1[r <= K]/log2(r+1) and 1[r <= K]/r.
Ties matter for compositional codes: items sharing a code share a score, and neither a
pessimistic nor an optimistic tie rule would be fair to them. A constant scorer gets K/|V|.
Index 0 is padding and is never ranked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

DEFAULT_KS = (5, 10, 20)


def rank_stats(scores: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, g) per row: items scored higher than the target, and its tie-group size (>= 1).

    ``scores`` [B, |V|+1] with column 0 for padding (ignored), ``targets`` [B] in 1..|V|.
    """
    scores = scores.detach().float()[:, 1:]
    t = (targets.long() - 1).view(-1, 1)
    target_score = scores.gather(1, t)
    higher = (scores > target_score).sum(1)
    group = (scores == target_score).sum(1)
    return higher, group


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The expected 1-based rank of each target under random tie-breaking (h + (g + 1) / 2)."""
    h, g = rank_stats(scores, targets)
    return h.double() + (g.double() + 1) / 2


def _prefix(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(values)])


def metrics_from_stats(higher, group=None, ks=DEFAULT_KS) -> dict[str, float]:
    """Expected P@K, NDCG@K and MRR@K from (h, g); ``group`` None means no ties."""
    h = np.asarray(higher, dtype=np.int64).reshape(-1)
    g = np.ones_like(h) if group is None else np.asarray(group, dtype=np.int64).reshape(-1)
    out: dict[str, float] = {}
    if h.size == 0:
        return {f"{m}@{k}": float("nan") for k in ks for m in ("P", "NDCG", "MRR")}
    for k in ks:
        ranks = np.arange(1, k + 1, dtype=np.float64)
        hit_sum = _prefix(np.ones(k))
        dcg_sum = _prefix(1.0 / np.log2(ranks + 1))
        rr_sum = _prefix(1.0 / ranks)
        lo, hi = np.minimum(h, k), np.minimum(h + g, k)  # ranks lo+1 .. hi fall inside the top K
        for name, prefix in (("P", hit_sum), ("NDCG", dcg_sum), ("MRR", rr_sum)):
            out[f"{name}@{k}"] = float(np.mean((prefix[hi] - prefix[lo]) / g))
    return out


def metrics_from_ranks(ranks, ks=DEFAULT_KS) -> dict[str, float]:
    """Metrics from integer 1-based ranks without ties."""
    return metrics_from_stats(np.asarray(ranks, dtype=np.int64) - 1, None, ks)


@dataclass
class RankAccumulator:
    """Collects (h, g) batch by batch; ``result()`` gives every metric."""

    ks: tuple[int, ...] = DEFAULT_KS
    _higher: list[torch.Tensor] = field(default_factory=list)
    _group: list[torch.Tensor] = field(default_factory=list)

    def add(self, scores: torch.Tensor, targets: torch.Tensor) -> None:
        h, g = rank_stats(scores, targets)
        self._higher.append(h.cpu())
        self._group.append(g.cpu())

    @property
    def count(self) -> int:
        return sum(len(r) for r in self._higher)

    def result(self) -> dict[str, float]:
        if not self._higher:
            return metrics_from_stats(np.zeros(0), None, self.ks)
        return metrics_from_stats(torch.cat(self._higher).numpy(), torch.cat(self._group).numpy(), self.ks)
