"""Quantized-codes students export to every format, run from their stored bytes, match eager."""

from __future__ import annotations

import pytest
import torch

from export.graphs.base import GraphOptions, Kernels
from export.parity import random_sessions
from export.pipeline import export_model
from toolchain.artifact.freeze import FreezeOptions, freeze_model
from toolchain.artifact.load import load_artifact
from toolchain.artifact.parts import largest_parts
from toolchain.artifact.quantize import FloatStorage
from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.models.sasrec import SASRec, SASRecConfig
from toolchain.training.config import TrainConfig
from toolchain.training.spec import RunSpec

N_ITEMS, L = 90, 8
CASES = [  # (structure, M, K, codebook storage, encoder storage)
    ("product", 3, 16, "fp16", "int8"),
    ("product", 4, 8, "int8", "fp32"),
    ("residual", 2, 8, "fp32", "fp16"),
]


def _artifact(tmp_path, structure, m, k, books, encoder):
    torch.manual_seed(0)
    cfg = QuantizedCodesConfig(m=m, k=k, structure=structure, codebook_storage=books, kmeans_iters=5)
    model_cfg = SASRecConfig.tiny()
    model = SASRec(N_ITEMS, model_cfg, items=QuantizedCodesTable(N_ITEMS, model_cfg.dim, cfg))
    x = torch.randn(N_ITEMS + 1, model_cfg.dim) * 0.3
    model.items.assign_from(x)
    spec = RunSpec("student", model_cfg, cfg, TrainConfig.tiny())
    out = freeze_model(model.eval(), spec, [""] + [str(i) for i in range(N_ITEMS)], tmp_path / "art",
                       FreezeOptions(encoder_storage=FloatStorage(encoder)))
    return load_artifact(out)[2]


@pytest.mark.slow
@pytest.mark.parametrize("structure,m,k,books,encoder", CASES)
@pytest.mark.parametrize("kernels", [Kernels.odtool, Kernels.portable])
def test_every_format_matches_eager(tmp_path, structure, m, k, books, encoder, kernels):
    model = _artifact(tmp_path, structure, m, k, books, encoder)
    opts = GraphOptions(L, 5, kernels, encoder_storage=encoder)
    formats = ["executorch", "torchscript", "onnx"] if kernels == Kernels.portable else ["executorch"]
    results = export_model(model, "s", formats, tmp_path / "x", opts, random_sessions(N_ITEMS, L, 12, seed=1))
    assert all(r.parity["ok"] and r.parity["sessions"] >= 12 for r in results)
    by = {r.format: r for r in results}
    pte = (tmp_path / "x" / "s.pte").read_bytes()
    assert b"odtool::lut_topk" in pte if kernels == Kernels.odtool else b"odtool::" not in pte
    if encoder == "int8":
        assert (b"odtool::linear_w8" in pte) == (kernels == Kernels.odtool)
    if "onnx" in by:  # the file holds the stored dtypes, not a widened copy
        names = " ".join(name for name, _ in largest_parts(by["onnx"].path, top=100))
        assert "codes_t [" in names
        wide = [n for n, b in largest_parts(by["onnx"].path, top=100) if "qkv" in n]
        assert wide and all(b <= 3 * 16 * 16 * (4 if encoder == "fp32" else 2 if encoder == "fp16" else 1)
                            for _, b in [(n, b) for n, b in largest_parts(by["onnx"].path, top=100) if "qkv" in n])
