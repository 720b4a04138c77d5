"""Compositional-code item table: hard codes, deployed scoring, mixup, L_mse, fitting, sizes."""

from __future__ import annotations

import math

import pytest
import torch

from toolchain.compression.codes import CodesConfig, CodesTable, compression_ratio
from toolchain.compression.item_table import ITEM_TABLES
from toolchain.errors import ConfigError

V, N = 50, 16


def teacher_table(seed: int = 0) -> torch.Tensor:
    """A structured X: 5 clusters of items, padding row zero."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(5, N, generator=g) * 0.3
    x = centres[torch.arange(V + 1) % 5] + 0.05 * torch.randn(V + 1, N, generator=g)
    x[0] = 0
    return x


def build(**changes) -> CodesTable:
    torch.manual_seed(0)
    return CodesTable(V, N, CodesConfig.tiny().replace(**changes), teacher_table())


def test_registered_and_config():
    assert ITEM_TABLES.get("codes") is CodesTable
    with pytest.raises(ConfigError) as e:
        CodesConfig(m=0, k=1, eta=1.5)
    assert len(e.value.problems) == 3
    with pytest.raises(ConfigError, match="sample_rows"):
        CodesConfig(sample_rows=0)
    assert CodesConfig.from_dict(CodesConfig().to_dict()) == CodesConfig()
    assert (CodesConfig.tmall_scale().m, CodesConfig.tmall_scale().k) == (4, 32)
    assert (CodesConfig.retailrocket_scale().m, CodesConfig.retailrocket_scale().k) == (3, 256)


def test_hard_codes_are_integers_in_range():
    table = build(m=3, k=8)
    table.fit_codes()
    codes = table.hard_codes()
    assert codes.shape == (V + 1, 3) and codes.dtype == torch.int64
    assert codes.min() >= 0 and codes.max() < 8


def test_eval_uses_only_hard_codes_and_codebooks():
    table = build().eval()
    codes = table.hard_codes()
    ids = torch.tensor([[1, 7, 0], [50, 3, 3]])
    want = table.codebooks[0, codes[ids, 0]] + table.codebooks[1, codes[ids, 1]]
    want[0, 2] = 0
    torch.testing.assert_close(table.embed(ids), want)
    # A table without X (what a loaded student is) gives the same vectors and scores.
    loaded = CodesTable(V, N, table.config)
    loaded.load_state_dict(table.state_dict())
    loaded.eval()
    theta = torch.randn(4, N)
    torch.testing.assert_close(loaded.score(theta), table.score(theta))


def test_lookup_table_scoring_equals_the_full_table():
    table = build(m=3, k=8).eval()
    theta = torch.randn(5, N)
    with torch.no_grad():
        full = theta @ table.all_embeddings().t()
        torch.testing.assert_close(table.score(theta), full, rtol=1e-5, atol=1e-6)
    assert torch.equal(table.score(theta)[:, 0], torch.zeros(5))


def test_mixup_is_eta_x_plus_one_minus_eta_e_in_training_only():
    with_mix, without = build(eta=0.7), build(mixup=False)
    without.load_state_dict(with_mix.state_dict())
    without.set_teacher_embeddings(teacher_table())
    ids = torch.tensor([[3, 9, 0]])
    torch.manual_seed(5)
    mixed = with_mix.train().embed(ids)
    torch.manual_seed(5)
    plain = without.train().embed(ids)
    x = teacher_table()[ids] * (ids != 0).unsqueeze(-1)
    torch.testing.assert_close(mixed, 0.7 * x + 0.3 * plain)
    with_mix.eval(), without.eval()
    torch.testing.assert_close(with_mix.embed(ids), without.embed(ids))  # inference: no mixup


def test_straight_through_forward_is_a_hard_composite():
    table = build(straight_through=True, mixup=False).train()
    e = table.embed(torch.arange(1, V + 1))
    # Every training vector is a sum of one codebook row per codebook.
    sums = (table.codebooks[0].unsqueeze(1) + table.codebooks[1].unsqueeze(0)).reshape(-1, N)
    dist = (e.detach().unsqueeze(1) - sums.detach().unsqueeze(0)).norm(dim=-1).min(-1).values
    assert dist.max() < 1e-5
    e.sum().backward()
    assert table.learner[0].weight.grad is not None  # soft gradients reach the learner


def test_auxiliary_loss_is_mse_to_x():
    table = build().train()
    terms = table.auxiliary_losses()
    assert set(terms) == {"mse"} and torch.isfinite(terms["mse"])
    table.eval()
    x = teacher_table()[1:]
    hard = table.embed(torch.arange(1, V + 1))
    torch.testing.assert_close(table.auxiliary_losses()["mse"], ((hard - x) ** 2).sum(-1).mean())
    assert CodesTable(V, N, CodesConfig.tiny()).auxiliary_losses() == {}


def test_fitting_the_codes_reduces_reconstruction_error_without_collapse():
    table = build(m=2, k=8, fit_steps=300)
    before = table.hard_mse()
    after = table.fit_codes()
    assert after < 0.5 * before, (before, after)
    assert len({tuple(c) for c in table.hard_codes()[1:].tolist()}) >= 5  # the 5 clusters stay apart


def test_entering_eval_refreshes_codes_from_the_learner():
    table = build()
    with torch.no_grad():
        table.learner[2].bias.zero_()
        table.learner[2].bias[3] = 50.0  # codebook 0 now always prefers vector 3
    table.train()
    table.eval()
    assert (table.hard_codes()[:, 0] == 3).all()


def test_sampled_path_ranks_against_hard_codes_and_trains_the_learner_through_embed_only():
    table = build(m=2, k=8, sampled=True, eta=0.7)
    table.fit_codes()
    table.train()
    x, ids = teacher_table(), torch.arange(V + 1)
    hard = table.codebooks[0, table.codes[:, 0]] + table.codebooks[1, table.codes[:, 1]]
    want = (0.7 * x + 0.3 * hard) * (ids != 0).unsqueeze(-1)
    torch.testing.assert_close(table.all_embeddings(), want)  # no Gumbel noise in the candidates
    theta = torch.randn(3, N)
    table.score(theta).logsumexp(-1).sum().backward()
    assert table.codebooks.grad.abs().sum() > 0  # every item's codebook rows learn from the ranking
    assert all(p.grad is None for p in table.learner.parameters())
    table.embed(torch.tensor([[4, 9]])).sum().backward()  # the session's items: Gumbel rows
    assert table.learner[0].weight.grad.abs().sum() > 0
    mse = table.auxiliary_losses()
    assert set(mse) == {"mse"} and torch.isfinite(mse["mse"])


def test_sampled_path_refreshes_the_hard_codes_every_refresh_every_scores():
    table = build(sampled=True, refresh_every=3).train()
    before = table.hard_codes()
    with torch.no_grad():
        table.learner[2].bias.zero_()
        table.learner[2].bias[3] = 50.0  # codebook 0 now always prefers vector 3
    theta = torch.randn(2, N)
    for _ in range(3):
        table.score(theta)
        assert torch.equal(table.hard_codes(), before)  # still the cached codes
    table.score(theta)  # the 4th score in training refreshes first
    assert (table.hard_codes()[:, 0] == 3).all()


def test_sampled_fitting_reduces_reconstruction_error():
    table = build(m=2, k=8, fit_steps=300, sampled=True, sample_rows=16)
    before = table.hard_mse()
    assert table.fit_codes() < 0.5 * before


def test_storage_and_compression_ratio():
    table = CodesTable(1000, 64, CodesConfig(m=4, k=32))
    assert table.storage_bytes() == math.ceil(1000 * 4 * 5 / 8) + 4 * 4 * 32 * 64
    # The paper's Table 1 (|V| = 20,000, N = 100) and its Tmall setting (CR 29).
    assert round(compression_ratio(20000, 100, 2, 8)) == 48
    assert round(compression_ratio(20000, 100, 4, 128)) == 15
    assert round(compression_ratio(40728, 128, 4, 32)) == 29
    assert table.compression_ratio() == compression_ratio(1000, 64, 4, 32)
