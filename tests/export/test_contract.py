"""The inference contract (export/graphs/base.py), edge by edge, in every format against eager."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from toolchain import session_contract as rules
from export.contract import InputContract, contract_of, session_tensors
from export.formats import get_exporter
from export.parity import check_parity
from export.pipeline import FORMATS
from toolchain.errors import ArtifactError, UsageError

N_ITEMS, MAX_LEN, TOP_K = 60, 8, 5  # tests/conftest.py CONTRACT_MODEL: the shared tiny_exports


@pytest.fixture(scope="module")
def exported(tiny_exports):
    """The shared tiny exports (tests/conftest.py), each loaded behind its contract."""
    loaded = {fmt: get_exporter(fmt).load(p) for fmt, p in tiny_exports["paths"].items()}
    return {**tiny_exports, "loaded": loaded}


def padded(seq: list[int], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    items = torch.zeros(1, MAX_LEN, dtype=torch.long)
    items[0, :len(seq)] = torch.tensor(seq)
    return items, torch.tensor([len(seq) if length is None else length])


def same_as_eager(exported, fmt, items, lengths):
    with torch.no_grad():
        ev, ei = exported["graph"](items, lengths)
    xv, xi = exported["loaded"][fmt](items, lengths)
    assert np.array_equal(xi, ei.numpy()), (fmt, xi, ei)
    np.testing.assert_allclose(xv, ev.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_file_declares_its_contract(exported, fmt):
    assert rules.declared_contract(exported["paths"][fmt]) == (MAX_LEN, exported["dynamic"][fmt])
    assert exported["dynamic"]["torchscript"] is False and exported["dynamic"]["onnx"] is True


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("edge", ["length 1", "exactly max_len", "unknown ids", "500 items, trimmed"])
def test_valid_edges_match_eager(exported, fmt, edge):
    if edge == "length 1":
        sessions = [padded([7]), session_tensors([7], MAX_LEN)]  # padded, and [1, 1]
    elif edge == "exactly max_len":
        sessions = [padded(list(range(1, MAX_LEN + 1)))]
    elif edge == "unknown ids":  # ids beyond |V| and negative ones are padding, in every format
        sessions = [padded([3, N_ITEMS + 5, 9, -4, 1000]), padded([N_ITEMS + 1])]
    else:  # the caller keeps the most recent max_len items: the same helper everywhere
        seq = [(i % N_ITEMS) + 1 for i in range(500)]
        items, lengths = session_tensors(seq, MAX_LEN)
        assert items.tolist() == [seq[-MAX_LEN:]] and lengths.tolist() == [MAX_LEN]
        sessions = [(items, lengths)]
    for items, lengths in sessions:
        # a static export gets [1, L < max_len] right-padded by its loader; eager takes either
        same_as_eager(exported, fmt, items, lengths)


EDGES = {
    "length 0": (lambda: padded([5, 6], length=0), "empty session"),
    "negative length": (lambda: padded([5, 6], length=-3), "length -3"),
    "length > L": (lambda: padded([5, 6], length=MAX_LEN + 1), "more than the L=8 positions"),
    "length > L, trimmed items": (lambda: (torch.tensor([[5, 6]]), torch.tensor([3])), "more than the L=2"),
    "L > max_len (500 items)": (lambda: (torch.arange(1, 501).remainder(N_ITEMS).add(1).view(1, -1),
                                         torch.tensor([500])), "more than the model's max_len=8"),
    "L = 0": (lambda: (torch.zeros(1, 0, dtype=torch.long), torch.tensor([1])), "no positions"),
    "batch of 2": (lambda: (torch.ones(2, MAX_LEN, dtype=torch.long), torch.tensor([1, 1])), "items \\[1, L\\]"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("edge", list(EDGES))
def test_invalid_edges_are_refused_the_same_way_in_every_format(exported, fmt, edge):
    make, message = EDGES[edge]
    items, lengths = make()
    with pytest.raises(UsageError, match=message):
        exported["loaded"][fmt](items, lengths)
    # the eager side of the parity check refuses it identically (the graph itself would clamp)
    with pytest.raises(UsageError, match=message):
        check_parity(fmt, exported["graph"], exported["loaded"][fmt], [(items, lengths)])


def test_static_export_is_padded_for_its_runtime_and_refuses_the_unpaddable():
    contract = InputContract(MAX_LEN, dynamic=False)
    items, lengths = contract.prepare(torch.tensor([[4, 2]]), torch.tensor([2]))
    assert items.tolist() == [[4, 2, 0, 0, 0, 0, 0, 0]] and lengths.tolist() == [2]
    assert rules.input_problem(3, 3, MAX_LEN, dynamic=False).startswith("this export is static")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_one_bit_flip_is_refused_by_the_loader(exported, fmt, tmp_path):
    src = exported["paths"][fmt]
    bad = tmp_path / src.name
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad.write_bytes(bytes(data))
    (tmp_path / (src.name + ".report.json")).write_text(
        (src.parent / (src.name + ".report.json")).read_text())
    with pytest.raises(ArtifactError, match=r"fails its sha256 check.*re-export it"):
        get_exporter(fmt).load(bad)


def test_a_file_without_a_report_loads_with_a_warning_and_its_declared_contract(exported, tmp_path, capsys):
    src = exported["paths"]["onnx"]
    alone = tmp_path / src.name
    alone.write_bytes(src.read_bytes())
    loaded = get_exporter("onnx").load(alone)
    assert "integrity cannot be verified" in capsys.readouterr().err
    assert loaded.contract == InputContract(MAX_LEN, True)
    with pytest.raises(UsageError, match="max_len=8"):
        loaded(torch.ones(1, 500, dtype=torch.long), torch.tensor([500]))


def test_contract_falls_back_to_the_report(tmp_path):
    f = tmp_path / "old.onnx"
    f.write_bytes(b"not an onnx model")
    report = {"sha256": rules.sha256_file(f), "graph": {"max_len": 12, "dynamic_length": True}}
    assert contract_of(f, report) == InputContract(12, True)
    (tmp_path / "old.onnx.report.json").write_text(json.dumps(report))
    from export.contract import verify_export

    assert verify_export(f)["graph"]["max_len"] == 12
