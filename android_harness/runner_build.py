"""Build the native ExecuTorch runner on first use, and cache it.

A runner build is keyed by (architecture, executorch version, hash of the runner
sources): ``<cache>/<arch>-<version>-<hash12>/odt_runner`` with the five executorch
``.so`` files bundled in ``lib/`` beside it (RUNPATH ``$ORIGIN/lib``), so the binary does
not depend on where the wheel lives. A new wheel version or an edited ``runner.cpp`` /
``CMakeLists.txt`` gives a new key and one rebuild; older builds of the same architecture
are then removed.

Host runners are cached under ``$ODTOOL_HOME/runners``; the aarch64 runner (cross-built
against the aarch64 wheel's C++ runtime) under the emulator cache's ``runners/``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from toolchain.atomic import atomic_dir
from toolchain.errors import DeviceError
from toolchain.paths import odtool_home

SOURCE_DIR = Path(__file__).with_name("runner")
TOOLCHAIN_FILE = "aarch64-linux-gnu.toolchain.cmake"
BINARY = "odt_runner"
BUILD_TIMEOUT_S = 900


@dataclass(frozen=True)
class RunnerSpec:
    """What a runner is built for and against."""

    arch: str                 # x86_64 | aarch64 (the target)
    executorch_root: Path     # package dir holding lib/ include/ (a wheel's executorch/)
    executorch_version: str
    cross: bool = False       # cross-compile with the aarch64-linux-gnu toolchain file


def host_spec() -> RunnerSpec:
    """The runner for this machine, against the executorch wheel of this Python."""
    import executorch
    from executorch.version import __version__

    return RunnerSpec(platform.machine(), Path(list(executorch.__path__)[0]), __version__)


def aarch64_spec(executorch_root: Path) -> RunnerSpec:
    """The cross-built runner, against an unpacked aarch64 wheel's ``executorch/`` directory."""
    return RunnerSpec("aarch64", executorch_root, wheel_build_version(executorch_root),
                      cross=platform.machine() != "aarch64")


def wheel_build_version(executorch_root: Path) -> str:
    """EXECUTORCH_BUILD_VERSION from the wheel's CMake package (e.g. ``1.5.1+cpu``)."""
    f = executorch_root / "lib/cmake/executorch/executorch-config-version.cmake"
    try:
        text = f.read_text()
    except FileNotFoundError:
        raise DeviceError(f"{f} is missing: the aarch64 executorch runtime is not unpacked",
                          hint="run `odtool emulator setup`") from None
    m = re.search(r'set\(EXECUTORCH_BUILD_VERSION "([^"]+)"\)', text) or \
        re.search(r'set\(PACKAGE_VERSION "([^"]+)"\)', text)
    if not m:
        raise DeviceError(f"{f} names no executorch version", hint="re-run `odtool emulator setup`")
    return m.group(1)


def source_hash(source_dir: Path = SOURCE_DIR) -> str:
    """SHA-256 over the runner's source files (names and contents)."""
    h = hashlib.sha256()
    for p in sorted(source_dir.iterdir()):
        if p.is_file() and p.suffix in {".cpp", ".h", ".txt", ".cmake"}:
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def runner_tag(spec: RunnerSpec, source_dir: Path = SOURCE_DIR) -> str:
    """The build key ``<arch>-<executorch version>-<source hash12>`` that names a runner's cache dir."""
    version = re.sub(r"[^A-Za-z0-9.+_-]", "_", spec.executorch_version)
    return f"{spec.arch}-{version}-{source_hash(source_dir)[:12]}"


def host_cache_dir() -> Path:
    """Where host runners are cached: ``runners/`` in odtool's home."""
    return odtool_home() / "runners"


def runner_path(spec: RunnerSpec, cache_dir: Path, source_dir: Path = SOURCE_DIR) -> Path:
    """Where the runner binary for ``spec`` lives (once built) under ``cache_dir``."""
    return cache_dir / runner_tag(spec, source_dir) / BINARY


def ensure_runner(spec: RunnerSpec, cache_dir: Path, *, source_dir: Path = SOURCE_DIR,
                  force: bool = False, jobs: int = 2) -> Path:
    """Return the cached runner for ``spec``, building it first if the cache lacks it."""
    binary = runner_path(spec, cache_dir, source_dir)
    if binary.is_file() and not force:
        return binary
    tag = binary.parent.name
    with atomic_dir(binary.parent) as out:
        compile_runner(spec, out, source_dir=source_dir, jobs=jobs)
        (out / "build.json").write_text(json.dumps({
            "arch": spec.arch, "executorch_version": spec.executorch_version,
            "executorch_root": str(spec.executorch_root), "source_hash": source_hash(source_dir),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")
    for old in cache_dir.glob(f"{spec.arch}-*"):
        if old.is_dir() and old.name != tag and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return binary


def compile_runner(spec: RunnerSpec, out_dir: Path, *, source_dir: Path = SOURCE_DIR, jobs: int = 2) -> None:
    """Configure and build with CMake in a scratch dir; copy ``odt_runner`` and ``lib/`` to ``out_dir``."""
    for tool in ["cmake"] + (["aarch64-linux-gnu-g++"] if spec.cross else []):
        if shutil.which(tool) is None:
            raise DeviceError(f"`{tool}` is not installed; it is needed to build the {spec.arch} runner",
                              hint="sudo apt-get install -y cmake g++-aarch64-linux-gnu qemu-user-static")
    if not (spec.executorch_root / "lib").is_dir():
        raise DeviceError(f"{spec.executorch_root} has no lib/: not an executorch package directory")
    with tempfile.TemporaryDirectory(prefix="odt-runner-build-") as tmp:
        build = Path(tmp)
        configure = ["cmake", "-S", str(source_dir), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     f"-DEXECUTORCH_ROOT={spec.executorch_root}", "-DODT_RUNNER_BUNDLE_LIBS=ON"]
        if spec.cross:
            configure.append(f"-DCMAKE_TOOLCHAIN_FILE={source_dir / TOOLCHAIN_FILE}")
        for cmd in (configure, ["cmake", "--build", str(build), f"-j{jobs}"]):
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise DeviceError(f"building the {spec.arch} runner took over {BUILD_TIMEOUT_S} s: "
                                  f"{' '.join(cmd)}") from None
            if proc.returncode != 0:
                log = (proc.stdout + proc.stderr)[-3000:]
                raise DeviceError(f"building the {spec.arch} runner failed: {' '.join(cmd)}\n{log}",
                                  hint="check the compiler and the executorch wheel; "
                                       "android_harness/runner/CMakeLists.txt documents the build")
        shutil.copy2(build / BINARY, out_dir / BINARY)
        shutil.copytree(build / "lib", out_dir / "lib")
