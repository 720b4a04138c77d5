"""The benchmarked scales' deployable student is what ``--ratio 30`` builds there."""

from __future__ import annotations

import pytest

from toolchain.sizes.fit import fit_table, teacher_bytes
from toolchain.artifact.quantize import FloatStorage
from toolchain.compression.quantized_codes import QuantizedCodesConfig
from toolchain.models.sasrec import SASRec
from toolchain.models.scale_presets import SCALES


@pytest.mark.parametrize("name", sorted(SCALES))
def test_the_deployable_student_is_the_ratio_30_fit(name):
    scale = SCALES[name]
    budget = int(teacher_bytes(SASRec(scale.n_items, scale.sasrec)) / 30)
    fit = fit_table(scale.n_items, scale.sasrec, QuantizedCodesConfig(), budget, FloatStorage.int8,
                    storage_given=False)
    assert fit.table == scale.deployable
