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
