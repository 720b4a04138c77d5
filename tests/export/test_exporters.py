"""Every format on tiny models: export, load in the real runtime, parity with eager, same bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import toolchain.models  # noqa: F401 - registers the models
from export.formats import get_exporter
from export.graphs.base import GraphOptions
from export.graphs.build import build_graph
from export.parity import check_parity, random_sessions, require_parity
from export.pipeline import FORMATS, export_model
from toolchain.errors import ExportError, UsageError
from toolchain.models.base import MODELS

N_ITEMS, MAX_LEN, TOP_K = 60, 8, 5


def tiny(name: str, seed: int = 0):
    torch.manual_seed(seed)
    cls = MODELS.get(name)
    return cls(N_ITEMS, cls.config_class.tiny()).eval()


@pytest.fixture(scope="module")
def sessions():
    return random_sessions(N_ITEMS, MAX_LEN, 12, seed=3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_matches_eager_in_its_runtime(tmp_path, sessions, fmt):
    model = tiny("stamp")
    (result,) = export_model(model, "stamp", [fmt], tmp_path, GraphOptions(MAX_LEN, TOP_K), sessions)
    path = tmp_path / f"stamp{get_exporter(fmt).suffix}"
    factor = 2 if result.graph["dynamic_length"] else 1  # dynamic exports: padded and [1, len] inputs
    assert path.is_file() and result.parity["ok"] and result.parity["sessions"] == factor * len(sessions)
    report = json.loads(path.with_name(path.name + ".report.json").read_text())
    assert report["bytes"] == path.stat().st_size and report["versions"]["torch"] == torch.__version__
    # independently: the loaded file gives eager's top-k
    loaded = get_exporter(fmt).load(path)
    graph = build_graph(model, GraphOptions(MAX_LEN, TOP_K))
    items, lengths = sessions[0]
    assert np.array_equal(loaded(items, lengths)[1], graph(items, lengths)[1].numpy())
    if result.graph["dynamic_length"]:
        short = items[:, : int(lengths[0])].contiguous()
        assert np.array_equal(loaded(short, lengths)[1], graph(items, lengths)[1].numpy())


@pytest.mark.parametrize("name", ["gru4rec", "narm", "srgnn"])
def test_baselines_export_to_executorch_and_onnx(tmp_path, sessions, name):
    results = export_model(tiny(name), name, ["executorch", "onnx"], tmp_path, GraphOptions(MAX_LEN, TOP_K), sessions)
    assert all(r.parity["ok"] for r in results)


_EXPORT_SCRIPT = """
import sys, torch
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_exporters import tiny, MAX_LEN, TOP_K, N_ITEMS
from export.graphs.base import GraphOptions
from export.parity import random_sessions
from export.pipeline import export_model
export_model(tiny("stamp"), "m", {formats!r}, Path(sys.argv[1]), GraphOptions(MAX_LEN, TOP_K),
             random_sessions(N_ITEMS, MAX_LEN, 4))
"""


def test_same_model_same_bytes(tmp_path, sessions):
    for out in ("a", "b"):
        export_model(tiny("stamp"), "m", ["executorch", "onnx"], tmp_path / out, GraphOptions(MAX_LEN, TOP_K), sessions)
    for suffix in (".pte", ".onnx"):
        assert (tmp_path / "a" / f"m{suffix}").read_bytes() == (tmp_path / "b" / f"m{suffix}").read_bytes()


def test_same_model_same_torchscript_bytes_across_processes(tmp_path):
    # TorchScript numbers traced classes per process, so a second export in the same
    # process differs; what must hold is that each run of odtool gives the same file.
    import subprocess
    import sys
    from pathlib import Path

    script = _EXPORT_SCRIPT.format(tests=str(Path(__file__).parent), formats=["torchscript"])
    for out in ("a", "b"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / out)], check=True, capture_output=True)
    assert (tmp_path / "a" / "m.ptl").read_bytes() == (tmp_path / "b" / "m.ptl").read_bytes()


def test_mismatch_names_format_session_and_error(sessions):
    model = tiny("stamp")
    graph = build_graph(model, GraphOptions(MAX_LEN, TOP_K))

    def broken(items, lengths):
        v, i = graph(items, lengths)
        if int(lengths[0]) == int(sessions[2][1][0]) and torch.equal(items, sessions[2][0]):
            v = v * 1.01  # scores off by 1% on session 2
        return v.numpy(), i.numpy()

    result = check_parity("onnx", graph, broken, sessions)
    assert not result.ok and result.mismatches[0].session == 2
    with pytest.raises(ExportError, match=r"onnx: .*session 2, rank 1: .*relative error \S+ > 0.0001"):
        require_parity(result)


def test_unknown_items_are_padding_and_bad_options_are_refused():
    graph = build_graph(tiny("stamp"), GraphOptions(MAX_LEN, TOP_K))
    items = torch.tensor([[3, 7, 0, 0, 0, 0, 0, 0]])
    with_unknown = torch.tensor([[3, 7, N_ITEMS + 5, -2, 0, 0, 0, 0]])
    a = graph(items, torch.tensor([2]))
    b = graph(with_unknown, torch.tensor([2]))
    assert torch.equal(a[1], b[1])
    with pytest.raises(UsageError, match="top-k"):
        build_graph(tiny("stamp"), GraphOptions(MAX_LEN, N_ITEMS + 1))
