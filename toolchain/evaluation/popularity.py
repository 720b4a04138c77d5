"""The popularity recommender: ranks items by how often they were a training target.

The reference floor every trained model must beat by a wide margin.
"""

from __future__ import annotations

import torch

from toolchain.data.dataset import SessionDataset


class PopularityRecommender:
    """Baseline that ranks items by their training counts, the same for every session."""
    name = "popularity"

    def __init__(self, item_counts) -> None:
        counts = torch.as_tensor(item_counts, dtype=torch.float32).clone()
        counts[0] = float("-inf")  # padding is never recommended
        self.scores = counts

    @classmethod
    def fit(cls, ds: SessionDataset) -> "PopularityRecommender":
        return cls(ds.item_counts)

    def score(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Scores [B, |V|+1]: the same popularity vector for every session."""
        return self.scores.unsqueeze(0).expand(items.shape[0], -1)
