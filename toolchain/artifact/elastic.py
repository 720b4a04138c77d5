"""Cutting an elastic student to a byte budget at freeze time (one run, any budget).

An elastic student's table is nested codes whose every prefix was trained
(:mod:`toolchain.compression.quantized_codes`); a cut keeps its first c code columns, with the
cut's own scales folded into the codebooks, and is an ordinary student: it freezes, exports and
is size-gated like any other. :func:`choose_cut` finds the largest cut whose artifact fits a
budget, counting bytes exactly as :func:`toolchain.artifact.freeze.deployed_bytes` does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from toolchain.sizes.units import human
from toolchain.artifact.freeze import FreezeOptions, deployed_bytes
from toolchain.errors import InternalError, UsageError
from toolchain.models.base import SessionRecommender
from toolchain.models.cut_encoders import folded_encoder_state, has_cut_encoders


@dataclass(frozen=True)
class Cut:
    """The chosen prefix: ``columns`` of the run's ``of``, and the artifact's bytes at it."""

    columns: int
    of: int
    bytes: int


def is_elastic(model: SessionRecommender) -> bool:
    """Whether the model's item table can be cut (an elastic nested-codes table)."""
    return bool(getattr(model.items, "elastic", False))


def cut_model(model: SessionRecommender, columns: int) -> SessionRecommender:
    """A copy of ``model`` (eval mode) whose table is the plain ``columns``-column cut (and whose
    encoder, with ``cut_encoders``, is the cut's own, folded)."""
    if has_cut_encoders(model):  # a fresh plain model of the cut, its encoder the cut's own
        with model.items.at_cut(columns):
            state = folded_encoder_state(model)
        with torch.random.fork_rng():  # (building it initialises weights: leave training's draws alone)
            out = type(model)(model.items.n_items, model.config, items=model.items.cut_table(columns))
        out.to(next(model.parameters()).device)
        missing, unexpected = out.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("items.") for k in missing):
            raise InternalError(f"a cut's folded encoder does not fit its plain model (missing "
                                f"{[k for k in missing if not k.startswith('items.')][:3]}, unexpected {unexpected[:3]})")
        return out.eval()
    out = copy.deepcopy(model).eval()
    out.items = model.items.cut_table(columns).eval()
    return out


def cut_bytes(model: SessionRecommender, columns: int, options: FreezeOptions) -> int:
    """Deployed bytes of the ``columns``-column cut frozen with ``options``."""
    if has_cut_encoders(model):  # its state names the corrections: count the folded cut
        return deployed_bytes(cut_model(model, columns), options)["total"]
    with model.items.at_cut(columns):
        return deployed_bytes(model, options)["total"]


def choose_cut(model: SessionRecommender, budget: int, options: FreezeOptions) -> Cut:
    """The largest cut of an elastic ``model`` whose artifact fits ``budget`` bytes.

    A budget below the one-column cut is a :class:`UsageError` naming that smallest cut."""
    top = model.items.m
    sizes = {c: cut_bytes(model, c, options) for c in (1, top)}
    smallest = sizes[1]
    if smallest > budget:
        raise UsageError(f"the budget of {budget:,} bytes ({human(budget)}) is below this run's smallest cut: "
                         f"{smallest:,} bytes ({human(smallest)}) with 1 of its {top} code columns",
                         hint=f"raise the budget to at least {human(smallest)}")
    lo, hi = 1, top  # invariant: cut lo fits; bytes grow with the columns
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid not in sizes:
            sizes[mid] = cut_bytes(model, mid, options)
        if sizes[mid] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return Cut(lo, top, sizes[lo])
