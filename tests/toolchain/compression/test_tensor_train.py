"""Tensor-train and semi-tensor-train item tables: reconstruction, sizes, ratios, export."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from toolchain.compression.item_table import ITEM_TABLES
from toolchain.compression.tensor_train import (
    TARGET_STD,
    SemiTensorTrainTable,
    STTConfig,
    TensorTrainTable,
    TTConfig,
)
from toolchain.compression.tt_shapes import (
    TTShape,
    balanced_factors,
    padded_factors,
    shape_for_ratio,
    stt_compression_ratio,
    stt_parameter_count,
    tt_compression_ratio,
)
from toolchain.errors import ConfigError

TABLES = [
    ("tt", TTConfig.tiny()),
    ("stt", STTConfig.tiny()),
    ("stt", STTConfig(rank=8, n=4, d=2)),
    ("stt", STTConfig(rank=6, n=2, d=4, dim_factors=[2, 2, 2, 2])),
]


def build(kind: str, cfg, n_items: int = 50, dim: int = 16):
    torch.manual_seed(0)
    return ITEM_TABLES.get(kind)(n_items, dim, cfg)


@pytest.mark.parametrize("kind,cfg", TABLES)
def test_embed_matches_full_reconstruction(kind, cfg):
    table = build(kind, cfg)
    full = table.all_embeddings()
    assert full.shape == (51, 16)
    ids = torch.tensor([[0, 1, 7, 50], [49, 3, 3, 0]])
    torch.testing.assert_close(table.embed(ids), full[ids])
    torch.testing.assert_close(table.embed(torch.arange(51)), full)


@pytest.mark.parametrize("kind,cfg", TABLES)
def test_padding_row_is_zero(kind, cfg):
    table = build(kind, cfg)
    assert table.all_embeddings()[0].abs().sum() == 0
    assert table.embed(torch.zeros(3, dtype=torch.long)).abs().sum() == 0
    # The digit arithmetic alone would give row 0 a vector: it is masked on purpose.
    assert table.full_tensor()[0].abs().sum() > 0


def semi_tensor_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Eqs. (6)-(8) literally: A [H, np] |x B [p, Q] = A (B kron I_n), [H, Q n]."""
    n = a.shape[1] // b.shape[0]
    return a @ torch.kron(b, torch.eye(n))


def test_stt_vector_follows_the_paper_definition():
    table = build("stt", STTConfig(rank=4, n=2))  # I = (3, 3, 6), J = (2, 2, 4)
    item = 41
    digits = table.digits(torch.tensor([item]))[0].tolist()
    assert sum(d * s for d, s in zip(digits, (18, 6, 1))) == item
    g1, g2, g3 = (c.detach() for c in table.cores)
    x = g1[0, digits[0]]  # [J1, R]
    for core, last in ((g2, False), (g3, True)):
        s = core[:, digits[1 if not last else 2]]  # [R/n, J/n, R']
        r_next = s.shape[2]
        c = semi_tensor_product(x, s.reshape(s.shape[0], -1))  # columns (j', r', m)
        c = c.reshape(x.shape[0], s.shape[1], r_next, 2).permute(0, 1, 3, 2)  # j = j' n + m
        x = c.reshape(-1, r_next)
    torch.testing.assert_close(table.embed(torch.tensor([item]))[0], x.reshape(-1))


def test_stt_with_n_one_is_the_plain_tensor_train():
    tt = build("tt", TTConfig(rank=4))
    stt = build("stt", STTConfig(rank=4, n=1))
    stt.load_state_dict(tt.state_dict())
    torch.testing.assert_close(stt.all_embeddings(), tt.all_embeddings())


def test_compression_ratio_hand_computed():
    # 768 table entries over 2*2*4 + 3*4*16/4 + 4*4*4/4 = 16 + 48 + 16 = 80 core entries.
    assert stt_parameter_count((2, 3, 4), (2, 4, 4), 4, 2) == 80
    assert stt_compression_ratio((2, 3, 4), (2, 4, 4), 4, 2) == pytest.approx(9.6)
    # Plain TT, R = 3: 2*2*3 + 3*4*9 + 4*4*3 = 168.
    assert tt_compression_ratio((2, 3, 4), (2, 4, 4), 3) == pytest.approx(768 / 168)
    # OD-Rec's released Tmall setting (d = 2, I = (169, 241), J = (16, 8), R = 60, n = 2):
    # its script counts 169*16*60 + 241*8*60/4 = 191,160 entries.
    assert stt_parameter_count((169, 241), (16, 8), 60, 2) == 191_160
    assert stt_compression_ratio((169, 241), (16, 8), 60, 2) == pytest.approx(40729 * 128 / 191_160)


@pytest.mark.parametrize("kind,cfg", TABLES)
def test_storage_bytes_is_the_core_parameters(kind, cfg):
    table = build(kind, cfg)
    n_params = sum(p.numel() for p in table.parameters())
    assert table.storage_bytes() == 4 * n_params == 4 * table.shape.parameters


@pytest.mark.parametrize("n", [1, 2, 4, None])
def test_ratio_matching_at_the_students_ratio(n):
    shape = shape_for_ratio(40728, 128, 29.0, d=3, n=n)
    ratio = shape.compression_ratio(40728, 128)
    assert abs(ratio / 29.0 - 1) < 0.15
    assert shape.rank % shape.n == 0
    assert math.prod(shape.item_factors) >= 40729 and math.prod(shape.dim_factors) == 128


def test_default_stt_config_lands_near_29_at_tmall_scale():
    table = SemiTensorTrainTable(40728, 128)  # the cores only: cheap to build
    assert table.shape == TTShape((34, 35, 35), (4, 4, 8), 68, 2)
    assert table.compression_ratio() == pytest.approx(40728 * 128 / 175_848)
    assert TensorTrainTable(40728, 128, TTConfig.at_ratio(29.0)).shape.rank == 34


def test_factorisations():
    assert balanced_factors(128, 3) == (4, 4, 8)
    assert balanced_factors(256, 3) == (4, 8, 8)
    assert balanced_factors(17, 3) == (1, 1, 17)
    assert padded_factors(40729, 3) == (34, 35, 35)
    assert math.prod(padded_factors(51, 3)) >= 51


def test_reconstructed_entries_have_the_papers_init_scale():
    table = build("stt", STTConfig(rank=8, n=2), n_items=2000, dim=32)
    std = table.all_embeddings()[1:].std().item()
    assert 0.6 * TARGET_STD < std < 1.5 * TARGET_STD


def test_invalid_configs_name_the_fix():
    with pytest.raises(ConfigError, match="multiple of n"):
        STTConfig(rank=5, n=2)
    with pytest.raises(ConfigError, match="choose n among"):
        SemiTensorTrainTable(50, 16, STTConfig(rank=6, n=3))  # J = (2, 2, 4)
    with pytest.raises(ConfigError, match="multiply to dim"):
        TensorTrainTable(50, 16, TTConfig(rank=2, dim_factors=[2, 2, 2]))
    with pytest.raises(ConfigError) as e:
        TTConfig(d=1, target_ratio=0)
    assert len(e.value.problems) == 2


class Lookup(nn.Module):
    def __init__(self, table: nn.Module) -> None:
        super().__init__()
        self.table = table

    def forward(self, ids: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.table.embed(ids), self.table.score(theta)


@pytest.mark.parametrize("kind,cfg", TABLES[:2])
def test_exports(kind, cfg):
    table = build(kind, cfg).eval()
    ids, theta = torch.tensor([[1, 5, 0]]), torch.randn(1, 16)
    program = torch.export.export(Lookup(table), (ids, theta))
    ids2, theta2 = torch.tensor([[50, 0, 2]]), torch.randn(1, 16)
    for got, want in zip(program.module()(ids2, theta2), Lookup(table)(ids2, theta2)):
        torch.testing.assert_close(got, want)


def test_cores_learn_a_realisable_table():
    """Gradient fitting to another table of the same layout: all cores get useful gradients."""
    table = build("stt", STTConfig(rank=4, n=2))
    torch.manual_seed(1)
    target = SemiTensorTrainTable(50, 16, STTConfig(rank=4, n=2)).all_embeddings().detach()
    opt = torch.optim.Adam(table.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = ((table.all_embeddings() - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
