"""SR-GNN (Wu et al., AAAI 2019): a gated GNN over each session's graph, attention readout.

The original builds, per session and in Python, a graph whose nodes are the session's
*distinct* items, with an edge u -> v when v directly follows u somewhere in the session;
in- and out-adjacency rows are normalised by degree (a mean over distinct neighbours).
The number of nodes depends on the data, which does not export. Here the graph has a
fixed shape for a given L, and gives the same node states:

* **Nodes are positions** 0..L-1 of the padded session (padding positions are isolated).
* **Same item** S [B, L, L]: S[p, q] = 1 when real positions p and q hold the same item.
* **Position edges** E [B, L, L]: E[p, p+1] = 1 for consecutive real positions.
* **Item edges lifted to positions** P = min(1, S E S): P[p, q] = 1 when item(p) -> item(q)
  is an edge of the original graph (binary, like the original's ``u_A[u][v] = 1``).
* **Counting each distinct item once**: weight column q by w[q] = 1 / #occurrences of
  item(q); then sum_q P[p, q] w[q] h[q] = sum over distinct out-neighbours v of h_v.
* A_out[p, q] = P[p, q] w[q] / max(1, sum_q P[p, q] w[q])  (mean over out-neighbours),
  A_in[p, q] = P[q, p] w[q] / max(1, sum_q P[q, p] w[q])   (mean over in-neighbours).

Positions holding the same item start from the same embedding and receive the same
messages, so they keep identical states: each position's state *is* its item-node's
state, and the original's ``hidden[alias_inputs]`` gather is the identity. Everything is
dense [B, L, L] algebra: no loops, no ``unique``/``nonzero``, static shapes.

Readout (as in the paper): s_l = h at position len-1; alpha_i = q^T sigmoid(W1 s_l + W2 h_i
+ c); s_g = sum_i alpha_i h_i over real positions; theta = W3 [s_l; s_g] (hybrid) or s_g.
Scores are theta . item embeddings with the same table that embeds the inputs.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from toolchain.compression.item_table import ItemTable
from toolchain.config import Config, check_positive
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.session_ops import clean_items, gather_last, init_uniform_, resolve_item_table


@dataclasses.dataclass
class SRGNNConfig(Config):
    """dim: N; steps: gated-GNN propagation steps; hybrid: concatenate the last item."""

    KIND = "srgnn"

    dim: int = 128
    steps: int = 1
    hybrid: bool = True

    def problems(self) -> list[str]:
        problems: list[str] = []
        check_positive(problems, dim=self.dim, steps=self.steps)
        return problems

    @classmethod
    def tiny(cls) -> SRGNNConfig:
        return cls(dim=16)

    @classmethod
    def tmall_scale(cls) -> SRGNNConfig:
        return cls(dim=128)

    @classmethod
    def retailrocket_scale(cls) -> SRGNNConfig:
        return cls(dim=256)


def session_graph(items: torch.Tensor, mask: torch.Tensor,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (A_in, A_out), each [B, L, L] of ``dtype``, of the fixed-shape session graph.

    ``items`` int64 [B, L] with padding already zeroed, ``mask`` bool [B, L].
    """
    m = mask.to(dtype)
    same = (items.unsqueeze(2) == items.unsqueeze(1)).to(dtype)
    same = same * m.unsqueeze(2) * m.unsqueeze(1)  # [B, L, L]
    L = items.shape[1]
    pos = torch.arange(L, device=items.device)
    shift = (pos.unsqueeze(1) + 1 == pos.unsqueeze(0)).to(dtype)  # [L, L]
    edges = shift.unsqueeze(0) * m.unsqueeze(2) * m.unsqueeze(1)  # p -> p+1, both real
    lifted = torch.clamp(same @ edges @ same, max=1.0)  # [B, L, L]
    w = m / same.sum(-1).clamp(min=1.0)  # [B, L]: 1/occurrences, 0 at padding

    def normalise(adj: torch.Tensor) -> torch.Tensor:
        weighted = adj * w.unsqueeze(1)
        return weighted / weighted.sum(-1, keepdim=True).clamp(min=1.0)

    return normalise(lifted.transpose(1, 2)), normalise(lifted)


class GatedGraphCell(nn.Module):
    """One SR-GNN propagation step: messages from A_in / A_out, then a GRU-style update.

    a_in, a_out [B, L, L], h [B, L, N] -> [B, L, N].
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.edge_in = nn.Linear(dim, dim)
        self.edge_out = nn.Linear(dim, dim)
        self.b_in = nn.Parameter(torch.zeros(dim))
        self.b_out = nn.Parameter(torch.zeros(dim))
        self.w_ih = nn.Linear(2 * dim, 3 * dim)
        self.w_hh = nn.Linear(dim, 3 * dim)

    def forward(self, a_in: torch.Tensor, a_out: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        msg_in = a_in @ self.edge_in(h) + self.b_in
        msg_out = a_out @ self.edge_out(h) + self.b_out
        gi = self.w_ih(torch.cat([msg_in, msg_out], -1))
        gh = self.w_hh(h)
        i_r, i_z, i_n = gi.chunk(3, -1)
        h_r, h_z, h_n = gh.chunk(3, -1)
        reset = torch.sigmoid(i_r + h_r)
        update = torch.sigmoid(i_z + h_z)
        new = torch.tanh(i_n + reset * h_n)
        return new + update * (h - new)


@MODELS.register("srgnn")
class SRGNN(SessionRecommender):
    """SR-GNN: a gated GNN over the session graph, then a soft-attention + last-item readout."""
    config_class = SRGNNConfig

    def __init__(self, n_items: int, config: SRGNNConfig | None = None,
                 items: ItemTable | None = None) -> None:
        super().__init__()
        self.config = config or SRGNNConfig()
        n = self.config.dim
        self.items = resolve_item_table(n_items, n, items)
        self.cell = GatedGraphCell(n)  # shared across steps, as in the original
        self.w_last = nn.Linear(n, n)
        self.w_node = nn.Linear(n, n)
        self.q = nn.Linear(n, 1, bias=False)
        self.w_hybrid = nn.Linear(2 * n, n)
        init_uniform_(self, skip=self.items)

    def propagate(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Node (= position) states after ``steps`` GNN steps: [B, L] -> [B, L, N]."""
        h = self.items.embed(items)
        a_in, a_out = session_graph(items, mask, h.dtype)
        for _ in range(self.config.steps):  # a config constant: unrolled at export
            h = self.cell(a_in, a_out, h)
        return h

    def readout(self, h: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Soft-attention + last-item hybrid: h [B, L, N] -> theta [B, N]."""
        s_l = gather_last(h, lengths)
        alpha = self.q(torch.sigmoid(self.w_last(s_l).unsqueeze(1) + self.w_node(h)))  # [B, L, 1]
        s_g = (alpha * h * mask.unsqueeze(-1).to(h.dtype)).sum(1)
        if self.config.hybrid:
            return self.w_hybrid(torch.cat([s_g, s_l], -1))
        return s_g

    def encode(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """items [B, L], lengths [B] -> theta [B, N]."""
        items, mask = clean_items(items, lengths)
        return self.readout(self.propagate(items, mask), mask, lengths)
