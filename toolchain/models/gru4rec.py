"""GRU4Rec (Hidasi et al., ICLR 2016): a GRU over the session, its last state is the session.

Shapes: items int64 [B, L], lengths int64 [B] -> theta [B, N] -> scores [B, |V|+1].

Deviations from the original, all from the EODRec paper's shared baseline setting:

* items enter through the shared item table (the original feeds one-hot vectors) and the
  same table scores the output by inner product (the original has a separate output
  layer), so the item table is the only |V|-sized tensor, as in every other model here;
* trained with full softmax cross-entropy (the base ``loss``) instead of session-parallel
  mini-batches with BPR/TOP1 ranking losses;
* padding: the GRU runs over the whole padded sequence of fixed length L and the state at
  ``lengths - 1`` is gathered (no ``pack_padded_sequence``, which does not export).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from toolchain.compression.item_table import ItemTable
from toolchain.config import Config, check_positive, check_range
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.session_ops import clean_items, gather_last, init_uniform_, resolve_item_table


@dataclasses.dataclass
class GRU4RecConfig(Config):
    """dim: N, the item and hidden size; layers: stacked GRU layers; dropout on the inputs."""

    KIND = "gru4rec"

    dim: int = 128
    layers: int = 1
    dropout: float = 0.25

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, dim=self.dim, layers=self.layers)
        check_range(problems, "dropout", self.dropout, 0.0, 0.99)
        return problems

    @classmethod
    def tiny(cls) -> GRU4RecConfig:
        """For tests: dim 16, no dropout (so a few steps visibly learn)."""
        return cls(dim=16, layers=1, dropout=0.0)

    @classmethod
    def tmall_scale(cls) -> GRU4RecConfig:
        """The paper's Tmall setting: N = 128."""
        return cls(dim=128)

    @classmethod
    def retailrocket_scale(cls) -> GRU4RecConfig:
        """The paper's RetailRocket setting: N = 256."""
        return cls(dim=256)


@MODELS.register("gru4rec")
class GRU4Rec(SessionRecommender):
    """GRU encoder; theta = h_{len-1}, the hidden state after the last real item."""

    config_class = GRU4RecConfig

    def __init__(self, n_items: int, config: GRU4RecConfig | None = None,
                 items: ItemTable | None = None) -> None:
        super().__init__()
        self.config = config or GRU4RecConfig()
        c = self.config
        self.items = resolve_item_table(n_items, c.dim, items)
        self.dropout = nn.Dropout(c.dropout)
        self.gru = nn.GRU(c.dim, c.dim, num_layers=c.layers, batch_first=True)
        init_uniform_(self, skip=self.items)

    def encode(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """items [B, L], lengths [B] -> theta [B, N]."""
        items, _ = clean_items(items, lengths)
        x = self.dropout(self.items.embed(items))  # [B, L, N]
        out, _ = self.gru(x)  # [B, L, N]
        return gather_last(out, lengths)
