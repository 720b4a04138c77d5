"""Distillation: hot/cold split, the two losses, Eq. (29) terms, and each ablation flag."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolchain.compression.codes import CodesConfig, CodesTable
from toolchain.compression.tensor_train import SemiTensorTrainTable, STTConfig
from toolchain.distillation.config import DistillConfig
from toolchain.distillation.losses import hot_cold_masks, hot_items, info_nce, soft_target_kl
from toolchain.distillation.pair import DistillationPair
from toolchain.models.sasrec import SASRec, SASRecConfig

V, L, N = 50, 8, 16
COUNTS = np.r_[0, np.arange(V, 0, -1)]  # item 1 the most popular, item 50 the least


def batch(size: int = 24, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, L + 1, (size,), generator=g)
    items = torch.randint(1, V + 1, (size, L), generator=g) * (torch.arange(L) < lengths.unsqueeze(1))
    return items, lengths, torch.randint(1, V + 1, (size,), generator=g)


def pair(table: str = "codes", mixup: bool = True, **flags) -> DistillationPair:
    torch.manual_seed(0)
    cfg = SASRecConfig.tiny().replace(dropout=0.1)  # dropout on: RNG use must not leak across terms
    teacher = SASRec(V, cfg)
    x = teacher.items.all_embeddings().detach()
    if table == "codes":
        items = CodesTable(V, N, CodesConfig.tiny().replace(mixup=mixup), x)
    else:
        items = SemiTensorTrainTable(V, N, STTConfig.tiny())
    student = SASRec(V, cfg, items=items)
    return DistillationPair(teacher, student, hot_items(COUNTS), DistillConfig(**flags)).train()


def terms(p: DistillationPair, phase: str = "distill", seed: int = 1) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return p.loss(*batch(), phase=phase)


def test_hot_items_are_the_top_fifth_by_popularity():
    hot = hot_items(COUNTS, 0.2)
    assert hot.dtype == torch.bool and hot.shape == (V + 1,)
    assert hot[1:11].all() and not hot[11:].any() and not hot[0]
    ties = hot_items(np.array([0, 5, 5, 5, 5, 5]), 0.4)  # ties: the smaller index wins
    assert ties.tolist() == [False, True, True, False, False, False]
    items = torch.tensor([[1, 30, 2, 0]])
    h, c = hot_cold_masks(items, items != 0, hot)
    assert h.tolist() == [[True, False, True, False]] and c.tolist() == [[False, True, False, False]]


def test_info_nce_by_hand():
    a, p = torch.randn(4, 3), torch.randn(4, 3)
    sim = torch.nn.functional.cosine_similarity(a.unsqueeze(1), p.unsqueeze(0), dim=-1) / 0.2
    want = -(sim.diag() - sim.logsumexp(1)).mean()
    torch.testing.assert_close(info_nce(a, p, 0.2), want)
    assert info_nce(p, p, 0.05) < info_nce(a, p, 0.05)


def test_soft_target_kl_by_hand():
    t, s = torch.randn(3, V + 1), torch.randn(3, V + 1)
    t[:, 0] = s[:, 0] = float("-inf")
    pt, ps = torch.softmax(t[:, 1:], -1), torch.softmax(s[:, 1:], -1)
    torch.testing.assert_close(soft_target_kl(t, s), (pt * (pt.log() - ps.log())).sum(-1).mean())
    assert abs(float(soft_target_kl(t, t))) < 1e-6


def test_full_objective_has_every_term_finite_and_weighted():
    p = pair()
    out = terms(p)
    assert set(out) == {"rec", "mse", "rec_teacher", "con", "soft", "loss"}
    assert all(torch.isfinite(v) for v in out.values())
    c = p.config
    want = out["rec"] + out["mse"] + out["rec_teacher"] + c.beta * out["con"] + c.gamma * out["soft"]
    torch.testing.assert_close(out["loss"], want)


def test_pretrain_phase_is_rec_plus_mse():
    assert set(terms(pair(), phase="pretrain")) == {"rec", "mse", "loss"}


@pytest.mark.parametrize("flag,removed", [
    ({"contrastive": False}, {"con"}),
    ({"soft_targets": False}, {"soft"}),
    ({"bidirectional": False}, {"rec_teacher"}),
    ({"enabled": False}, {"con", "soft", "rec_teacher"}),
])
def test_each_ablation_removes_exactly_its_terms(flag, removed):
    full, ablated = terms(pair()), terms(pair(**flag))
    assert set(full) - set(ablated) == removed and set(ablated) <= set(full)
    # Everything else is the same number: the student runs first, so the same seed gives the
    # same student terms; the teacher-side terms agree whenever the teacher is run the same way.
    same = {"rec", "mse"} if "bidirectional" in flag else set(ablated) - {"loss"}
    for k in same:
        torch.testing.assert_close(ablated[k], full[k], msg=k)


def test_no_mixup_changes_only_the_student_embeddings():
    with_mix, without = pair(), pair(mixup=False)
    assert set(terms(with_mix)) == set(terms(without))
    with_mix.student.items.train(), without.student.items.train()
    ids = torch.arange(1, 6)
    torch.manual_seed(3)
    e_mix = with_mix.student.items.embed(ids)
    torch.manual_seed(3)
    e = without.student.items.embed(ids)
    x = with_mix.teacher.items.all_embeddings()[ids]
    torch.testing.assert_close(e_mix, 0.8 * x + 0.2 * e)


def grads(module) -> list[bool]:
    return [p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters()]


def test_bidirectional_gradients_reach_the_teacher_and_projections():
    p = pair()
    terms(p)["loss"].backward()
    assert any(grads(p.teacher)) and all(grads(p.proj_t)) and all(grads(p.proj_s))
    # ...and the soft-target term alone moves the teacher towards the student.
    p.zero_grad(set_to_none=True)
    terms(p)["soft"].backward()
    assert any(grads(p.teacher.items))


def test_frozen_teacher_gets_no_gradient_and_runs_in_eval_mode():
    p = pair(bidirectional=False)
    assert not p.teacher.training and not any(q.requires_grad for q in p.teacher.parameters())
    terms(p)["loss"].backward()
    assert not any(q.grad is not None for q in p.teacher.parameters())
    assert all(grads(p.proj_s))
    assert set(q for q in p.trainable_parameters()).isdisjoint(set(p.teacher.parameters()))


def test_odrec_pair_has_no_mse_and_no_teacher_loss():
    p = pair("stt", bidirectional=DistillConfig.odrec().bidirectional)
    out = terms(p)
    assert set(out) == {"rec", "con", "soft", "loss"}
    assert all(torch.isfinite(v) for v in out.values())


def test_sessions_with_only_hot_or_only_cold_items_stay_finite():
    p = pair()
    items = torch.tensor([[1, 2, 3, 0], [40, 41, 42, 43]])  # all hot; all cold
    out = p.loss(items, torch.tensor([3, 4]), torch.tensor([5, 6]))
    assert all(torch.isfinite(v) for v in out.values())


def _elastic_pair(anchor_full: bool) -> DistillationPair:
    from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
    torch.manual_seed(0)
    cfg = SASRecConfig.tiny().replace(dropout=0.0)
    teacher = SASRec(V, cfg)
    table = QuantizedCodesTable(V, N, QuantizedCodesConfig(m=4, k=8, structure="nested", subspaces=2, elastic=True,
                                                           metric="euclidean", anchor_full=anchor_full))
    table.assign_from(teacher.items.all_embeddings().detach())
    student = SASRec(V, cfg, items=table)
    return DistillationPair(teacher, student, hot_items(COUNTS),
                            DistillConfig(contrastive=False, bidirectional=False)).train()


def test_an_anchored_elastic_step_averages_the_drawn_cut_and_the_whole_table():
    p, plain = _elastic_pair(anchor_full=True), _elastic_pair(anchor_full=False)
    plain.load_state_dict(p.state_dict())
    table = p.student.items
    table.set_cut(1)
    both = p.loss(*batch())
    at = {}
    for cut in (1, 4):
        plain.student.items.set_cut(cut)
        at[cut] = plain.loss(*batch())
    for k in ("rec", "soft", "loss"):
        assert torch.allclose(both[k], (at[1][k] + at[4][k]) / 2, atol=1e-6), k
    both["loss"].backward()
    last = table.codebooks.grad[3]  # column 4: only the whole table uses it when the drawn cut is 1
    assert last.abs().sum() > 0 and table.cut_scales.grad[0, 0] != 0 and table.cut_scales.grad[3, 3] != 0
    assert table.cut == 1  # the step leaves its drawn cut in place
