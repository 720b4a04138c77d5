"""The two distillation losses, Eq. (22) and Eq. (24), and the hot/cold split of section 5.2."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def hot_items(item_counts: np.ndarray, fraction: float = 0.2) -> torch.Tensor:
    """Bool [|V|+1]: True for the top ``fraction`` of items 1..|V| by training popularity.

    ``item_counts`` is the dataset's int [|V|+1] (how often each item is a training target).
    Ties are broken by the smaller index, so the split is deterministic; padding is never hot.
    """
    counts = np.asarray(item_counts, dtype=np.int64)[1:]
    n_hot = int(round(fraction * len(counts)))
    order = np.argsort(-counts, kind="stable")  # most popular first, ties by index
    hot = np.zeros(len(counts) + 1, dtype=bool)
    hot[order[:n_hot] + 1] = True
    return torch.from_numpy(hot)


def hot_cold_masks(items: torch.Tensor, mask: torch.Tensor,
                   is_hot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of the hot and the cold sub-session: items [B, L], mask [B, L] -> 2 x bool [B, L]."""
    hot = is_hot[items] & mask
    return hot, mask & ~hot


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. (22): InfoNCE with in-batch negatives, mean over the batch.

    anchor [B, D] (W_t z^tea), positive [B, D] (W_s z^stu); row s of ``positive`` is the
    positive of row s of ``anchor``, every other row a negative. Similarity: cosine / tau.
    (The paper sums over the batch; the mean keeps beta independent of the batch size.)
    """
    a = nn.functional.normalize(anchor, dim=-1)
    p = nn.functional.normalize(positive, dim=-1)
    logits = a @ p.t() / tau  # [B, B]
    return nn.functional.cross_entropy(logits, torch.arange(len(a), device=a.device))


def soft_target_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor,
                   temperature: float = 1.0) -> torch.Tensor:
    """Eq. (24): KL(prob^tea || prob^stu) over items 1..|V|, mean over the batch.

    Logits [B, |V|+1] with the padding column 0 (dropped here: it is -inf after masking).
    Gradients reach both sides; detach the teacher's logits for one-way distillation.
    """
    log_t = torch.log_softmax(teacher_logits[:, 1:] / temperature, -1)
    log_s = torch.log_softmax(student_logits[:, 1:] / temperature, -1)
    return (log_t.exp() * (log_t - log_s)).sum(-1).mean()
