"""Budget-first sizing: the count is the artifact's bytes on disk; infeasible budgets are named."""

from __future__ import annotations

import pytest

from toolchain.sizes.fit import fit_table, student_bytes
from toolchain.artifact.freeze import FreezeOptions, deployed_bytes, freeze_model
from toolchain.artifact.quantize import FloatStorage
from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.errors import UsageError
from toolchain.models.sasrec import SASRec, SASRecConfig
from toolchain.training.config import TrainConfig
from toolchain.training.spec import RunSpec

N_ITEMS = 200
MODEL = SASRecConfig.tiny()


def _student(table: QuantizedCodesConfig) -> SASRec:
    return SASRec(N_ITEMS, MODEL, items=QuantizedCodesTable(N_ITEMS, MODEL.dim, table)).eval()


@pytest.mark.parametrize("storage", list(FloatStorage))
def test_accounting_equals_the_bytes_on_disk(tmp_path, storage):
    table = QuantizedCodesConfig(m=3, k=16, codebook_storage="int8")
    model = _student(table)
    spec = RunSpec("student", MODEL, table, TrainConfig.tiny())
    vocab = [""] + [str(i) for i in range(N_ITEMS)]
    out = freeze_model(model, spec, vocab, tmp_path / "a", FreezeOptions(encoder_storage=storage))
    on_disk = sum(p.stat().st_size for p in out.iterdir() if p.name not in ("manifest.json", "vocab.json"))
    assert deployed_bytes(model, FreezeOptions(encoder_storage=storage))["total"] == on_disk
    assert student_bytes(N_ITEMS, MODEL, table, storage)["total"] == on_disk


def test_int4_encoder_is_smaller_than_int8_than_fp16_than_fp32():
    table = QuantizedCodesConfig(m=2, k=16)
    sizes = [student_bytes(N_ITEMS, MODEL, table, s)["encoder"] for s in
             (FloatStorage.fp32, FloatStorage.fp16, FloatStorage.int8, FloatStorage.int4)]
    assert sizes[0] > sizes[1] > sizes[2] > sizes[3]


def test_fit_takes_the_largest_m_that_fits():
    base = QuantizedCodesConfig(k=16)
    budget = student_bytes(N_ITEMS, MODEL, base.replace(m=5), FloatStorage.int8)["total"] + 10
    fit = fit_table(N_ITEMS, MODEL, base, budget, FloatStorage.int8)
    assert fit.table.m == 5 and fit.bytes["total"] <= budget
    with pytest.raises(UsageError, match="over the budget"):
        fit_table(N_ITEMS, MODEL, base.replace(m=6), budget, FloatStorage.int8, m_given=True)


def test_a_budget_below_the_smallest_student_names_it():
    base = QuantizedCodesConfig(k=16)
    smallest = student_bytes(N_ITEMS, MODEL, base.replace(m=1), FloatStorage.fp32)["total"]
    with pytest.raises(UsageError) as e:
        fit_table(N_ITEMS, MODEL, base, smallest - 1, FloatStorage.fp32)
    assert f"{smallest:,} bytes" in str(e.value) and "encoder" in str(e.value)
    assert "int8" in (e.value.hint or "")


def test_int8_codebooks_are_chosen_only_when_they_buy_more_codes():
    model = MODEL.replace(dim=64)
    base = QuantizedCodesConfig(k=64)  # fp16 codebooks by default
    budget = student_bytes(N_ITEMS, model, base.replace(m=20, codebook_storage="int8"), FloatStorage.int8)["total"]
    kept = fit_table(N_ITEMS, model, base, budget, FloatStorage.int8)  # storage given: fp16 stays
    auto = fit_table(N_ITEMS, model, base, budget, FloatStorage.int8, storage_given=False)
    assert kept.table.codebook_storage == "fp16" and kept.table.m < 20
    assert auto.table.codebook_storage == "int8" and auto.table.m == 20 and auto.bytes["total"] <= budget
    # a budget only int8 codebooks meet: the fit uses them; with fp16 asked for, it is an error
    tight = student_bytes(N_ITEMS, model, base.replace(m=1, codebook_storage="int8"), FloatStorage.int8)["total"]
    assert fit_table(N_ITEMS, model, base, tight, FloatStorage.int8, storage_given=False).table.m == 1
    with pytest.raises(UsageError, match="below the smallest student"):
        fit_table(N_ITEMS, model, base, tight, FloatStorage.int8)
    # a budget roomy enough for the most codes either way keeps the fp16 codebooks
    roomy = student_bytes(N_ITEMS, model, base.replace(m=model.dim), FloatStorage.int8)["total"]
    assert fit_table(N_ITEMS, model, base, roomy, FloatStorage.int8, storage_given=False).table.codebook_storage == "fp16"
    # M given: only checked, never re-stored
    fixed = fit_table(N_ITEMS, model, base.replace(m=2), roomy, FloatStorage.int8, m_given=True, storage_given=False)
    assert fixed.table.codebook_storage == "fp16" and fixed.table.m == 2


def test_an_int8_encoder_over_the_budget_points_to_int4_which_fits():
    base = QuantizedCodesConfig(k=16)
    i4 = student_bytes(N_ITEMS, MODEL, base.replace(m=1), FloatStorage.int4)["total"]
    assert i4 < student_bytes(N_ITEMS, MODEL, base.replace(m=1), FloatStorage.int8)["total"]
    with pytest.raises(UsageError) as e:
        fit_table(N_ITEMS, MODEL, base, i4, FloatStorage.int8)
    assert "--encoder-dtype int4" in e.value.hint
    assert fit_table(N_ITEMS, MODEL, base, i4, FloatStorage.int4).bytes["total"] <= i4
