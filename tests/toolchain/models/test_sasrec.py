"""SASRec backbone and the Eq. (3) readout: shapes, masking, positions, learning, export."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolchain.compression.codes import CodesConfig, CodesTable
from toolchain.errors import ConfigError
from toolchain.models.base import MODELS
from toolchain.models.readout import SoftAttentionReadout
from toolchain.models.sasrec import SASRec, SASRecConfig

V, L = 50, 10


def build(**changes) -> SASRec:
    torch.manual_seed(0)
    return SASRec(V, SASRecConfig.tiny().replace(**changes))


def toy_batch(batch: int = 64, seed: int = 0):
    """Sessions walk the items in steps of 3; the target is the next step (learnable)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, L + 1, (batch,), generator=g)
    start = torch.randint(1, V + 1, (batch,), generator=g)
    pos = torch.arange(L)
    items = ((start.unsqueeze(1) - 1 + 3 * pos) % V + 1) * (pos < lengths.unsqueeze(1))
    return items, lengths, (start - 1 + 3 * lengths) % V + 1


class ScoreOnly(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model.score(items, lengths)


def test_registered_and_presets():
    assert MODELS.get("sasrec") is SASRec
    t, r = SASRecConfig.tmall_scale(), SASRecConfig.retailrocket_scale()
    assert (t.dim, t.heads, t.layers, t.dropout) == (128, 1, 1, 0.5)
    assert (r.dim, r.heads, r.layers, r.dropout) == (256, 2, 1, 0.2)
    assert SASRecConfig.from_dict(t.to_dict()) == t


def test_config_errors_are_collected():
    with pytest.raises(ConfigError) as e:
        SASRecConfig(dim=30, heads=4, dropout=1.5)
    assert len(e.value.problems) == 2  # dim % heads, dropout


@pytest.mark.parametrize("causal", [False, True])
def test_shapes_and_padding(causal):
    model = build(causal=causal).eval()
    items, lengths, _ = toy_batch(6)
    scores = model.score(items, lengths)
    assert model.encode(items, lengths).shape == (6, 16)
    assert scores.shape == (6, V + 1) and torch.isneginf(scores[:, 0]).all()
    junk = torch.randint(1, V + 1, items.shape, generator=torch.Generator().manual_seed(1))
    dirty = torch.where(items == 0, junk, items)
    with torch.no_grad():
        torch.testing.assert_close(model.score(dirty, lengths), scores)


def test_padding_length_does_not_matter():
    """Positions count back from the last click: L = 10 and L = 50 give the same session vector."""
    model = build().eval()
    items, lengths, _ = toy_batch(4)
    wide = torch.zeros(4, 50, dtype=torch.long)
    wide[:, :L] = items
    with torch.no_grad():
        torch.testing.assert_close(model.encode(items, lengths), model.encode(wide, lengths), rtol=1e-5, atol=1e-6)


def test_causal_changes_only_what_it_should():
    bi, causal = build(), build(causal=True)
    causal.load_state_dict(bi.state_dict())
    items, lengths, _ = toy_batch(4)
    with torch.no_grad():
        one = torch.ones_like(lengths)  # a single item: nothing to hide, both agree
        torch.testing.assert_close(bi.eval().encode(items, one), causal.eval().encode(items, one))
        assert not torch.allclose(bi.encode(items, lengths), causal.encode(items, lengths))


def test_readout_matches_eq3_by_hand():
    torch.manual_seed(0)
    r = SoftAttentionReadout(3)
    x = torch.randn(1, 4, 3)
    mask = torch.tensor([[True, False, True, True]])
    real = x[0, [0, 2, 3]]
    mean = real.mean(0)
    alpha = r.f(torch.sigmoid(r.w1(mean) + r.w2(real))).squeeze(-1)
    want = (alpha.unsqueeze(-1) * real).sum(0)
    torch.testing.assert_close(r(x, mask)[0], want)
    assert torch.equal(r(x, torch.zeros_like(mask)), torch.zeros(1, 3))  # empty sub-session


def test_loss_falls():
    model = build().train()
    items, lengths, targets = toy_batch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = model.loss(items, lengths, targets)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses[::10]


def test_layernorms_keep_their_init():
    model = build()
    assert torch.equal(model.ln_out.weight, torch.ones(16)) and torch.equal(model.ln_out.bias, torch.zeros(16))
    assert model.positions.weight.abs().max() <= 0.1


@pytest.mark.parametrize("table", ["full", "codes"])
def test_exports_with_batch_one(table):
    torch.manual_seed(0)
    items_table = None
    if table == "codes":
        items_table = CodesTable(V, 16, CodesConfig.tiny(), torch.randn(V + 1, 16) * 0.1)
    model = SASRec(V, SASRecConfig.tiny(), items=items_table).eval()
    program = torch.export.export(ScoreOnly(model), model.example_inputs(max_len=50))
    items = torch.zeros(1, 50, dtype=torch.long)
    items[0, :7] = torch.tensor([4, 9, 4, 11, 2, 9, 30])
    lengths = torch.tensor([7])
    with torch.no_grad():
        torch.testing.assert_close(program.module()(items, lengths), model.score(items, lengths))
