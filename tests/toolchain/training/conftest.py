"""A tiny synthetic dataset (|V| ~ 56, ~1,000 training sequences) and a trained tiny teacher."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain.data.pipeline import synth_dataset
from toolchain.data.synth import SynthConfig


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("data") / "tiny"
    return synth_dataset(SynthConfig(n_items=60, n_sessions=300, seed=0), path), path


@pytest.fixture(scope="session")
def tiny_teacher(tiny_data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolchain.training.lifecycle import train_run

    _, data = tiny_data
    out = tmp_path_factory.mktemp("runs") / "teacher"
    train_run("teacher", out, data=data, preset="tiny", flags={"train": {"epochs": 4}})
    return out
