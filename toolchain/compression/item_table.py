"""The item-representation interface every model and exporter uses.

An :class:`ItemTable` represents items ``0..n_items`` (0 is padding and embeds to zeros)
as ``dim``-dimensional vectors, however they are stored: a full table, compositional
codes plus codebooks, or tensor-train cores. Models only call ``embed`` and ``score``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from toolchain.registry import Registry


class ItemTable(nn.Module, ABC):
    """Abstract item-embedding table: embeds item ids, scores session vectors against all items."""
    #: how an artifact and an export graph hold the table's deployed form: None (its tensors as
    #: they are), "compositional" (codes + N-dimensional codebooks: FrozenCodesTable) or
    #: "quantized" (codes + subspace codebooks + rotation, in the table's own storage)
    code_layout: str | None = None

    def __init__(self, n_items: int, dim: int) -> None:
        super().__init__()
        self.n_items = n_items
        self.dim = dim

    @abstractmethod
    def all_embeddings(self) -> torch.Tensor:
        """Every item's vector, [n_items + 1, dim], row 0 zeros (training-time use)."""

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Vectors of ``ids`` [...] -> [..., dim]; id 0 gives zeros."""
        return self.all_embeddings()[ids]

    def score(self, theta: torch.Tensor) -> torch.Tensor:
        """Inner products of session vectors [B, dim] with every item -> [B, n_items + 1]."""
        return theta @ self.all_embeddings().t()

    def auxiliary_losses(self) -> dict[str, torch.Tensor]:
        """Extra training terms the representation needs (e.g. L_mse for codes)."""
        return {}

    def before_step(self) -> None:
        """Called before every training step (an elastic table draws its cut here)."""

    def step_cuts(self) -> list[int]:
        """Cuts whose losses a training step averages (empty: the table as it is)."""
        return []

    def validation_cuts(self) -> list[int]:
        """Smaller forms of the table validated beside it each epoch (elastic tables' cuts)."""
        return []

    def deployed_form(self) -> ItemTable:
        """The table as an artifact stores it (an elastic table: its cut in use, folded)."""
        return self

    @abstractmethod
    def storage_bytes(self) -> int:
        """Bytes this representation needs on a device (the compression-ratio numerator)."""


ITEM_TABLES: Registry[type[ItemTable]] = Registry("item table")


def uniform_(t: torch.Tensor, bound: float = 0.1) -> torch.Tensor:
    """The paper's initialisation: U(-0.1, 0.1)."""
    with torch.no_grad():
        return t.uniform_(-bound, bound)


@ITEM_TABLES.register("full")
class FullTable(ItemTable):
    """A plain |V|+1 x N embedding table (the teacher's)."""

    def __init__(self, n_items: int, dim: int) -> None:
        super().__init__(n_items, dim)
        self.weight = nn.Parameter(uniform_(torch.empty(n_items + 1, dim)))

    def all_embeddings(self) -> torch.Tensor:
        pad = torch.zeros(1, self.dim, dtype=self.weight.dtype, device=self.weight.device)
        return torch.cat([pad, self.weight[1:]], 0)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(ids, self.weight, padding_idx=0) * (ids != 0).unsqueeze(-1)

    def score(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [B, N] -> [B, |V|+1] as one matrix product with the table (column 0, padding,
        is whatever row 0 gives: every caller masks it). No copy of the table is made, so an
        export lowers this to a single fully-connected op."""
        return nn.functional.linear(theta, self.weight)

    def storage_bytes(self) -> int:
        return self.n_items * self.dim * 4
