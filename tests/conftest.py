"""Suite-wide fixtures: an isolated ODTOOL_HOME, quiet progress, a small torch thread count."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _odtool_home(tmp_path_factory: pytest.TempPathFactory):
    """Caches (the synthetic default, emulator files) go to a temp dir, never ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ODTOOL_HOME", str(tmp_path_factory.mktemp("odtool-home")))
    mp.setenv("ODTOOL_QUIET", "1")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory: pytest.TempPathFactory):
    """A tiny synthetic dataset with a trained tiny teacher, a student of the paper's recipe
    ("student") and a deployable one ("deployable"), shared by the freeze, export and bench
    tests. Returns {"data", "teacher", "student", "deployable"} paths."""
    from toolchain.training.lifecycle import train_run
    from toolchain.training.build import Deploy
    from toolchain.data.pipeline import synth_dataset
    from toolchain.data.synth import SynthConfig

    root = tmp_path_factory.mktemp("trained-tiny")
    data = root / "data"
    synth_dataset(SynthConfig(n_items=120, n_sessions=600, seed=0), data)
    epochs = {"train": {"epochs": 2}}
    train_run("teacher", root / "teacher", data=data, preset="tiny", flags=epochs)
    train_run("student", root / "student", data=data, preset="tiny", teacher=root / "teacher",
              flags={"train": {"epochs": 1}, "distill": {"pretrain_epochs": 1}}, deploy=Deploy("paper"))
    train_run("student", root / "deployable", data=data, preset="tiny", teacher=root / "teacher",
              flags={"train": {"epochs": 2}})
    return {"data": data, "teacher": root / "teacher", "student": root / "student",
            "deployable": root / "deployable"}


#: the tiny SASRec that the inference-contract tests export: |V|, max_len, top-k
CONTRACT_MODEL = (60, 8, 5)


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory: pytest.TempPathFactory):
    """A tiny SASRec in every format (.pte / .onnx dynamic in L, .ptl static) with its eager graph,
    shared by the export and runner contract tests. {"graph", "paths", "dynamic"}; read-only."""
    from pathlib import Path

    import toolchain.models  # noqa: F401 - registers the models
    from export.graphs.base import GraphOptions
    from export.graphs.build import build_graph
    from export.parity import random_sessions
    from export.pipeline import FORMATS, export_model
    from toolchain.models.base import MODELS

    n_items, max_len, top_k = CONTRACT_MODEL
    d = tmp_path_factory.mktemp("contract")
    torch.manual_seed(0)
    cls = MODELS.get("sasrec")
    model = cls(n_items, cls.config_class.tiny()).eval()
    options = GraphOptions(max_len, top_k)
    results = export_model(model, "m", FORMATS, d, options, random_sessions(n_items, max_len, 4))
    return {"graph": build_graph(model, options), "paths": {r.format: Path(r.path) for r in results},
            "dynamic": {r.format: r.graph["dynamic_length"] for r in results}}
