"""Deployed model sizes and compression ratios against the teacher.

* ``table_bytes``: the item representation as it is stored on the device
  (:meth:`ItemTable.storage_bytes`: fp32 table, bit-packed codes + fp32 codebooks, TT cores);
* ``encoder_bytes``: every other deployed tensor in fp32 (backbone, readout, positions);
  training-only parts (the code learner, X) live inside the table and are not counted;
* ``table_ratio``: the paper's ratio in stored numbers, |V| N over the table's count
  (Eq. 13 for codes, Eq. 10's |V| N / core entries for tensor trains, 1 for a full table);
* ``byte_ratio``: the teacher's total bytes over this model's total bytes (what a phone sees).
"""

from __future__ import annotations

from typing import Any

from toolchain.compression.item_table import FullTable
from toolchain.models.base import SessionRecommender


def encoder_bytes(model: SessionRecommender) -> int:
    """fp32 bytes of the deployed tensors outside the item table."""
    skip = {id(t) for t in model.items.parameters()} | {id(t) for t in model.items.buffers()}
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    return 4 * sum(t.numel() for t in tensors if id(t) not in skip)


def table_ratio(model: SessionRecommender) -> float:
    table = model.items
    if hasattr(table, "compression_ratio"):
        return float(table.compression_ratio())
    if isinstance(table, FullTable):
        return 1.0
    return table.n_items * table.dim * 4 / table.storage_bytes()


def size_report(model: SessionRecommender, teacher: SessionRecommender | None) -> dict[str, Any]:
    """Sizes of ``model`` and its ratios against ``teacher`` (None: against itself)."""
    ref = teacher if teacher is not None else model
    table = model.items.storage_bytes()
    total = table + encoder_bytes(model)
    ref_total = ref.items.storage_bytes() + encoder_bytes(ref)
    return {
        "model_bytes": total,
        "table_bytes": table,
        "encoder_bytes": total - table,
        "teacher_bytes": ref_total,
        "table_ratio": table_ratio(model),
        "table_byte_ratio": ref.items.storage_bytes() / table,
        "byte_ratio": ref_total / total,
    }
