"""The arm64 Debian userland: fetched with private apt state, unpacked with ``dpkg -x``.

apt runs with ``APT::Architecture=arm64`` and its own lists and cache directories under
the emulator cache, so the host's dpkg architectures, package lists and ``pkgcache.bin``
are never touched and no root is needed (``Dir::Cache`` matters: without it the host's
package cache is overwritten with arm64 data). The package list is explicit, not a
recursive dependency walk (that pulls perl and hundreds of MB).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from android_harness.provision.layout import EmulatorLayout
from toolchain.errors import DeviceError

# What the runner needs, then what the guest python + numpy + onnxruntime need.
RUNNER_PACKAGES = ("libc6", "libgcc-s1", "libstdc++6")
PYTHON_PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libexpat1",
                   "zlib1g", "libffi8", "libssl3", "libbz2-1.0", "liblzma5", "libuuid1", "libcrypt1")
PACKAGES = RUNNER_PACKAGES + PYTHON_PACKAGES
APT_TIMEOUT_S = 900


@dataclass(frozen=True)
class DebFile:
    """One .deb that apt would download: its URL, file name and size in bytes."""
    url: str
    filename: str
    size: int


def apt_options(layout: EmulatorLayout) -> list[str]:
    """apt-get options for arm64 with private lists and cache under the layout's apt directory."""
    d = layout.apt_dir
    return ["-oAPT::Architecture=arm64", "-oAPT::Architectures=arm64",
            f"-oDir::State::Lists={d / 'lists'}", f"-oDir::Cache={d / 'cache'}",
            # as root apt drops to the _apt user, which cannot write into the user's cache
            "-oAPT::Sandbox::User=root", "-q"]


def _apt(layout: EmulatorLayout, args: list[str], *, cwd: Path | None = None) -> str:
    cmd = ["apt-get", *apt_options(layout), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=APT_TIMEOUT_S,
                              env={**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"})
    except subprocess.TimeoutExpired:
        raise DeviceError(f"`apt-get {' '.join(args)}` (arm64) did not finish within {APT_TIMEOUT_S} s",
                          hint="check the network and the host's apt sources") from None
    if proc.returncode != 0:
        raise DeviceError(f"`apt-get {' '.join(args)}` (arm64, private state in {layout.apt_dir}) failed:\n"
                          f"{(proc.stdout + proc.stderr)[-2000:]}",
                          hint="the host's apt sources must serve arm64 (deb.debian.org does; "
                               "Ubuntu serves arm64 from ports.ubuntu.com)")
    return proc.stdout


def update_lists(layout: EmulatorLayout) -> None:
    """Fetch the arm64 package indexes of the host's apt sources (about 20 MB)."""
    for d in ("lists/partial", "cache/archives/partial"):
        (layout.apt_dir / d).mkdir(parents=True, exist_ok=True)
    _apt(layout, ["update"])


def have_lists(layout: EmulatorLayout) -> bool:
    """Whether the private arm64 package lists have been fetched."""
    lists = layout.apt_dir / "lists"
    return lists.is_dir() and any(p.name.endswith("_Packages") or "_Packages." in p.name for p in lists.iterdir())


def plan(layout: EmulatorLayout, packages: tuple[str, ...] = PACKAGES) -> list[DebFile]:
    """The .debs ``apt-get download`` would fetch, with their sizes (needs the lists)."""
    out = _apt(layout, ["download", "--print-uris", *packages])
    files = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith("'"):
            files.append(DebFile(parts[0].strip("'"), parts[1], int(parts[2])))
    if len(files) != len(packages):
        raise DeviceError(f"apt found {len(files)} of the {len(packages)} arm64 packages needed "
                          f"({', '.join(packages)})", hint="refresh the lists: delete "
                          f"{layout.apt_dir} and run `odtool emulator setup` again")
    return files


def missing_debs(layout: EmulatorLayout, files: list[DebFile]) -> list[DebFile]:
    """The planned .debs not yet in the layout's debs directory."""
    return [f for f in files if not (layout.debs / f.filename).is_file()]


def local_debs(layout: EmulatorLayout) -> list[Path]:
    """The downloaded .debs, one per needed package (newest file name wins)."""
    found = []
    for pkg in PACKAGES:
        cands = sorted(layout.debs.glob(f"{pkg}_*_arm64.deb"))
        if cands:
            found.append(cands[-1])
    return found


def download(layout: EmulatorLayout, packages: tuple[str, ...] = PACKAGES) -> None:
    """``apt-get download`` the arm64 ``packages`` into the layout's debs directory."""
    layout.debs.mkdir(parents=True, exist_ok=True)
    _apt(layout, ["download", *packages], cwd=layout.debs)


def unpack(debs: list[Path], sysroot: Path) -> None:
    """``dpkg -x`` every .deb into ``sysroot``, then make it safe to use as a qemu ``-L`` root."""
    for deb in debs:
        proc = subprocess.run(["dpkg", "-x", str(deb), str(sysroot)], capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            raise DeviceError(f"`dpkg -x {deb.name}` failed: {proc.stderr.strip()}",
                              hint=f"delete {deb} (it may be truncated) and run setup again")
    fix_sysroot(sysroot)


def fix_sysroot(sysroot: Path) -> None:
    """Fixes without which the guest would see host files.

    * empty ``etc/ld.so.cache`` and ``etc/ld.so.preload``: otherwise the guest loader falls
      through to the host's x86 ones;
    * empty ``dist-packages`` dirs: they shadow the host's, so the guest python never
      imports x86 packages from the host;
    * absolute symlinks become relative: the kernel would resolve them on the host.
    """
    for f in ("etc/ld.so.cache", "etc/ld.so.preload"):
        (sysroot / f).parent.mkdir(parents=True, exist_ok=True)
        (sysroot / f).write_bytes(b"")
    for d in ("usr/lib/python3/dist-packages", "usr/local/lib/python3.11/dist-packages",
              "usr/lib/python3.11/site-packages"):
        (sysroot / d).mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(sysroot):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink() and os.readlink(p).startswith("/"):
                target = sysroot / os.readlink(p).lstrip("/")
                p.unlink()
                p.symlink_to(os.path.relpath(target, p.parent))
