"""The one recommender interface (in the spirit of RecBole's recommenders).

Shapes: ``items`` int64 [B, L] (left-aligned, 0-padded), ``lengths`` int64 [B] in 1..L,
``targets`` int64 [B] (see :mod:`toolchain.data.batching`).

A model

* ``encode(items, lengths)`` -> session representations theta [B, N];
* ``score(items, lengths)``  -> scores over all items [B, |V|+1], column 0 (padding) -inf;
* ``loss(items, lengths, targets)`` -> dict of named loss terms, the total under "loss";
* ``example_inputs(max_len)`` -> inputs for export (batch 1).
"""

from __future__ import annotations

import torch
from torch import nn

from toolchain.compression.item_table import ItemTable
from toolchain.registry import Registry


class SessionRecommender(nn.Module):
    """Base session recommender: encode sessions, score all items, losses, export inputs."""
    items: ItemTable

    def encode(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        scores = self.items.score(self.encode(items, lengths))
        return mask_padding(scores)

    def loss(self, items: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.items.score(self.encode(items, lengths))
        rec = nn.functional.cross_entropy(mask_padding(logits), targets)
        terms = {"rec": rec, **self.items.auxiliary_losses()}
        terms["loss"] = sum(terms.values())
        return terms

    def example_inputs(self, max_len: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
        items = torch.zeros(1, max_len, dtype=torch.long)
        n = min(5, max_len)
        items[0, :n] = torch.arange(1, n + 1) % max(1, self.items.n_items) + 1
        return items, torch.tensor([n], dtype=torch.long)


def mask_padding(scores: torch.Tensor) -> torch.Tensor:
    """Set the padding column (0) to -inf so it is never ranked or predicted."""
    pad = torch.full_like(scores[:, :1], float("-inf"))
    return torch.cat([pad, scores[:, 1:]], 1)


def length_mask(items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Bool [B, L]: True at real positions."""
    pos = torch.arange(items.shape[1], device=items.device)
    return pos.unsqueeze(0) < lengths.unsqueeze(1)


MODELS: Registry[type[SessionRecommender]] = Registry("model")
