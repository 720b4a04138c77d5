"""Small export-friendly tensor helpers shared by the classic session models.

Every helper works on the one batch layout (``items`` int64 [B, L] left-aligned, zero
padded; ``lengths`` int64 [B] in 1..L) with static shapes for a given L: no ``.item()``, no
boolean-mask indexing, no Python branching on tensor values, so models built from them
trace through ``torch.export`` / ONNX / TorchScript unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from toolchain.compression.item_table import FullTable, ItemTable, uniform_
from toolchain.errors import ConfigError
from toolchain.models.base import length_mask


def clean_items(items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``items`` with every position past ``lengths`` set to 0, and the mask.

    The batching code already pads with zeros, but a model must not depend on that: an
    exported model receives whatever a caller writes into the padding.

    Returns (items int64 [B, L], mask bool [B, L]).
    """
    mask = length_mask(items, lengths)
    return items * mask, mask


def gather_last(seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The vector at position ``lengths - 1`` of each row: [B, L, H] -> [B, H].

    Replaces ``pack_padded_sequence`` for the GRUs: run the RNN over the whole padded
    sequence and pick the state after the last real item (a left-to-right RNN's states
    before that point never see the padding).
    """
    idx = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, seq.shape[-1])
    return seq.gather(1, idx).squeeze(1)


def masked_mean(seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real positions: seq [B, L, H], mask bool [B, L] -> [B, H]."""
    m = mask.unsqueeze(-1).to(seq.dtype)
    return (seq * m).sum(1) / m.sum(1).clamp(min=1.0)


def resolve_item_table(n_items: int, dim: int, items: ItemTable | None) -> ItemTable:
    """The given table (checked against ``n_items``/``dim``) or a fresh :class:`FullTable`."""
    if items is None:
        return FullTable(n_items, dim)
    problems = []
    if items.n_items != n_items:
        problems.append(f"item table holds {items.n_items} items but the model was built for "
                        f"{n_items}; build both from the same dataset")
    if items.dim != dim:
        problems.append(f"item table dimension is {items.dim} but the model's dim is {dim}; "
                        f"set the model config's dim to {items.dim}")
    if problems:
        raise ConfigError(problems, source="model construction")
    return items


def init_uniform_(module: nn.Module, *, skip: nn.Module | None = None) -> None:
    """U(-0.1, 0.1) on every parameter of ``module`` except those of ``skip``.

    The paper initialises all learnable parameters this way; the item table is skipped
    because each representation owns its initialisation (tensor-train cores, for one,
    must be scaled so that their *products* land in that range).
    """
    skipped = {id(p) for p in skip.parameters()} if skip is not None else set()
    for p in module.parameters():
        if id(p) not in skipped:
            uniform_(p)
