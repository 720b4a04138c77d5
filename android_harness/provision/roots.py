"""Per-profile guest roots: what ``qemu-aarch64-static -L`` sees for one phone.

``roots/<profile>/`` holds relative symlinks to every top-level entry of the shared
``sysroot/`` (usr, lib, etc, opt, ...) and, as real directories, that profile's ``proc/``
and ``sys/`` CPU tree. The sysroot is unpacked once; each profile costs a few dozen small
files, and two profiles can run side by side. A marker file records the hash of the tree,
so an edited profile is rewritten on next use.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from android_harness.cpu_tree import cpu_tree_files, write_cpu_tree
from android_harness.device_profile import Profile
from android_harness.provision.layout import EmulatorLayout
from toolchain.atomic import atomic_dir
from toolchain.errors import DeviceError

MARKER = ".odtool-profile.json"
_OWN = {"proc", "sys"}


def tree_hash(profile: Profile) -> str:
    """A 16-hex-digit hash of the profile's fake CPU tree, as recorded in a root's marker."""
    files = cpu_tree_files(profile)
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def _entries(sysroot: Path) -> list[str]:
    return sorted(p.name for p in sysroot.iterdir() if p.name not in _OWN and not p.name.startswith("."))


def root_is_current(layout: EmulatorLayout, profile: Profile) -> bool:
    """Whether the profile's guest root matches its CPU tree hash and the sysroot's current entries."""
    root = layout.profile_root(profile.name)
    try:
        marker = json.loads((root / MARKER).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return marker.get("tree") == tree_hash(profile) and marker.get("entries") == _entries(layout.sysroot) \
        and all((root / e).exists() for e in marker["entries"])


def ensure_profile_root(layout: EmulatorLayout, profile: Profile) -> Path:
    """Create or refresh ``roots/<profile>``; returns its path (pass it to ``qemu -L``)."""
    if not layout.guest_python.is_file():
        raise DeviceError(f"the emulator sysroot at {layout.sysroot} is missing or incomplete",
                          hint="run `odtool emulator setup`")
    root = layout.profile_root(profile.name)
    if root_is_current(layout, profile):
        return root
    entries = _entries(layout.sysroot)
    with atomic_dir(root) as tmp:
        for name in entries:
            # Relative links: the cache directory can move without breaking the root.
            os.symlink(os.path.relpath(layout.sysroot / name, root), tmp / name)
        n = write_cpu_tree(tmp, profile)
        (tmp / MARKER).write_text(json.dumps({"profile": profile.name, "source": profile.source,
                                              "tree": tree_hash(profile), "entries": entries,
                                              "files": n}, indent=2) + "\n")
        tmp.chmod(0o755)
    return root
