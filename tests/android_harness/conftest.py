"""Fixtures for device tests: tiny exported artifacts, the session file, the real caches.

The suite-wide fixture points ODTOOL_HOME at a temp dir, but the emulator is provisioned
(by `make test`, via `odtool emulator setup`) into the user's real cache, and the host
runner is built there too. Both are read from the environment as it was when this file
was imported, before that fixture ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import tiny_session_model as tiny_model
from android_harness.inputs import write_sessions
from android_harness.provision.layout import EmulatorLayout, default_cache_dir
from toolchain.paths import odtool_home

REAL_EMULATOR_CACHE = default_cache_dir()
REAL_RUNNER_CACHE = odtool_home() / "runners"
# Set by `make test`: a missing emulator is then a failure, not a skip.
REQUIRE_EMULATOR = os.environ.get("ODTOOL_REQUIRE_EMULATOR") == "1"


@dataclass(frozen=True)
class TinyArtifacts:
    pte: Path
    onnx: Path
    ptl: Path
    sessions: Path
    reference: list[list[int]]   # eager torch top-k indices per session


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyArtifacts:
    """The tiny model exported three ways, 8 sessions, and its eager top-k."""
    d = tmp_path_factory.mktemp("tiny")
    model = tiny_model.build_model()
    items, lengths = tiny_model.sessions()
    return TinyArtifacts(
        pte=tiny_model.export_pte(model, d / "tiny.pte"),
        onnx=tiny_model.export_onnx(model, d / "tiny.onnx"),
        ptl=tiny_model.export_ptl(model, d / "tiny.ptl"),
        sessions=write_sessions(d / "sessions.bin", items, lengths),
        reference=tiny_model.eager_topk(model, items, lengths),
    )


@pytest.fixture(scope="session")
def code_pte(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[int]]]:
    """A tiny .pte calling odtool::code_topk, and its eager top-k on the tiny sessions."""
    path, model = tiny_model.export_code_pte(tmp_path_factory.mktemp("code") / "code.pte")
    return path, tiny_model.eager_topk(model, *tiny_model.sessions())


@pytest.fixture(scope="session")
def runner_cache() -> Path:
    return REAL_RUNNER_CACHE


@pytest.fixture(scope="session")
def emulator_cache() -> Path:
    """The provisioned emulator cache; skips (or fails under `make test`) when it is absent."""
    layout = EmulatorLayout.at(REAL_EMULATOR_CACHE)
    if not layout.is_provisioned():
        reason = (f"emulator not provisioned in {layout.root}: run `odtool emulator setup` "
                  f"(or `make test`, which does)")
        if REQUIRE_EMULATOR:
            pytest.fail(reason)
        pytest.skip(reason)
    return layout.root
