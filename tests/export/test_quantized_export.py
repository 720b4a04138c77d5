"""Quantized-codes students export to every format, run from their stored bytes, match eager."""

from __future__ import annotations

import pytest
import torch

from export.graphs.base import GraphOptions, Kernels
from export.parity import random_sessions
from export.pipeline import export_model
from toolchain.artifact.freeze import FreezeOptions, freeze_model
from toolchain.artifact.load import load_artifact
from toolchain.sizes.parts import largest_parts
from toolchain.artifact.quantize import FloatStorage
from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.models.sasrec import SASRec, SASRecConfig
from toolchain.training.config import TrainConfig
from toolchain.training.spec import RunSpec

N_ITEMS, L = 90, 8
CASES = [  # (structure, M, K, codebook storage, encoder storage, metric, lead)
    ("product", 3, 16, "fp16", "int8", "sessions", 0),
    ("product", 4, 8, "int8", "fp32", "sessions", 0),
    ("product", 3, 16, "int8", "int8", "euclidean", 0),  # int8 books, no R
    ("residual", 2, 8, "fp32", "fp16", "euclidean", 0),
    ("nested", 5, 8, "int8", "int8", "sessions", 0),  # S = 3 (d = 6, 2 padded dims): one partial stage
    ("nested", 4, 8, "fp16", "int8", "sessions", 1),  # a lead column over all 3 subspaces, then 3 columns
    ("product", 3, 16, "int8", "int4", "sessions", 0),  # int4 encoder: nibbles widened in the graph
]


def _artifact(tmp_path, structure, m, k, books, encoder, metric, lead=0):
    torch.manual_seed(0)
    cfg = QuantizedCodesConfig(m=m, k=k, structure=structure, codebook_storage=books, kmeans_iters=5, metric=metric,
                               subspaces=3, lead=lead)
    model_cfg = SASRecConfig.tiny()
    model = SASRec(N_ITEMS, model_cfg, items=QuantizedCodesTable(N_ITEMS, model_cfg.dim, cfg))
    x = torch.randn(N_ITEMS + 1, model_cfg.dim) * 0.3
    model.items.assign_from(x, sessions=torch.randn(64, model_cfg.dim) * torch.linspace(2, 0.1, model_cfg.dim))
    spec = RunSpec("student", model_cfg, cfg, TrainConfig.tiny())
    out = freeze_model(model.eval(), spec, [""] + [str(i) for i in range(N_ITEMS)], tmp_path / "art",
                       FreezeOptions(encoder_storage=FloatStorage(encoder)))
    return load_artifact(out)[2]


@pytest.mark.slow
@pytest.mark.parametrize("structure,m,k,books,encoder,metric,lead", CASES)
@pytest.mark.parametrize("kernels", [Kernels.odtool, Kernels.portable])
def test_every_format_matches_eager(tmp_path, structure, m, k, books, encoder, metric, lead, kernels):
    model = _artifact(tmp_path, structure, m, k, books, encoder, metric, lead)
    opts = GraphOptions(L, 5, kernels, encoder_storage=encoder)
    formats = ["executorch", "torchscript", "onnx"] if kernels == Kernels.portable else ["executorch"]
    results = export_model(model, "s", formats, tmp_path / "x", opts, random_sessions(N_ITEMS, L, 12, seed=1))
    assert all(r.parity["ok"] and r.parity["sessions"] >= 12 for r in results)
    by = {r.format: r for r in results}
    pte = (tmp_path / "x" / "s.pte").read_bytes()
    # int8 product codebooks are read as int8 by pq_topk, which builds the table itself; with a
    # rotation (score-aware codes) pq_topk_rotated also rotates theta and pq_embed embeds the
    # session's items, both from R's int8 bytes
    int8_product, rotated = structure == "product" and books == "int8", metric == "sessions"
    scorer = (b"odtool::pq_topk_rotated" if rotated else b"odtool::pq_topk") if int8_product else b"odtool::lut_topk"
    assert scorer in pte if kernels == Kernels.odtool else b"odtool::" not in pte
    assert (b"odtool::pq_topk_rotated" in pte) == (kernels == Kernels.odtool and int8_product and rotated)
    assert (b"odtool::pq_embed" in pte) == (kernels == Kernels.odtool and int8_product and rotated)
    if encoder in ("int8", "int4"):  # with odtool's kernels the block and the readout are one fused call each
        assert (b"odtool::sasrec_block_w8" in pte) == (kernels == Kernels.odtool)
        assert (b"odtool::sasrec_readout_w8" in pte) == (kernels == Kernels.odtool)
    # int4 weights reach those kernels unpacked on each call from the stored nibbles
    assert (b"odtool::unpack_w4" in pte) == (encoder == "int4" and kernels == Kernels.odtool)
    if "onnx" in by:  # the file holds the stored dtypes, not a widened copy
        parts = dict(largest_parts(by["onnx"].path, top=100))
        width = {"fp32": 4, "fp16": 2, "int8": 1, "int4": 0.5}[encoder]
        qkv = [b for name, b in parts.items() if "qkv" in name and "scales" not in name and "bias" not in name]
        assert qkv == [3 * 16 * 16 * width], parts  # tiny: N = 16
        assert any("codes_t" in name and b == m * (N_ITEMS + 1) for name, b in parts.items()), parts
