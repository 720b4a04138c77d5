"""STAMP (Liu et al., KDD 2018): short-term attention/memory priority, no RNN.

Shapes: item embeddings x [B, L, N];
m_s = mean of the real x_i  [B, N]  (the session's general interest);
m_t = x at position len-1  [B, N]  (the last click, the current interest);
alpha_i = w0^T sigmoid(W1 x_i + W2 m_t + W3 m_s + b_a), masked to real positions  [B, L];
m_a = sum_i alpha_i x_i  [B, N]  (the attended memory replaces m_s, as in STAMP proper);
h_s = tanh(W_s m_a + b_s), h_t = tanh(W_t m_t + b_t)  [B, N];
score_i = <h_s, h_t, x_i> (trilinear) = x_i . (h_s * h_t), so theta = h_s * h_t.

Deviation: the paper squashes the trilinear product with a sigmoid before the softmax;
with |V| in the tens of thousands that leaves logits in (0, 1) and an almost flat
softmax, so, like RecBole's STAMP, raw trilinear scores are the logits.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from toolchain.compression.item_table import ItemTable
from toolchain.config import Config, check_positive, check_range
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.session_ops import (
    clean_items,
    gather_last,
    init_uniform_,
    masked_mean,
    resolve_item_table,
)


@dataclasses.dataclass
class STAMPConfig(Config):
    """dim: N; dropout on the item embeddings (the original uses none)."""

    KIND = "stamp"

    dim: int = 128
    dropout: float = 0.0

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, dim=self.dim)
        check_range(problems, "dropout", self.dropout, 0.0, 0.99)
        return problems

    @classmethod
    def tiny(cls) -> STAMPConfig:
        return cls(dim=16)

    @classmethod
    def tmall_scale(cls) -> STAMPConfig:
        return cls(dim=128)

    @classmethod
    def retailrocket_scale(cls) -> STAMPConfig:
        return cls(dim=256)


@MODELS.register("stamp")
class STAMP(SessionRecommender):
    """STAMP: attention from general and last-click interest; theta = h_s * h_t."""
    config_class = STAMPConfig

    def __init__(self, n_items: int, config: STAMPConfig | None = None,
                 items: ItemTable | None = None) -> None:
        super().__init__()
        self.config = config or STAMPConfig()
        n = self.config.dim
        self.items = resolve_item_table(n_items, n, items)
        self.dropout = nn.Dropout(self.config.dropout)
        self.w1 = nn.Linear(n, n, bias=False)
        self.w2 = nn.Linear(n, n, bias=False)
        self.w3 = nn.Linear(n, n, bias=True)  # its bias is b_a
        self.w0 = nn.Linear(n, 1, bias=False)
        self.mlp_s = nn.Linear(n, n)  # MLP cell A -> h_s
        self.mlp_t = nn.Linear(n, n)  # MLP cell B -> h_t
        init_uniform_(self, skip=self.items)

    def encode(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """items [B, L], lengths [B] -> theta = h_s * h_t  [B, N]."""
        items, mask = clean_items(items, lengths)
        x = self.dropout(self.items.embed(items))  # [B, L, N]
        m_s = masked_mean(x, mask)  # [B, N]
        m_t = gather_last(x, lengths)  # [B, N]
        gate = torch.sigmoid(self.w1(x) + self.w2(m_t).unsqueeze(1) + self.w3(m_s).unsqueeze(1))
        alpha = self.w0(gate).squeeze(-1) * mask.to(x.dtype)  # [B, L]
        m_a = (alpha.unsqueeze(-1) * x).sum(1)  # [B, N]
        h_s = torch.tanh(self.mlp_s(m_a))
        h_t = torch.tanh(self.mlp_t(m_t))
        return h_s * h_t
