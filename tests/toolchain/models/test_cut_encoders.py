"""Each cut of an elastic student with its own encoder: corrections train per cut and fold exactly."""

from __future__ import annotations

import torch

from toolchain.artifact.elastic import cut_bytes, cut_model
from toolchain.artifact.freeze import FreezeOptions, deployed_bytes, encoder_tensors
from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
from toolchain.models.cut_encoders import add_cut_encoders, has_cut_encoders, plain_name
from toolchain.models.sasrec import SASRec, SASRecConfig

N_ITEMS, M = 60, 4


def _student(seed: int = 0) -> SASRec:
    torch.manual_seed(seed)
    cfg = QuantizedCodesConfig(m=M, k=8, structure="nested", subspaces=2, elastic=True, cut_encoders=True,
                               metric="euclidean", codebook_storage="fp32")
    table = QuantizedCodesTable(N_ITEMS, 16, cfg)
    table.assign_from(torch.randn(N_ITEMS + 1, 16))
    return add_cut_encoders(SASRec(N_ITEMS, SASRecConfig.tiny(), items=table))


def _batch():
    g = torch.Generator().manual_seed(3)
    return torch.randint(1, N_ITEMS + 1, (5, 6), generator=g), torch.tensor([6, 3, 1, 4, 2])


def _scores(model, items, lengths):
    return model.items.score(model.encode(items, lengths))


def test_a_step_at_a_cut_trains_the_shared_encoder_and_that_cut_s_correction_only():
    model = _student().train()
    items, lengths = _batch()
    with model.items.at_cut(2):
        _scores(model, items, lengths).logsumexp(-1).sum().backward()
    qkv = model.blocks[0].att.qkv.parametrizations.weight
    assert qkv.original.grad.abs().sum() > 0
    grads = qkv[0].deltas.grad  # [M - 1, ...]: cut c's correction at c - 1
    assert grads[1].abs().sum() > 0 and grads[0].abs().sum() == 0 and grads[2].abs().sum() == 0


def test_a_cut_folds_its_own_encoder_into_a_plain_model_that_scores_and_counts_like_it():
    model = _student().eval()
    items, lengths = _batch()
    with torch.no_grad():
        whole = _scores(model, items, lengths)
        for p in model.parameters():
            if p.dim() and p.shape[0] == M - 1 and not p.data.abs().sum():
                p.normal_(0, 0.05)  # the corrections a training would have given
        assert torch.allclose(_scores(model, items, lengths), whole)  # the whole table: the shared encoder
        with model.items.at_cut(2):
            at_two = _scores(model, items, lengths)
        folded = cut_model(model, 2)
        assert not has_cut_encoders(folded) and not has_cut_encoders(cut_model(model, M)) and has_cut_encoders(model)
        assert torch.allclose(_scores(folded, items, lengths), at_two, atol=1e-6)
        with model.items.at_cut(3):
            assert not torch.allclose(_scores(model, items, lengths), at_two)  # another cut, another encoder
    plain = SASRec(N_ITEMS, SASRecConfig.tiny(), items=model.items.cut_table(2))
    assert set(encoder_tensors(folded)) == set(encoder_tensors(plain))  # one encoder, under its plain names
    options = FreezeOptions()
    assert cut_bytes(model, 2, options) == deployed_bytes(plain, options)["total"]


def test_initialisation_redraws_the_shared_encoder_and_leaves_every_cut_s_correction_at_zero():
    from toolchain.models.init import paper_init_

    model = _student()
    qkv = model.blocks[0].att.qkv.parametrizations.weight
    before = qkv.original.detach().clone()
    paper_init_(model)
    assert not torch.equal(qkv.original, before)
    deltas = [p for n, p in model.named_parameters() if n.endswith(".deltas")]
    assert len(deltas) == len(list(SASRec(N_ITEMS, SASRecConfig.tiny()).encoder_modules().parameters()))
    assert all(not d.abs().sum() for d in deltas)


def test_state_names_map_back_to_the_plain_model_s():
    assert plain_name("blocks.0.att.qkv.parametrizations.weight.original") == "blocks.0.att.qkv.weight"
    assert plain_name("ln_out.parametrizations.bias.0.deltas") is None
    assert plain_name("positions.weight") == "positions.weight"
    names = {plain_name(k) for k in _student().state_dict()} - {None}
    plain = SASRec(N_ITEMS, SASRecConfig.tiny(), items=_student().items)
    assert names == set(plain.state_dict())
