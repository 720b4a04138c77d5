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
