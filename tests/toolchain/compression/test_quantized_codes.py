"""Fixed-code tables: assignment from a teacher table, exact storage rounding, LUT scoring."""

from __future__ import annotations

import pytest
import numpy as np
import torch

from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.compression.storage import fake_storage
from toolchain.errors import ConfigError

N_ITEMS, DIM = 300, 12


def _sessions(seed: int = 2) -> torch.Tensor:
    """Session vectors that look mostly along the first 3 of 12 dimensions."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([10.0, 8.0, 6.0] + [0.3] * (DIM - 3))
    return torch.randn(500, DIM, generator=g) * scale


def _teacher_table(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_ITEMS + 1, DIM, generator=g)
    x[0] = 0
    return x


@pytest.mark.parametrize("structure,m", [("product", 4), ("product", 5), ("residual", 3)])
def test_more_codes_reconstruct_better(structure, m):
    x = _teacher_table()
    errs = []
    for mm in (1, m):
        t = QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(m=mm, k=16, structure=structure,
                                                                   codebook_storage="fp32", metric="euclidean"))
        errs.append(t.assign_from(x))
    assert errs[1] < errs[0] < 1.0
    assert t.codes[0].tolist() == [0] * m and int(t.codes.max()) < 16


def test_uneven_subspaces_pad_and_score_like_the_table():
    x = _teacher_table()
    t = QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(m=5, k=8)).eval()  # d = 3, 3 padded dims
    t.assign_from(x, sessions=_sessions())
    assert t.sub == 3 and t.codebooks.shape == (5, 8, 3)
    theta = torch.randn(4, DIM)
    lut_scores = t.lookup_scores(theta)
    dense = theta @ t.all_embeddings().t()
    assert torch.allclose(lut_scores[:, 1:], dense[:, 1:], atol=1e-5)
    assert torch.equal(t.score(theta)[:, 0], torch.zeros(4))
    assert lut_scores[:, 0].abs().sum() == 0 and t.embed(torch.tensor([0])).abs().sum() == 0


@pytest.mark.parametrize("storage", ["fp16", "int8"])
def test_training_sees_the_stored_codebooks_and_gets_a_gradient(storage):
    t = QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(m=4, k=8, codebook_storage=storage)).train()
    t.assign_from(_teacher_table(), sessions=_sessions())
    stored = t.stored_codebooks()
    assert not torch.equal(stored, t.codebooks)  # rounded ...
    assert torch.equal(fake_storage(stored.detach(), storage), stored.detach())  # ... idempotently
    t.score(torch.randn(2, DIM)).sum().backward()
    assert t.codebooks.grad is not None and t.codebooks.grad.abs().sum() > 0


def test_popularity_weights_favour_frequent_items():
    x = _teacher_table(1)
    counts = torch.ones(N_ITEMS + 1)
    counts[1:31] = 1000.0  # 30 hot items
    errs = {}
    for weighted in (False, True):
        t = QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(m=2, k=16, weighted=weighted,
                                                                   codebook_storage="fp32", metric="euclidean"))
        t.assign_from(x, weights=counts)
        errs[weighted] = float(((t.all_embeddings()[1:31] - x[1:31]) ** 2).sum())
    assert errs[True] < errs[False]


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="structure"):
        QuantizedCodesConfig(structure="tree")
    with pytest.raises(ConfigError, match="codebook_storage must be one of fp32, fp16, int8, int4"):
        QuantizedCodesConfig(codebook_storage="int2")


def test_score_aware_codes_cut_the_score_error_where_sessions_look():
    x, sessions = _teacher_table(), _sessions()
    metric = sessions.t() @ sessions / len(sessions)
    errors = {}
    for kind in ("euclidean", "sessions"):
        t = QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(m=3, k=8, codebook_storage="fp32", metric=kind))
        t.assign_from(x, sessions=sessions if kind == "sessions" else None)
        err = (t.all_embeddings() - x)[1:].detach()
        errors[kind] = float(((err @ metric) * err).sum())
        assert (t.rotation is None) == (kind == "euclidean")
    assert errors["sessions"] < 0.5 * errors["euclidean"], errors
    with pytest.raises(Exception, match="session vectors"):
        QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(m=2, k=8)).assign_from(x)


def test_int4_storage_packs_two_columns_a_byte_as_the_artifact_writer_does():
    from toolchain.artifact.quantize import FloatStorage, dequantize, quantize
    from toolchain.compression.storage import quantize_rows, widen

    x = torch.randn(5, 12) * torch.logspace(-2, 1, 5)[:, None]
    values, scales = quantize_rows(x, "int4")
    stored = quantize(x.numpy(), FloatStorage.int4)
    assert values.dtype == torch.uint8 and values.shape == (5, 6)
    assert np.array_equal(values.numpy(), stored["values"])  # the graph and the artifact hold the same bytes
    w = widen(values, scales)
    assert np.allclose(w.numpy(), dequantize(stored), atol=1e-7)
    assert torch.all((x - w).abs() <= scales / 2 + 1e-6)  # rounded to the nearest of 15 levels
    again = quantize_rows(w, "int4")  # storing a stored tensor changes nothing
    assert torch.equal(again[0], values) and torch.allclose(widen(*again), w)
    odd = quantize_rows(torch.randn(3, 5), "int4")[0]  # an odd width stays int8
    assert odd.dtype == torch.int8


def test_int4_codebooks_halve_the_codebook_bytes_keep_an_int8_rotation_and_odd_widths_stay_int8():
    from toolchain.artifact.freeze import artifact_parts, deployed_bytes
    from toolchain.models.sasrec import SASRec, SASRecConfig

    def student(storage: str, **table) -> SASRec:
        t = QuantizedCodesTable(N_ITEMS, DIM, QuantizedCodesConfig(k=8, codebook_storage=storage, **table))
        t.assign_from(_teacher_table(), sessions=_sessions())
        return SASRec(N_ITEMS, SASRecConfig(dim=DIM, layers=1, heads=1, max_len=10), items=t).eval()

    nested = dict(m=3, structure="nested", subspaces=2)  # codewords of d = 6: three bytes of int4 pairs
    s4, s8 = student("int4", **nested), student("int8", **nested)
    t4 = s4.items
    assert t4.storage_bytes() == s8.items.storage_bytes() - t4.rows * 8 * t4.sub // 2
    assert torch.equal(t4.stored_rotation(), fake_storage(t4.rotation, "int8"))  # R stays int8
    assert not torch.equal(t4.stored_codebooks(), fake_storage(t4.codebooks, "int8"))  # 15 levels, not 255
    b4, b8 = deployed_bytes(s4), deployed_bytes(s8)
    assert b8["codebooks"] - b4["codebooks"] == t4.rows * 8 * t4.sub // 2 and b4["rotation"] == b8["rotation"]
    parts = artifact_parts(s4).parts
    assert parts["codebooks"].meta["storage"] == "int4" and parts["rotation"].meta["storage"] == "int8"
    odd = student("int4", m=4, structure="product")  # d = 3: int4 cannot pack it, it is stored int8
    assert odd.items.storage_bytes() == student("int8", m=4, structure="product").items.storage_bytes()
    assert artifact_parts(odd).parts["codebooks"].meta["storage"] == "int8"
