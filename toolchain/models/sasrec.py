"""SASRec (Kang & McAuley, ICDM 2018) with EODRec's soft-attention readout: teacher and students.

Shapes: items int64 [B, L] (left-aligned, 0-padded), lengths int64 [B] in 1..L.

    x_t   = item(v_t) + P[l - 1 - t]              [B, L, N]  (Eq. 2, X + P)
    h     = blocks(x), each pre-LN:               [B, L, N]
              h = h + Dropout(MHA(LN(h)))           (key-padding mask; optionally causal)
              h = h + Dropout(FFN(LN(h)))           (FFN: N -> N -> N, ReLU)
          then a final LayerNorm
    theta = SoftAttentionReadout(h, mask)         [B, N]     (Eq. 3)
    score = theta . item(v) for every v           [B, |V|+1]

Choices, and why:

* **Attention is bidirectional within the session** (keys masked to real positions only).
  The readout pools *every* position to predict the item after the *last* one, so no
  position can see its own target; SASRec's causal mask exists because SASRec trains every
  position on its next item at once. Here training sequences are already split into
  prefixes (sequence-splitting augmentation), so a causal mask would only hide later clicks
  from earlier positions before pooling. ``causal=True`` is kept as an option.
* **Positions count back from the most recent click** (P[0] is the last item): sessions
  are left-aligned, so absolute positions would put the last click, the strongest signal
  for the next one, at a different index in every session.
* The item representation is injected (:class:`ItemTable`): the teacher is SASRec + full
  table, the EODRec student SASRec + compositional codes, OD-Rec SASRec + semi-tensor train.

``encode`` is export-friendly: static shapes for a given L, masks built from ``lengths``,
no ``.item()``, no Python branching on tensor values (``causal`` is a config constant).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from toolchain.compression.item_table import ItemTable
from toolchain.config import Config, check_positive, check_range
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.init import paper_init_
from toolchain.models.readout import SoftAttentionReadout
from toolchain.models.session_ops import clean_items, resolve_item_table

_MASKED = -1e9  # finite, so a fully masked row (impossible: lengths >= 1) could never be NaN


@dataclasses.dataclass
class SASRecConfig(Config):
    """dim: N; layers / heads of self-attention; dropout on embeddings, attention and FFN;
    max_len: position embeddings (longer sessions share the last one); causal: see module doc."""

    KIND = "sasrec"

    dim: int = 128
    layers: int = 1
    heads: int = 1
    dropout: float = 0.5
    max_len: int = 50
    causal: bool = False

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, dim=self.dim, layers=self.layers, heads=self.heads, max_len=self.max_len)
        check_range(problems, "dropout", self.dropout, 0.0, 0.99)
        if self.heads > 0 and self.dim % self.heads:
            problems.append(f"dim {self.dim} must be a multiple of heads {self.heads}")
        return problems

    @classmethod
    def tmall_scale(cls) -> SASRecConfig:
        """The paper's Tmall setting: N = 128, 1 layer, 1 head, dropout 0.5."""
        return cls(dim=128, layers=1, heads=1, dropout=0.5)

    @classmethod
    def retailrocket_scale(cls) -> SASRecConfig:
        """The paper's RetailRocket setting: N = 256, 1 layer, 2 heads, dropout 0.2."""
        return cls(dim=256, layers=1, heads=2, dropout=0.2)

    @classmethod
    def tiny(cls) -> SASRecConfig:
        """For tests: N = 16, 2 heads (exercises the head split), no dropout."""
        return cls(dim=16, layers=1, heads=2, dropout=0.0)


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention: x [B, L, N], allowed bool [B, 1|H, L, L]."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, length, n = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, n // self.heads).permute(2, 0, 3, 1, 4)
        att = q @ k.transpose(-1, -2) / math.sqrt(n // self.heads)  # [B, H, L, L]
        att = torch.where(allowed, att, torch.full_like(att, _MASKED))
        att = self.dropout(torch.softmax(att, -1))
        return self.out((att @ v).transpose(1, 2).reshape(b, length, n))


class Block(nn.Module):
    """One pre-LN transformer block: [B, L, N] -> [B, L, N]."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln_att = nn.LayerNorm(dim)
        self.att = SelfAttention(dim, heads, dropout)
        self.ln_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        h = h + self.dropout(self.att(self.ln_att(h), allowed))
        return h + self.dropout(self.ffn(self.ln_ffn(h)))


@MODELS.register("sasrec")
class SASRec(SessionRecommender):
    """SASRec blocks + the Eq. (3) readout over an injected item table (see module doc)."""

    config_class = SASRecConfig

    def __init__(self, n_items: int, config: SASRecConfig | None = None,
                 items: ItemTable | None = None) -> None:
        super().__init__()
        self.config = config or SASRecConfig()
        c = self.config
        self.items = resolve_item_table(n_items, c.dim, items)
        self.positions = nn.Embedding(c.max_len, c.dim)
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c.dim, c.heads, c.dropout) for _ in range(c.layers))
        self.ln_out = nn.LayerNorm(c.dim)
        self.readout = SoftAttentionReadout(c.dim)
        paper_init_(self.encoder_modules())

    def encoder_modules(self) -> nn.ModuleList:
        """Everything but the item table (which owns its initialisation)."""
        return nn.ModuleList([self.positions, self.blocks, self.ln_out, self.readout])

    def sequence(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Position states h [B, L, N] and the real-position mask bool [B, L]."""
        items, mask = clean_items(items, lengths)
        pos = torch.arange(items.shape[1], device=items.device)
        back = (lengths.unsqueeze(1) - 1 - pos.unsqueeze(0)).clamp(0, self.config.max_len - 1)  # [B, L]
        h = self.dropout(self.items.embed(items) + self.positions(back))
        h = h * mask.unsqueeze(-1).to(h.dtype)
        allowed = mask.unsqueeze(1).unsqueeze(1)  # [B, 1, 1, L]: keys must be real items
        if self.config.causal:
            allowed = allowed & (pos.unsqueeze(0) <= pos.unsqueeze(1))  # [B, 1, L, L]
        for block in self.blocks:
            h = block(h, allowed)
        return self.ln_out(h), mask

    def encode(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """items [B, L], lengths [B] -> theta [B, N]."""
        h, mask = self.sequence(items, lengths)
        return self.readout(h, mask)
