"""From a :class:`ModelSpec` to an untrained model, through the model and item-table registries."""

from __future__ import annotations

import torch

from toolchain.compression.codes import CodesTable
from toolchain.compression.item_table import ITEM_TABLES, FullTable
from toolchain.models.base import MODELS, SessionRecommender
from toolchain.models.cut_encoders import add_cut_encoders
from toolchain.models.sasrec import SASRec
from toolchain.models.spec import SASREC_KINDS, ModelSpec


def build_model(spec: ModelSpec, n_items: int, teacher_embeddings: torch.Tensor | None = None) -> SessionRecommender:
    """The spec's model over ``n_items`` items, untrained. A codes table gets the teacher's
    table X only if given (training)."""
    kind = spec.table_kind
    if kind == "full":
        table = FullTable(n_items, spec.model.dim)
    elif kind == "codes":
        table = CodesTable(n_items, spec.model.dim, spec.item_table, teacher_embeddings)
    else:
        table = ITEM_TABLES.get(kind)(n_items, spec.model.dim, spec.item_table)
    arch = SASRec if spec.kind in SASREC_KINDS else MODELS.get(spec.kind)
    model = arch(n_items, spec.model, items=table)
    if getattr(getattr(table, "config", None), "cut_encoders", False):
        add_cut_encoders(model)  # each cut of an elastic table its own encoder correction
    return model
