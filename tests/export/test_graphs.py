"""The export forms compute what the eager models compute."""

from __future__ import annotations

import pytest
import torch

from export.graphs.base import GraphOptions, Kernels
from export.graphs.build import build_graph
from export.graphs.sasrec_fast import FastSASRecEncoder
from export.parity import random_sessions
from toolchain.compression.frozen_codes import FrozenCodesTable
from toolchain.models.base import mask_padding
from toolchain.models.sasrec import SASRec, SASRecConfig

N_ITEMS, L = 70, 12


def sasrec(heads: int, codes: bool = False, layers: int = 1) -> SASRec:
    torch.manual_seed(heads + 10 * layers)
    cfg = SASRecConfig.tiny().replace(heads=heads, layers=layers, dim=16, max_len=L)
    items = None
    if codes:
        items = FrozenCodesTable(torch.randint(0, 8, (N_ITEMS + 1, 3)), torch.randn(3, 8, 16) * 0.1)
    return SASRec(N_ITEMS, cfg, items=items).eval()


@pytest.mark.parametrize("heads,layers,codes", [(1, 1, False), (2, 1, False), (2, 2, True), (1, 1, True)])
def test_fast_encoder_equals_sasrec_encode(heads, layers, codes):
    model = sasrec(heads, codes, layers)
    fast = FastSASRecEncoder(model)
    for items, lengths in random_sessions(N_ITEMS, L, 10, seed=heads):
        ref = model.encode(items, lengths)[0]
        assert torch.allclose(fast(items, lengths), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernels", [Kernels.portable, Kernels.odtool])
def test_student_graph_top_k_is_the_models(kernels):
    model = sasrec(1, codes=True)
    graph = build_graph(model, GraphOptions(L, 5, kernels))
    for items, lengths in random_sessions(N_ITEMS, L, 10, seed=4):
        scores = mask_padding(model.score(items, lengths))[0]
        values, indices = graph(items, lengths)
        assert torch.allclose(values, scores[indices], rtol=1e-5, atol=1e-6)  # its own items' true scores
        assert torch.allclose(values, torch.topk(scores, 5).values, rtol=1e-5, atol=1e-6)  # the best ones
