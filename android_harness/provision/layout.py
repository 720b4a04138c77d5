"""Where the emulator's files live, and the stamp that says what setup completed.

``<cache>`` is ``--cache DIR``, else ``$ODTOOL_EMULATOR_CACHE``, else ``$ODTOOL_HOME/emulator``::

    stamp.json            what setup completed, keyed by its inputs (versions, package lists)
    apt/lists, apt/cache  private apt state for the arm64 indexes (the host's is never touched)
    debs/                 arm64 .debs (libc6, libstdc++6, python3.11-minimal, ...)
    wheels/               aarch64 wheels pinned to the host venv's versions
    sysroot/              the unpacked arm64 userland; sysroot/opt/odt-site holds numpy,
                          onnxruntime (and torch with --with-torch) for the guest python
    et-aarch64/executorch the aarch64 wheel's C++ runtime (lib/, include/, share/)
    roots/<profile>/      what ``qemu -L`` sees: symlinks into sysroot/ plus the profile's
                          proc/ and sys/ CPU tree (one per profile, so profiles coexist)
    runners/              the cross-built aarch64 runner, one dir per build key
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolchain.atomic import atomic_write_json
from toolchain.paths import odtool_home

STAMP_VERSION = 1
GUEST_PYTHON = "usr/bin/python3.11"
GUEST_SITE = "/opt/odt-site"


def default_cache_dir() -> Path:
    """The emulator cache: ``$ODTOOL_EMULATOR_CACHE``, else ``emulator/`` in odtool's home."""
    env = os.environ.get("ODTOOL_EMULATOR_CACHE")
    return Path(env).expanduser() if env else odtool_home() / "emulator"


@dataclass(frozen=True)
class EmulatorLayout:
    """Paths inside one emulator cache directory."""

    root: Path

    @classmethod
    def at(cls, cache: str | Path | None = None) -> "EmulatorLayout":
        return cls(Path(cache).expanduser().absolute() if cache else default_cache_dir().absolute())

    @property
    def stamp_path(self) -> Path:
        return self.root / "stamp.json"

    @property
    def apt_dir(self) -> Path:
        return self.root / "apt"

    @property
    def debs(self) -> Path:
        return self.root / "debs"

    @property
    def wheels(self) -> Path:
        return self.root / "wheels"

    @property
    def sysroot(self) -> Path:
        return self.root / "sysroot"

    @property
    def site(self) -> Path:
        return self.sysroot / GUEST_SITE.lstrip("/")

    @property
    def guest_python(self) -> Path:
        return self.sysroot / GUEST_PYTHON

    @property
    def et_root(self) -> Path:
        return self.root / "et-aarch64" / "executorch"

    @property
    def runners(self) -> Path:
        return self.root / "runners"

    def profile_root(self, profile_name: str) -> Path:
        return self.root / "roots" / profile_name

    # ------------------------------------------------------------------ stamp
    def read_stamp(self) -> dict[str, Any]:
        """The stamp, or an empty one when missing, unreadable or from another stamp version."""
        try:
            data = json.loads(self.stamp_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"version": STAMP_VERSION, "steps": {}, "complete": False}
        if data.get("version") != STAMP_VERSION:
            return {"version": STAMP_VERSION, "steps": {}, "complete": False}
        data.setdefault("steps", {})
        return data

    def write_stamp(self, stamp: dict[str, Any]) -> None:
        atomic_write_json(self.stamp_path, stamp)

    def is_provisioned(self) -> bool:
        """Setup completed here and its key files are still present."""
        stamp = self.read_stamp()
        return bool(stamp.get("complete")) and self.guest_python.is_file() and \
            (self.et_root / "lib").is_dir() and (self.site / "onnxruntime").is_dir()

    def has_torch(self) -> bool:
        return bool(self.read_stamp().get("with_torch")) and (self.site / "torch").is_dir()
