"""Sizing a student to a byte budget: the most codes per item whose artifact still fits.

The budget counts what the device holds, exactly as :func:`toolchain.artifact.freeze.deployed_bytes`
counts a frozen artifact's parts: the code matrix, the codebooks in their storage dtype, the
encoder in its storage dtype (with int8's per-row scales) and the file headers. The count is
taken on an untrained model of the candidate shape, so it is the frozen artifact's byte for
byte (sizes depend on shapes and dtypes, never on values).
"""

from __future__ import annotations

from dataclasses import dataclass

from toolchain.sizes.units import human
from toolchain.artifact.freeze import FreezeOptions, deployed_bytes
from toolchain.artifact.quantize import FloatStorage
from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.errors import UsageError
from toolchain.models.base import SessionRecommender
from toolchain.models.sasrec import SASRec, SASRecConfig


@dataclass(frozen=True)
class Fit:
    """A sized student: the chosen item-table config and its deployed ``bytes`` per part."""
    table: QuantizedCodesConfig
    bytes: dict[str, int]  # {part: bytes, "total": ...}


def student_bytes(n_items: int, model: SASRecConfig, table: QuantizedCodesConfig,
                  encoder_storage: FloatStorage) -> dict[str, int]:
    """Deployed bytes of a student of this shape (see module doc)."""
    student = SASRec(n_items, model, items=QuantizedCodesTable(n_items, model.dim, table))
    return deployed_bytes(student, FreezeOptions(encoder_storage=encoder_storage))


def teacher_bytes(teacher: SessionRecommender) -> int:
    """The teacher's deployed bytes (fp32 everything): what ``--ratio`` divides."""
    return deployed_bytes(teacher)["total"]


def fit_table(n_items: int, model: SASRecConfig, base: QuantizedCodesConfig, budget: int,
              encoder_storage: FloatStorage, m_given: bool = False, storage_given: bool = True) -> Fit:
    """The table config with the largest M (codes per item) whose student fits ``budget`` bytes.

    With ``m_given`` the config's own M is kept and only checked. Unless ``storage_given``, fp16
    codebooks are traded for int8 ones (with per-vector scales) when that buys more codes per
    item: on Diginetica's validation split int8 codebooks cost 0.1 P@10 at M = 11 (teacher's
    encoder, untrained codes: 32.08 -> 31.96) while the twelfth code they make room for at 1/30
    of the teacher's bytes is worth +1.1 (33.20). A budget that not even M = 1 meets is a
    :class:`UsageError` naming the smallest feasible budget and what takes it."""
    if storage_given or m_given or base.codebook_storage != "fp16":
        return _fit_m(n_items, model, base, budget, encoder_storage, m_given)
    smaller = _fit_m(n_items, model, base.replace(codebook_storage="int8"), budget, encoder_storage, False)
    try:  # raises (naming a larger smallest budget) only where int8 fits and fp16 does not
        fit = _fit_m(n_items, model, base, budget, encoder_storage, False)
    except UsageError:
        return smaller
    return smaller if smaller.table.m > fit.table.m else fit


def _fit_m(n_items: int, model: SASRecConfig, base: QuantizedCodesConfig, budget: int,
           encoder_storage: FloatStorage, m_given: bool) -> Fit:
    """The largest M for this codebook storage (see :func:`fit_table`)."""
    def size(m: int) -> dict[str, int]:
        return student_bytes(n_items, model, base.replace(m=m), encoder_storage)

    if m_given:
        got = size(base.m)
        if got["total"] > budget:
            raise UsageError(f"a student with M = {base.m} needs {got['total']:,} bytes ({human(got['total'])}), "
                             f"over the budget of {budget:,} ({human(budget)})",
                             hint="drop --M to let the budget choose it, or raise the budget")
        return Fit(base, got)
    hi_m = model.dim if base.structure == "product" else 4096
    smallest = size(1)
    if smallest["total"] > budget:
        enc = smallest["encoder"]
        raise UsageError(f"the budget of {budget:,} bytes ({human(budget)}) is below the smallest student: "
                         f"{smallest['total']:,} bytes ({human(smallest['total'])}) with one code per item "
                         f"(encoder {enc:,} bytes as {encoder_storage.value}, codebooks {smallest['codebooks']:,}, "
                         f"codes {smallest['codes']:,})",
                         hint=f"raise the budget to at least {human(smallest['total'])}"
                              + (", or store the encoder as int4 (--encoder-dtype int4, about half "
                                 "int8's bytes)" if encoder_storage != FloatStorage.int4 else ""))
    lo, hi = 1, hi_m  # invariant: size(lo) fits; bytes grow with M
    if size(hi)["total"] <= budget:
        lo = hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if size(mid)["total"] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return Fit(base.replace(m=lo), size(lo))
