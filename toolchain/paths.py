"""Where odtool keeps caches: ``$ODTOOL_HOME``, else ``~/.cache/odtool``."""

from __future__ import annotations

import os
from pathlib import Path


def odtool_home() -> Path:
    """odtool's cache directory: ``$ODTOOL_HOME``, else ``~/.cache/odtool``."""
    env = os.environ.get("ODTOOL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "odtool"
