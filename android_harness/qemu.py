"""Command lines for QEMU user mode: a guest binary or the guest Python under one profile.

``qemu-aarch64-static -R <memory> -L <root> -cpu <model> PROGRAM ARGS``:

* ``-L root``: the guest's file look-ups go to ``root/<path>`` when that exists, else to
  the host path. Files the guest *creates* under a path the root lacks land on the host,
  so models, inputs and outputs are always absolute host paths outside the root
  (:func:`check_outside_root`), and the guest Python runs with ``-B`` and
  ``PYTHONDONTWRITEBYTECODE=1`` (an early prototype leaked ``.pyc`` files into host /usr).
* ``-R``: reserves the guest address space, which caps what it can map at the
  profile's memory (1536 MB for the Pixel 2 AVD).
* ``-cpu``: ``cortex-a53`` exposes exactly the Pixel 2's ARMv8.0 + crc + crypto features;
  QEMU's default ``max`` also enables SVE and friends and runs 1.5-1.9x slower.

The child gets an explicit, minimal environment (the ``env -i`` of the prototype), so no
host ``PYTHONPATH``, ``LD_LIBRARY_PATH`` or ``QEMU_*`` variable leaks into the guest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from android_harness.device_profile import Profile
from android_harness.provision.layout import GUEST_PYTHON, GUEST_SITE
from toolchain.errors import DeviceError

QEMU = "qemu-aarch64-static"
BASE_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}
PYTHON_ENV = {**BASE_ENV, "PYTHONHOME": "/usr", "PYTHONPATH": GUEST_SITE, "PYTHONNOUSERSITE": "1",
              "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
# -S: no site module (nothing of the host's), -s: no user site, -B: never write .pyc
PYTHON_FLAGS = ("-S", "-s", "-B")


def qemu_binary() -> str:
    """Path of the qemu-aarch64-static binary; raise DeviceError with an install hint if missing."""
    path = shutil.which(QEMU)
    if path is None:
        raise DeviceError(f"{QEMU} is not installed",
                          hint="sudo apt-get install -y qemu-user-static g++-aarch64-linux-gnu cmake")
    return path


def qemu_prefix(root: Path, profile: Profile | None = None) -> list[str]:
    """``qemu-aarch64-static [-R <mem>M] -L root [-cpu model]``."""
    cmd = [qemu_binary()]
    if profile is not None:
        cmd += ["-R", f"{profile.memory_mb}M"]
    cmd += ["-L", str(root)]
    if profile is not None:
        cmd += ["-cpu", profile.qemu_cpu]
    return cmd


def python_command(root: Path, profile: Profile | None, script: Path | str, *args: str) -> list[str]:
    """The guest python3.11 running ``script`` (a host path outside the root)."""
    return [*qemu_prefix(root, profile), str(root / GUEST_PYTHON), *PYTHON_FLAGS, str(script), *args]


def check_outside_root(root: Path, path: str | Path) -> str:
    """``path`` as the guest must see it: absolute, and not shadowed by a file in the root.

    Raises DeviceError when ``root/<path>`` exists: the guest would read that instead.
    """
    p = Path(path).absolute()
    shadow = root / str(p).lstrip("/")
    if shadow.exists() or shadow.is_symlink():
        raise DeviceError(f"the guest would read {shadow} instead of {p} (the emulator root has that path)",
                          hint="move the file to another directory (e.g. under /tmp or your home)")
    return str(p)
