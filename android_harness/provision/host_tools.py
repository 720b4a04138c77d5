"""Host tools the emulator needs: QEMU user mode, the aarch64 cross compiler, CMake.

Missing tools are installed with apt-get when odtool runs as root (after saying so);
otherwise setup stops and prints the exact command to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from toolchain.errors import DeviceError
from toolchain.progress import info

# executable -> Debian package that provides it
HOST_TOOLS = {
    "qemu-aarch64-static": "qemu-user-static",
    "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu",
    "cmake": "cmake",
}
PACKAGES = ("qemu-user-static", "g++-aarch64-linux-gnu", "cmake")
INSTALL_COMMAND = "sudo apt-get install -y " + " ".join(PACKAGES)
# Only the arm64 userland and the apt/dpkg plumbing to fetch it are needed besides.
DEBIAN_TOOLS = ("apt-get", "dpkg")
APT_TIMEOUT_S = 1800


def tool_paths() -> dict[str, str | None]:
    """Each needed executable and where it is (None when missing)."""
    return {exe: shutil.which(exe) for exe in (*HOST_TOOLS, *DEBIAN_TOOLS)}


def missing_tools() -> list[str]:
    """The needed host executables (QEMU user mode, cross compiler, CMake) not on PATH."""
    return [exe for exe in HOST_TOOLS if shutil.which(exe) is None]


def check_debian() -> None:
    """Raise DeviceError unless apt-get and dpkg are on PATH (a Debian-based host)."""
    absent = [t for t in DEBIAN_TOOLS if shutil.which(t) is None]
    if absent:
        raise DeviceError(f"{' and '.join(absent)} not found: the emulator is provisioned from Debian arm64 "
                          "packages and needs a Debian-based host (Debian 12 is what it is tested on)")


def ensure_host_tools(*, allow_install: bool = True) -> list[str]:
    """Install missing tools when root; returns what was installed. Raises DeviceError otherwise."""
    check_debian()
    missing = missing_tools()
    if not missing:
        return []
    packages = sorted({HOST_TOOLS[exe] for exe in missing})
    if os.geteuid() != 0 or not allow_install:
        raise DeviceError(
            f"missing host tools: {', '.join(missing)} (packages {', '.join(packages)})",
            hint=f"run: {INSTALL_COMMAND}   then run `odtool emulator setup` again")
    info(f"installing missing host tools with apt-get (running as root): {' '.join(packages)} "
         f"(about 118 MB to download for all three)")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *packages]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=APT_TIMEOUT_S,
                                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except subprocess.TimeoutExpired:
            raise DeviceError(f"`{' '.join(cmd)}` did not finish within {APT_TIMEOUT_S} s",
                              hint=f"run it by hand: {INSTALL_COMMAND}") from None
        if proc.returncode != 0:
            raise DeviceError(f"`{' '.join(cmd)}` failed:\n{(proc.stdout + proc.stderr)[-2000:]}",
                              hint=f"run it by hand: {INSTALL_COMMAND}")
    still = missing_tools()
    if still:
        raise DeviceError(f"apt-get installed {' '.join(packages)} but {', '.join(still)} is still not on PATH")
    return packages
