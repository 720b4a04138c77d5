"""The soft-attention session readout of EODRec Eq. (3) (from SR-GNN / NISER).

    x*      = mean of x_t over the positions in ``mask``               [B, N]
    alpha_t = f^T sigmoid(W1 x* + W2 x_t + c)                          [B, L]
    theta   = sum_t alpha_t x_t  over the positions in ``mask``        [B, N]

``alpha`` is a sigmoid-gated weight, not a softmax: positions outside the mask are removed
by zeroing their weight. The same module (same parameters) pools the whole session for
scoring and, with a hot-item or cold-item mask, the hot and cold sub-sessions of the
distillation (Eq. 20). An empty mask (a session without cold items, say) gives theta = 0,
never NaN.
"""

from __future__ import annotations

import torch
from torch import nn


class SoftAttentionReadout(nn.Module):
    """theta = sum_t alpha_t x_t with alpha_t = f^T sigmoid(W1 x_mean + W2 x_t + c)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, dim, bias=False)
        self.w2 = nn.Linear(dim, dim, bias=True)  # its bias is c
        self.f = nn.Linear(dim, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x [B, L, N] (position states), mask bool [B, L] (positions to pool) -> theta [B, N]."""
        m = mask.unsqueeze(-1).to(x.dtype)  # [B, L, 1]
        mean = (x * m).sum(1) / m.sum(1).clamp(min=1.0)  # [B, N]
        gate = torch.sigmoid(self.w1(mean).unsqueeze(1) + self.w2(x))  # [B, L, N]
        alpha = self.f(gate) * m  # [B, L, 1]
        return (alpha * x).sum(1)
