"""Compile ``odtool_kernels.cpp`` against the installed executorch wheel and load it.

The library is cached under ``$ODTOOL_HOME/kernels/<arch>-<executorch version>-<source hash>``
and rebuilt only when the wheel or the source changes. Loading it registers
``odtool::code_topk.out`` in the ExecuTorch runtime of this Python process.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from toolchain.atomic import atomic_path
from toolchain.errors import ExportError
from toolchain.paths import odtool_home

SOURCE = Path(__file__).with_name("odtool_kernels.cpp")


def executorch_root() -> Path:
    """The installed executorch package's directory."""
    import executorch

    return Path(list(executorch.__path__)[0])


def executorch_version() -> str:
    """The installed executorch's version string."""
    from executorch.version import __version__

    return __version__


def compile_flags(root: Path) -> list[str]:
    """Include paths and defines a consumer of the executorch wheel needs (see its CMake config)."""
    inc = root / "include"
    return [f"-I{inc}", f"-I{inc / 'executorch/runtime/core/portable_type/c10'}",
            "-DC10_USING_CUSTOM_GENERATED_MACROS", "-DET_EVENT_TRACER_ENABLED"]


def library_path() -> Path:
    """Where the compiled kernel library is cached, keyed by arch, executorch version and source hash."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    tag = f"{platform.machine()}-{executorch_version()}-{digest}"
    return odtool_home() / "kernels" / tag / "libodtool_kernels.so"


def build(force: bool = False) -> Path:
    """Compile the kernel library for this machine if the cache lacks it; return its path."""
    out = library_path()
    if out.is_file() and not force:
        return out
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        raise ExportError("no C++ compiler found to build odtool's ExecuTorch kernels",
                          hint="install one (apt-get install g++) or export with --kernels portable")
    root = executorch_root()
    lib_dir = root / "lib"
    with atomic_path(out, suffix=".so") as tmp:
        cmd = [cxx, "-O3", "-std=c++17", "-fPIC", "-shared", *compile_flags(root), str(SOURCE),
               f"-L{lib_dir}", "-lexecutorch", f"-Wl,-rpath,{lib_dir}", "-o", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ExportError(f"building odtool's ExecuTorch kernels failed:\n{proc.stderr[-2000:]}",
                              hint="export with --kernels portable to use only ExecuTorch's own kernels")
    return out


@lru_cache(maxsize=1)
def load() -> Path:
    """Build if needed and register the kernels in this process's ExecuTorch runtime (once)."""
    import executorch.runtime  # noqa: F401 - loads libexecutorch.so, whose registry we join

    path = build()
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path
