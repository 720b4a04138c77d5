"""The evaluation loop shared by training (validation) and ``odtool eval`` (test)."""

from __future__ import annotations

from typing import Protocol

import torch

from toolchain.data.batching import DEFAULT_MAX_LEN, iterate_batches, n_batches
from toolchain.data.dataset import Split
from toolchain.evaluation.metrics import DEFAULT_KS, RankAccumulator
from toolchain.progress import Task, progress


class Scorer(Protocol):
    """Anything with ``score(items, lengths)`` returning scores over all items: what evaluate() ranks."""
    def score(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores over all items [B, |V|+1] for padded sessions."""


@torch.no_grad()
def evaluate(
    scorer: Scorer,
    split: Split,
    *,
    batch_size: int = 500,
    max_len: int = DEFAULT_MAX_LEN,
    ks: tuple[int, ...] = DEFAULT_KS,
    device: torch.device | str = "cpu",
    description: str = "evaluating",
) -> dict[str, float]:
    """Full-ranking P@K, NDCG@K and MRR@K of ``scorer`` on ``split``."""
    acc = RankAccumulator(ks)
    with progress(transient=True) as bar:
        task = Task(bar, description, total=n_batches(split, batch_size))
        for items, lengths, targets in iterate_batches(split, batch_size, max_len):
            scores = scorer.score(items.to(device), lengths.to(device))
            acc.add(scores, targets.to(scores.device))
            task.advance()
    out = acc.result()
    out["sequences"] = acc.count
    return out


@torch.no_grad()
def session_vectors(model, split: Split, limit: int = 20000, *, batch_size: int = 500,
                    max_len: int = DEFAULT_MAX_LEN, device: torch.device | str = "cpu") -> torch.Tensor:
    """theta [S, N] of the first ``limit`` sessions of ``split`` (the model in eval mode)."""
    out, seen = [], 0
    for items, lengths, _ in iterate_batches(split, batch_size, max_len):
        out.append(model.encode(items.to(device), lengths.to(device)).cpu())
        seen += len(items)
        if seen >= limit:
            break
    return torch.cat(out)[:limit]
