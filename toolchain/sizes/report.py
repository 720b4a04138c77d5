"""Deployed model sizes and compression ratios against the teacher.

* ``model_bytes``: what the device holds, exactly the frozen artifact's parts (codes,
  codebooks, rotation, encoder in the run's storage dtype, file headers; the vocabulary is
  not counted): :func:`toolchain.artifact.freeze.deployed_bytes`;
* ``table_bytes`` / ``encoder_bytes``: its item-representation parts and its encoder part;
  training-only parts (the code learner, X) are never frozen and never counted;
* ``table_ratio``: the paper's ratio in stored numbers, |V| N over the table's count
  (Eq. 13 for codes, Eq. 10's |V| N / core entries for tensor trains, 1 for a full table);
* ``byte_ratio``: the teacher's total bytes over this model's total bytes (what a phone sees).
"""

from __future__ import annotations

from typing import Any

from toolchain.compression.item_table import FullTable
from toolchain.models.base import SessionRecommender


def table_ratio(model: SessionRecommender) -> float:
    """Compression ratio of the model's item table against a full fp32 |V| x N table."""
    table = model.items
    if hasattr(table, "compression_ratio"):
        return float(table.compression_ratio())
    if isinstance(table, FullTable):
        return 1.0
    return table.n_items * table.dim * 4 / table.storage_bytes()


def size_report(model: SessionRecommender, teacher: SessionRecommender | None,
                encoder_storage: str = "fp32") -> dict[str, Any]:
    """Sizes of ``model`` (its encoder stored as ``encoder_storage``) and its ratios against
    ``teacher`` (fp32; None: against itself)."""
    from toolchain.artifact.freeze import FreezeOptions, deployed_bytes
    from toolchain.artifact.quantize import FloatStorage

    ref = teacher if teacher is not None else model
    parts = deployed_bytes(model, FreezeOptions(encoder_storage=FloatStorage(encoder_storage)))
    ref_parts = deployed_bytes(ref)
    total, ref_total = parts["total"], ref_parts["total"]
    table, ref_table = total - parts["encoder"], ref_total - ref_parts["encoder"]
    return {
        "model_bytes": total,
        "table_bytes": table,
        "encoder_bytes": parts["encoder"],
        "encoder_storage": encoder_storage,
        "teacher_bytes": ref_total,
        "table_ratio": table_ratio(model),
        "table_byte_ratio": ref_table / table,
        "byte_ratio": ref_total / total,
    }
