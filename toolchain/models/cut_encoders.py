"""Each cut of an elastic student with its own encoder (``item_table.cut_encoders``; ours).

An elastic table's cuts share one encoder, though a 2-column cut feeds it far coarser item
vectors than the whole table does; a student trained for one budget has its encoder to itself.
With ``cut_encoders`` every parameter of the encoder (everything outside the item table) gets,
for each cut c below the whole table, its own correction: at cut c the model runs with
W + delta_W[c - 1], at the whole table with W. The corrections live in the run only (M - 1
copies of the encoder's parameters); freeze writes W + delta_W[c - 1] into
a cut's plain model (:func:`folded_encoder_state`), so its artifact holds one encoder as every
artifact does: zero extra deployed bytes.

The corrections are torch parametrizations (``module.weight`` reads W + delta for the table's
current cut), so a step at any cut trains both W and that cut's delta, a checkpoint is the
state dict, and the table's ``at_cut`` alone switches encoders. State-dict names of a
parametrized tensor are ``NAME.parametrizations.TENSOR.original`` (W) and
``....parametrizations.TENSOR.0.deltas``; :func:`plain_name` maps them back.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from toolchain.compression.item_table import ItemTable

_ORIGINAL = ".original"
_DELTAS = ".0.deltas"


class CutDelta(nn.Module):
    """W -> W + deltas[c - 1] while the table is cut to c < M columns; W at the whole table."""

    def __init__(self, table: ItemTable, shape: torch.Size) -> None:
        super().__init__()
        self.deltas = nn.Parameter(torch.zeros(table.m - 1, *shape))
        object.__setattr__(self, "_table", table)  # read, not owned: not a submodule, not in the state

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        cut = self._table.cut
        return w if cut >= self._table.m else w + self.deltas[cut - 1]


def add_cut_encoders(model: nn.Module) -> nn.Module:
    """Give every encoder parameter of ``model`` (outside ``model.items``) a correction per cut."""
    table = model.items
    modules = [m for name, m in model.named_modules() if not (name == "items" or name.startswith("items."))]
    for module in modules:
        for name, p in list(module.named_parameters(recurse=False)):
            parametrize.register_parametrization(module, name, CutDelta(table, p.shape))
    return model


def has_cut_encoders(model: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m) for m in model.modules())


@torch.no_grad()
def folded_encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The encoder's state (outside the item table) under its plain names, each corrected tensor
    as it reads at the table's current cut: what a plain model of that cut loads. (Not
    ``remove_parametrizations`` on a copy: a deep copy shares its parametrized classes with the
    original, so removing one from the copy would remove it from the original too.)"""
    state = {}
    for key, value in model.state_dict().items():
        name = plain_name(key)
        if name is not None and not name.startswith("items."):
            state[name] = value.detach().clone()
    for prefix, module in model.named_modules():
        if parametrize.is_parametrized(module) and not prefix.startswith("items"):
            for tensor in module.parametrizations.keys():
                state[f"{prefix}.{tensor}" if prefix else tensor] = getattr(module, tensor).detach().clone()
    return state


def plain_name(key: str) -> str | None:
    """A state-dict key as an unparametrized model names it (``a.parametrizations.weight.original``
    -> ``a.weight``); None for a cut's correction, which a plain model does not have."""
    if ".parametrizations." not in key:
        return key
    if key.endswith(_DELTAS):
        return None
    head, _, tail = key.partition(".parametrizations.")
    return f"{head}.{tail[: -len(_ORIGINAL)]}" if tail.endswith(_ORIGINAL) else key
