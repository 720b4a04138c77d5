"""Nested (residual product) codes and elastic cuts: prefixes are tables, cuts fold exactly."""

from __future__ import annotations

import pytest
import torch

from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.errors import ConfigError, InternalError

N_ITEMS, DIM = 300, 12


def _teacher_table(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_ITEMS + 1, DIM, generator=g)
    x[0] = 0
    return x


def _nested(m: int, elastic: bool = False, storage: str = "fp32", subspaces: int = 3, metric: str = "euclidean",
            rotations: bool = False, lead: int = 0, cut_codebooks: bool = False):
    cfg = QuantizedCodesConfig(m=m, k=16, structure="nested", subspaces=subspaces, elastic=elastic,
                               codebook_storage=storage, metric=metric, kmeans_iters=8, cut_rotations=rotations,
                               lead=lead, cut_codebooks=cut_codebooks)
    t = QuantizedCodesTable(N_ITEMS, DIM, cfg)
    sessions = torch.randn(400, DIM, generator=torch.Generator().manual_seed(3)) if metric == "sessions" else None
    err = t.assign_from(_teacher_table(), sessions=sessions)
    return t, err


def test_nested_prefixes_reconstruct_better_the_longer_they_are():
    errs = [_nested(m)[1] for m in (3, 6, 9)]  # 1, 2 and 3 full stages of S = 3 subspaces
    assert errs[2] < errs[1] < errs[0] < 1.0


def test_the_first_columns_of_a_nested_table_are_the_shorter_table():
    long, _ = _nested(7)
    short, _ = _nested(4)  # k-means is deterministic per column: same seeds, same residuals
    assert torch.equal(long.codes[:, :4], short.codes)
    assert torch.equal(long.codebooks[:4], short.codebooks)


@pytest.mark.parametrize("m,subspaces", [(5, 3), (6, 3), (2, 5)])  # a partial stage; whole stages; d padded
def test_nested_lookup_table_scores_like_the_vectors(m, subspaces):
    t, _ = _nested(m, subspaces=subspaces, metric="sessions")
    t.eval()
    theta = torch.randn(4, DIM)
    dense = theta @ t.all_embeddings().t()
    assert torch.allclose(t.lookup_scores(theta)[:, 1:], dense[:, 1:], atol=1e-5)  # the device's path
    assert torch.allclose(t.score(theta), dense, atol=1e-6)  # the host's
    assert t.embed(torch.tensor([0])).abs().sum() == 0


@pytest.mark.parametrize("storage,rotations", [("fp32", False), ("fp16", True), ("int8", False), ("int8", True)])
def test_a_cut_folds_to_a_plain_table_that_scores_as_the_cut_did(storage, rotations):
    t, _ = _nested(6, elastic=True, storage=storage, metric="sessions", rotations=rotations)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # cut parameters away from their start, as training leaves them
        t.cut_scales.copy_(torch.rand(6, 6, generator=g) + 0.5)
        if rotations:
            t.cut_rotation_deltas.copy_(torch.randn(6, DIM, DIM, generator=g) * 0.1)
    t.eval()
    theta = torch.randn(3, DIM)
    for cut in (1, 4, 6):
        with t.at_cut(cut):
            want = t.score(theta)
            stored = t.storage_bytes()
        plain = t.cut_table(cut).eval()
        assert not plain.elastic and plain.m == cut and plain.cut_scales is None
        assert torch.allclose(plain.score(theta), want, atol=1e-5, rtol=1e-5)
        with t.at_cut(cut):  # and the device's look-up path, at the cut, agrees with both
            assert torch.allclose(t.lookup_scores(theta), want, atol=1e-5, rtol=1e-5)
        assert plain.storage_bytes() == stored
    assert t.cut == 6  # at_cut gives the table back whole


def test_an_elastic_step_draws_its_cut_from_the_seeded_generator():
    t, _ = _nested(6, elastic=True)
    t.train()
    torch.manual_seed(0)
    first = [(t.before_step(), t.cut)[1] for _ in range(40)]
    torch.manual_seed(0)
    again = [(t.before_step(), t.cut)[1] for _ in range(40)]
    assert first == again and set(first) == set(range(1, 7))
    t.eval()
    assert t.cut == 6 and t.validation_cuts() == [3]
    assert _nested(40, elastic=True)[0].validation_cuts() == [3, 12]


def test_a_training_step_at_a_cut_moves_only_that_cuts_parameters():
    t, _ = _nested(6, elastic=True, metric="sessions", rotations=True)
    t.train()
    with t.at_cut(4):
        t.score(torch.randn(2, DIM)).sum().backward()
    grad, rot = t.cut_scales.grad, t.cut_rotation_deltas.grad
    assert grad[3, :4].abs().sum() > 0 and rot[3].abs().sum() > 0
    others = torch.arange(6) != 3
    assert grad[3, 4:].abs().sum() == 0 and grad[others].abs().sum() == 0 and rot[others].abs().sum() == 0


def test_only_nested_tables_are_elastic_and_only_elastic_ones_cut():
    with pytest.raises(ConfigError, match="elastic tables are nested"):
        QuantizedCodesConfig(structure="product", elastic=True).validate()
    plain, _ = _nested(6)
    with pytest.raises(InternalError, match="only elastic"):
        plain.set_cut(3)


def test_fixed_codebooks_leave_only_the_cut_parameters_to_train():
    cfg = QuantizedCodesConfig(m=4, k=8, structure="nested", subspaces=2, elastic=True, cut_rotations=True,
                               train_codebooks=False)
    t = QuantizedCodesTable(N_ITEMS, DIM, cfg)
    trainable = {n for n, p in t.named_parameters() if p.requires_grad}
    assert trainable == {"cut_scales", "cut_rotation_deltas"}
    assert t.cut_table(2).codebooks.requires_grad  # a cut is a plain table again


def test_small_first_draws_coarse_cuts_in_proportion_to_one_over_the_cut():
    cfg = QuantizedCodesConfig(m=6, k=8, structure="nested", subspaces=3, elastic=True, cut_draw="small-first")
    t = QuantizedCodesTable(N_ITEMS, DIM, cfg).train()
    torch.manual_seed(0)
    draws = torch.tensor([(t.before_step(), t.cut)[1] for _ in range(6000)])
    share = torch.bincount(draws, minlength=7)[1:].float() / len(draws)
    want = 1.0 / torch.arange(1, 7)
    assert torch.allclose(share, want / want.sum(), atol=0.02)  # cut 1 ~41%, cut 6 ~7%
    torch.manual_seed(0)
    assert [(t.before_step(), t.cut)[1] for _ in range(50)] == draws[:50].tolist()  # seeded: resumes alike


def test_covering_draws_only_cuts_that_code_every_dimension_smallest_first():
    cfg = QuantizedCodesConfig(m=6, k=8, structure="nested", subspaces=4, lead=2, elastic=True, cut_draw="covering")
    t = QuantizedCodesTable(N_ITEMS, DIM, cfg).train()
    torch.manual_seed(0)
    draws = torch.tensor([(t.before_step(), t.cut)[1] for _ in range(6000)])
    share = torch.bincount(draws, minlength=7)[1:].float() / len(draws)
    want = torch.tensor([0.0, 1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert share[0] == 0  # one lead column codes half the dimensions: never drawn
    assert torch.allclose(share, want / want.sum(), atol=0.02)  # cut 2 ~44%, cut 6 ~9%


def test_covering_draws_the_whole_table_when_it_is_smaller_than_the_first_stage():
    cfg = QuantizedCodesConfig(m=3, k=8, structure="nested", subspaces=4, elastic=True, cut_draw="covering")
    t = QuantizedCodesTable(N_ITEMS, DIM, cfg).train()
    assert {(t.before_step(), t.cut)[1] for _ in range(50)} == {3}


def test_anchor_full_trains_the_drawn_cut_and_the_whole_table():
    cfg = QuantizedCodesConfig(m=6, k=8, structure="nested", subspaces=3, elastic=True, anchor_full=True)
    t = QuantizedCodesTable(N_ITEMS, DIM, cfg).train()
    t.set_cut(2)
    assert t.step_cuts() == [2, 6]
    t.set_cut(6)
    assert t.step_cuts() == []  # the drawn cut is the whole table: one pass
    t.eval()
    assert t.step_cuts() == []
    assert not t.cut_table(3).config.anchor_full  # a frozen cut is a plain table


@pytest.mark.parametrize("field,value", [("anchor_full", True), ("cut_draw", "small-first")])
def test_cut_training_options_need_an_elastic_table(field, value):
    with pytest.raises(ConfigError, match="set elastic=true"):
        QuantizedCodesConfig(structure="nested", **{field: value}).validate()
    with pytest.raises(ConfigError, match="cut_draw must be one of"):
        QuantizedCodesConfig(structure="nested", elastic=True, cut_draw="largest").validate()


@pytest.mark.parametrize("m,lead", [(1, 1), (3, 2), (6, 2), (5, 1)])  # lead only; lead + a partial stage
def test_a_lead_table_scores_like_its_vectors_and_its_lead_codes_every_dimension(m, lead):
    t, err = _nested(m, subspaces=4, metric="sessions", lead=lead)
    t.eval()
    assert t.codebooks.shape[0] == t.rows_of(m) == min(m, lead) * (4 // lead) + max(0, m - lead)
    theta = torch.randn(4, DIM)
    dense = theta @ t.all_embeddings().t()
    assert torch.allclose(t.lookup_scores(theta)[:, 1:], dense[:, 1:], atol=1e-5)
    assert t.lookup_table(theta).shape == (4, m, 16)  # one look-up row per code column, not per codebook row
    if m >= lead:  # the lead columns alone reconstruct every subspace: no coordinate is left at zero
        plain, _ = _nested(lead, subspaces=4, lead=lead)
        assert (plain.all_embeddings()[1:].abs().sum(0) > 0).all()
    assert err < 1.0


def test_a_one_column_lead_beats_one_column_of_one_subspace():
    spans_all, err_all = _nested(1, subspaces=3, lead=1)
    _, err_one = _nested(1, subspaces=3)
    assert err_all < err_one  # the plain column leaves 2 of its 3 subspaces without a code
    assert spans_all.storage_bytes() == (N_ITEMS + 1) + 4 * 3 * 16 * 4  # codes + 3 rows of fp32 codebooks


def test_an_elastic_lead_table_cuts_and_folds_exactly():
    t, _ = _nested(6, elastic=True, storage="int8", metric="sessions", subspaces=4, lead=2)
    with torch.no_grad():
        t.cut_scales.copy_(torch.rand(6, 6, generator=torch.Generator().manual_seed(2)) + 0.5)
    t.eval()
    theta = torch.randn(3, DIM)
    for cut in (1, 2, 3, 6):
        with t.at_cut(cut):
            want, stored = t.score(theta), t.storage_bytes()
            assert torch.allclose(t.lookup_scores(theta), want, atol=1e-5, rtol=1e-5)
        plain = t.cut_table(cut).eval()
        assert plain.m == cut and plain.rows == t.rows_of(cut)
        assert torch.allclose(plain.score(theta), want, atol=1e-5, rtol=1e-5)
        assert plain.storage_bytes() == stored
    assert t.validation_cuts() == [2]


def test_cut_codebooks_give_each_smaller_cut_its_own_first_stage_and_fold_exactly():
    t, _ = _nested(6, elastic=True, storage="int8", metric="sessions", subspaces=4, lead=2, cut_codebooks=True)
    assert tuple(t.cut_codebook_deltas.shape) == (5, 4, 16, 3)  # cuts 1..5; the first stage's S rows
    assert t.cut_codebook_deltas.abs().sum() == 0  # assigned: every cut starts from the shared codebooks
    t.train()
    with t.at_cut(2):  # a step at cut 2 moves cut 2's first stage, nobody else's
        t.score(torch.randn(2, DIM)).sum().backward()
    grad = t.cut_codebook_deltas.grad
    assert grad[1].abs().sum() > 0 and grad[torch.arange(5) != 1].abs().sum() == 0
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        t.cut_codebook_deltas.copy_(torch.randn(5, 4, 16, 3, generator=g) * 0.3)
    t.eval()
    theta = torch.randn(3, DIM)
    whole = t.score(theta)
    for cut in (1, 2, 3, 6):
        with t.at_cut(cut):
            want, stored = t.score(theta), t.storage_bytes()
            assert torch.allclose(t.lookup_scores(theta), want, atol=1e-5, rtol=1e-5)
        plain = t.cut_table(cut).eval()
        assert plain.cut_codebook_deltas is None and plain.storage_bytes() == stored
        assert torch.allclose(plain.score(theta), want, atol=1e-5, rtol=1e-5)
    t.cut_codebook_deltas.data.zero_()
    assert torch.equal(t.score(theta), whole)  # the whole table has no correction: its E is the shared one
    with pytest.raises(ConfigError, match="cut_codebooks gives each cut of an elastic table"):
        QuantizedCodesConfig(structure="nested", cut_codebooks=True).validate()


def test_lead_must_divide_the_subspaces_of_a_nested_table():
    with pytest.raises(ConfigError, match="lead must divide"):
        QuantizedCodesConfig(structure="nested", subspaces=4, lead=3).validate()
    with pytest.raises(ConfigError, match="lead shapes a nested"):
        QuantizedCodesConfig(structure="product", lead=2).validate()
