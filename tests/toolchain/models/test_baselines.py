"""GRU4Rec, NARM, STAMP and SR-GNN: shapes, padding, learning, export, SR-GNN's graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from toolchain.compression.tensor_train import SemiTensorTrainTable, STTConfig
from toolchain.errors import ConfigError
from toolchain.models.base import MODELS
from toolchain.models.gru4rec import GRU4Rec, GRU4RecConfig
from toolchain.models.narm import NARMConfig
from toolchain.models.srgnn import SRGNN, SRGNNConfig
from toolchain.models.stamp import STAMPConfig

V, L, DIM = 50, 10, 16
NAMES = ["gru4rec", "narm", "stamp", "srgnn"]


def build(name: str, items=None):
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls(V, cls.config_class.tiny(), items=items)


def toy_batch(batch: int = 64, seed: int = 0):
    """Sessions walk the items in steps of 3; the target is the next step (learnable)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, L + 1, (batch,), generator=g)
    start = torch.randint(1, V + 1, (batch,), generator=g)
    pos = torch.arange(L)
    items = ((start.unsqueeze(1) - 1 + 3 * pos) % V + 1) * (pos < lengths.unsqueeze(1))
    targets = (start - 1 + 3 * lengths) % V + 1
    return items, lengths, targets


class ScoreOnly(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model.score(items, lengths)


def test_all_registered():
    assert set(NAMES) <= set(MODELS.names())


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_padding_column(name):
    model = build(name).eval()
    items, lengths, _ = toy_batch(5)
    assert model.encode(items, lengths).shape == (5, DIM)
    scores = model.score(items, lengths)
    assert scores.shape == (5, V + 1)
    assert torch.isneginf(scores[:, 0]).all()
    assert torch.isfinite(scores[:, 1:]).all()


@pytest.mark.parametrize("name", NAMES)
def test_padding_content_is_ignored(name):
    model = build(name).eval()
    items, lengths, _ = toy_batch(8)
    junk = torch.randint(1, V + 1, items.shape, generator=torch.Generator().manual_seed(1))
    dirty = torch.where(items == 0, junk, items)
    with torch.no_grad():
        torch.testing.assert_close(model.score(items, lengths), model.score(dirty, lengths))


@pytest.mark.parametrize("name", NAMES)
def test_loss_falls(name):
    model = build(name).train()
    items, lengths, targets = toy_batch()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(50):
        loss = model.loss(items, lengths, targets)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses[::10]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.filterwarnings("ignore:The tensor attributes self.model.gru")  # torch's own nn.GRU
def test_exports_with_batch_one(name):
    model = build(name).eval()
    example = model.example_inputs(max_len=50)
    program = torch.export.export(ScoreOnly(model), example)
    # A different length and content than the example: nothing was specialised on values.
    items = torch.zeros(1, 50, dtype=torch.long)
    items[0, :7] = torch.tensor([4, 9, 4, 11, 2, 9, 30])
    lengths = torch.tensor([7])
    with torch.no_grad():
        torch.testing.assert_close(program.module()(items, lengths), model.score(items, lengths))


@pytest.mark.parametrize("name", NAMES)
def test_accepts_a_compressed_item_table(name):
    table = SemiTensorTrainTable(V, DIM, STTConfig(rank=4, n=2))
    before = [p.detach().clone() for p in table.parameters()]
    model = build(name, items=table).eval()
    items, lengths, _ = toy_batch(3)
    assert model.score(items, lengths).shape == (3, V + 1)
    assert model.items is table
    # The table keeps its own (product-scaled) init: the model's U(-0.1, 0.1) skips it.
    for old, new in zip(before, table.parameters()):
        torch.testing.assert_close(old, new.detach())


def test_item_table_mismatch_is_a_config_error():
    table = SemiTensorTrainTable(V, 32, STTConfig(rank=4, n=2))
    with pytest.raises(ConfigError, match="dim"):
        GRU4Rec(V, GRU4RecConfig.tiny(), items=table)


def test_configs_validate_and_round_trip():
    with pytest.raises(ConfigError) as e:
        NARMConfig(dim=0, emb_dropout=1.5)
    assert len(e.value.problems) == 2
    for cfg in (GRU4RecConfig(), NARMConfig.tiny(), STAMPConfig.retailrocket_scale(),
                SRGNNConfig(steps=2, hybrid=False)):
        assert type(cfg).from_dict(cfg.to_dict()) == cfg
    assert GRU4RecConfig().dim == 128 and SRGNNConfig.retailrocket_scale().dim == 256


def reference_srgnn(model: SRGNN, session: list[int]) -> torch.Tensor:
    """The original SR-GNN construction for one session: distinct items as nodes."""
    nodes = sorted(set(session))
    n = len(nodes)
    adj = np.zeros((n, n))
    for u, v in zip(session[:-1], session[1:]):
        adj[nodes.index(u), nodes.index(v)] = 1
    a_in = (adj / np.maximum(adj.sum(0), 1)).T  # mean over in-neighbours
    a_out = adj / np.maximum(adj.sum(1, keepdims=True), 1)  # mean over out-neighbours
    a_in = torch.tensor(a_in, dtype=torch.float32).unsqueeze(0)
    a_out = torch.tensor(a_out, dtype=torch.float32).unsqueeze(0)
    h = model.items.embed(torch.tensor([nodes]))
    for _ in range(model.config.steps):
        h = model.cell(a_in, a_out, h)
    alias = torch.tensor([[nodes.index(v) for v in session]])
    seq = h[0, alias[0]].unsqueeze(0)
    mask = torch.ones(1, len(session), dtype=torch.bool)
    return model.readout(seq, mask, torch.tensor([len(session)]))


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("session", [
    [3, 5, 3, 7, 5, 5, 9],  # repeated items, a revisit and a self-loop (5 -> 5)
    [3, 5, 3, 5, 5, 7, 3, 5, 1, 2],  # the edge 3 -> 5 three times; fills L
    [8],
])
def test_srgnn_matches_distinct_item_graph(steps, session):
    torch.manual_seed(0)
    model = SRGNN(V, SRGNNConfig(dim=DIM, steps=steps)).eval()
    items = torch.zeros(1, L, dtype=torch.long)
    items[0, :len(session)] = torch.tensor(session)
    with torch.no_grad():
        got = model.encode(items, torch.tensor([len(session)]))
        want = reference_srgnn(model, session)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
