"""odtool's own ExecuTorch kernels (``odtool::code_topk``) for the native runners.

A code student exported with ``kernels=odtool`` calls ``odtool::code_topk``, which is
not in ExecuTorch's kernel libraries: the runner must ``dlopen`` odtool's kernel library
(``--kernel-lib``) before loading such a program. On the host that is the library
``export.kernels.build`` compiles against the venv's wheel; for the emulator the same
source is cross-compiled against the aarch64 wheel's runtime and cached under the
emulator cache's ``kernels/<tag>/``, keyed like the runners (version + source hash).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from android_harness.runner_build import wheel_build_version
from toolchain.atomic import atomic_path
from toolchain.errors import DeviceError

from export.kernels import OP_MARKER as MARKER
LIBRARY = "libodtool_kernels.so"
CROSS_CXX = "aarch64-linux-gnu-g++"
_CHUNK = 1 << 22


def needs_odtool_kernels(pte: str | Path) -> bool:
    """Whether the program names an odtool operator (a byte scan; .pte files are flatbuffers)."""
    tail = b""
    with open(pte, "rb") as f:
        while chunk := f.read(_CHUNK):
            if MARKER in tail + chunk:
                return True
            tail = chunk[-len(MARKER):]
    return False


def host_kernel_library() -> Path:
    """The host build (compiled on first use by ``export.kernels.build``)."""
    from export.kernels.build import build

    return build()


def aarch64_kernel_library(executorch_root: Path, cache_dir: Path) -> Path:
    """The aarch64 build against ``executorch_root`` (an unpacked aarch64 wheel), cached."""
    from export.kernels.build import SOURCE, compile_flags

    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    out = cache_dir / f"aarch64-{wheel_build_version(executorch_root)}-{digest}" / LIBRARY
    if out.is_file():
        return out
    cxx = shutil.which(CROSS_CXX)
    if cxx is None:
        raise DeviceError(f"{CROSS_CXX} is not installed; it builds odtool's kernels for the emulator",
                          hint="sudo apt-get install -y g++-aarch64-linux-gnu")
    with atomic_path(out, suffix=".so") as tmp:
        cmd = [cxx, "-O3", "-std=c++17", "-fPIC", "-shared", "-march=armv8-a+crc", "-mtune=cortex-a53",
               *compile_flags(executorch_root), str(SOURCE), f"-L{executorch_root / 'lib'}", "-lexecutorch",
               "-o", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise DeviceError(f"cross-compiling odtool's kernels for aarch64 failed:\n{proc.stderr[-2000:]}",
                              hint="export the model with --kernels portable to avoid odtool's kernels")
    return out
