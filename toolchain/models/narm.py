"""NARM (Li et al., CIKM 2017): GRU encoder with a global and an attentive local encoder.

Shapes: items int64 [B, L], lengths [B]; GRU states h [B, L, H];
c_g = h_t (the last real state) [B, H];
alpha_tj = v^T sigmoid(A1 h_t + A2 h_j), masked to real positions  [B, L];
c_l = sum_j alpha_tj h_j  [B, H];
theta = B [c_g; c_l]  [B, N]  (the bilinear decoder S_i = emb_i^T B c_t, split so that
the item side goes through ``items.score``).

Deviations: the original trains with full softmax cross-entropy too, so none in the loss;
padding is handled by gathering h at ``lengths - 1`` and masking alpha instead of packed
sequences, so the model exports with static shapes.
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
class NARMConfig(Config):
    """dim: N; hidden: GRU size H (0 = same as dim); dropouts as in the NARM paper."""

    KIND = "narm"

    dim: int = 128
    hidden: int = 0
    layers: int = 1
    emb_dropout: float = 0.25
    ct_dropout: float = 0.5

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, dim=self.dim, layers=self.layers)
        if self.hidden < 0:
            problems.append(f"hidden must be >= 0 (0 means 'same as dim'), got {self.hidden}")
        check_range(problems, "emb_dropout", self.emb_dropout, 0.0, 0.99)
        check_range(problems, "ct_dropout", self.ct_dropout, 0.0, 0.99)
        return problems

    @property
    def hidden_size(self) -> int:
        return self.hidden or self.dim

    @classmethod
    def tiny(cls) -> NARMConfig:
        """For tests: dim 16, no dropout."""
        return cls(dim=16, emb_dropout=0.0, ct_dropout=0.0)

    @classmethod
    def tmall_scale(cls) -> NARMConfig:
        return cls(dim=128)

    @classmethod
    def retailrocket_scale(cls) -> NARMConfig:
        return cls(dim=256)


@MODELS.register("narm")
class NARM(SessionRecommender):
    """NARM: a GRU with global (last state) and local (attention) contexts, decoded to N."""
    config_class = NARMConfig

    def __init__(self, n_items: int, config: NARMConfig | None = None,
                 items: ItemTable | None = None) -> None:
        super().__init__()
        self.config = config or NARMConfig()
        c = self.config
        h = c.hidden_size
        self.items = resolve_item_table(n_items, c.dim, items)
        self.emb_dropout = nn.Dropout(c.emb_dropout)
        self.gru = nn.GRU(c.dim, h, num_layers=c.layers, batch_first=True)
        self.a1 = nn.Linear(h, h, bias=False)  # applied to the last state h_t
        self.a2 = nn.Linear(h, h, bias=False)  # applied to every state h_j
        self.v = nn.Linear(h, 1, bias=False)
        self.ct_dropout = nn.Dropout(c.ct_dropout)
        self.decoder = nn.Linear(2 * h, c.dim, bias=False)  # B: [c_g; c_l] (2H) -> N
        init_uniform_(self, skip=self.items)

    def encode(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """items [B, L], lengths [B] -> theta = B [c_g; c_l]  [B, N]."""
        items, mask = clean_items(items, lengths)
        x = self.emb_dropout(self.items.embed(items))  # [B, L, N]
        h, _ = self.gru(x)  # [B, L, H]
        c_g = gather_last(h, lengths)  # [B, H]
        # NARM's attention weights are sigmoid-gated, not softmax-normalised: padding is
        # removed by zeroing its weight rather than by a -inf before a softmax.
        e = self.v(torch.sigmoid(self.a1(c_g).unsqueeze(1) + self.a2(h))).squeeze(-1)  # [B, L]
        alpha = e * mask.to(e.dtype)
        c_l = (alpha.unsqueeze(-1) * h).sum(1)  # [B, H]
        c = self.ct_dropout(torch.cat([c_g, c_l], -1))  # [B, 2H]
        return self.decoder(c)
