"""The aarch64 wheels: pinned to the host venv's versions, resolved by pip, fetched here.

``pip install --dry-run --report`` resolves each pin for ``manylinux_2_28_aarch64`` /
cp311 against the user's configured indexes and gives back URLs and hashes; a HEAD
request gives each size, so setup can say how much it will download before it does;
then each file is downloaded and its SHA-256 checked. From executorch only the C++
runtime (``lib/``, ``include/``, ``share/``) is unpacked, for the cross build; numpy,
onnxruntime (and torch with ``--with-torch``) go into the guest's ``/opt/odt-site``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from packaging.markers import Marker
from packaging.requirements import Requirement

from toolchain.atomic import atomic_path
from toolchain.errors import DeviceError

PLATFORM = ["--platform", "manylinux_2_28_aarch64", "--python-version", "3.11",
            "--implementation", "cp", "--abi", "cp311"]
RUNTIME_PACKAGES = ("executorch", "numpy", "onnxruntime")
# The GPU stack torch's wheel metadata asks for is useless under a CPU emulator.
_SKIP = re.compile(r"^(nvidia-|cuda-|triton$|setuptools$)")
_GUEST_ENV = {"platform_machine": "aarch64", "platform_system": "Linux", "sys_platform": "linux",
              "os_name": "posix", "python_version": "3.11", "python_full_version": "3.11.2",
              "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
PIP_TIMEOUT_S = 600
# PyPI's aarch64 torch wheels are CUDA builds; the CPU build lives on PyTorch's own index.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Pin:
    """A package pinned to an exact version (``name==version``)."""
    name: str
    version: str

    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class WheelFile:
    """One resolved wheel to fetch: package, file name, URL, and sha256 and size when known."""
    name: str
    filename: str
    url: str
    sha256: str | None
    size: int | None


def host_version(name: str) -> str:
    """The version installed in this Python, without a local tag (``2.13.0+cpu`` -> ``2.13.0``)."""
    try:
        return md.version(name).split("+")[0]
    except md.PackageNotFoundError:
        raise DeviceError(f"{name} is not installed in this Python ({sys.executable}); "
                          "the emulator's wheels are pinned to the host's versions",
                          hint="install odtool with its dependencies (make venv)") from None


def host_pins(with_torch: bool = False) -> list[Pin]:
    """Pins for the guest: executorch, numpy, onnxruntime (+ torch and its pure deps)."""
    pins = [Pin(n, host_version(n)) for n in RUNTIME_PACKAGES]
    if with_torch:
        pins += [Pin("torch", host_version("torch"))] + _torch_deps()
    return pins


def _torch_deps() -> list[Pin]:
    seen: dict[str, Pin] = {}
    todo = ["torch"]
    while todo:
        for raw in md.requires(todo.pop()) or []:
            req = Requirement(raw)
            if _SKIP.match(req.name.lower()) or (req.marker and not req.marker.evaluate(_GUEST_ENV)):
                continue
            key = req.name.lower()
            if key not in seen and key not in RUNTIME_PACKAGES:
                seen[key] = Pin(req.name, host_version(req.name))
                todo.append(req.name)
    return sorted(seen.values(), key=lambda p: p.name.lower())


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def local_wheel(wheels_dir: Path, pin: Pin) -> Path | None:
    """The downloaded wheel for ``pin`` (aarch64 or pure Python), if there is one."""
    if not wheels_dir.is_dir():
        return None
    for p in sorted(wheels_dir.glob("*.whl")):
        parts = p.name.split("-")
        if len(parts) >= 5 and _norm(parts[0]) == _norm(pin.name) and parts[1] == pin.version \
                and p.name.endswith(("aarch64.whl", "-any.whl")):
            return p
    return None


def resolve(pins: list[Pin], *, index_url: str | None = None) -> list[WheelFile]:
    """URLs, hashes and sizes of the aarch64 wheels for ``pins`` (nothing is downloaded)."""
    with tempfile.TemporaryDirectory(prefix="odt-pip-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
               "--no-deps", "--only-binary=:all:", *PLATFORM, "--target", str(Path(tmp) / "t"),
               "--report", str(report), *(["--index-url", index_url] if index_url else []),
               *[p.spec() for p in pins]]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"pip did not resolve the aarch64 wheels within {PIP_TIMEOUT_S} s",
                              hint="check the network or pip's index configuration") from None
        if proc.returncode != 0:
            raise DeviceError("pip could not find aarch64 (manylinux_2_28, cp311) wheels for "
                              f"{', '.join(p.spec() for p in pins)}:\n{proc.stderr[-2000:]}",
                              hint="check the network / pip index; the versions are the host venv's")
        data = json.loads(report.read_text())
    files = []
    for item in data.get("install", []):
        info = item["download_info"]
        hashes = info.get("archive_info", {}).get("hashes", {})
        url = info["url"]
        files.append(WheelFile(item["metadata"]["name"], url.rsplit("/", 1)[-1], url,
                               hashes.get("sha256"), _remote_size(url)))
    return files


def _remote_size(url: str) -> int | None:
    try:
        if url.startswith("file://"):
            return Path(urllib.request.url2pathname(url[7:])).stat().st_size
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as r:
            n = r.headers.get("Content-Length")
            return int(n) if n else None
    except (OSError, ValueError):
        return None


def download(wheel: WheelFile, dest_dir: Path, on_bytes: Callable[[int], None] = lambda n: None) -> Path:
    """Fetch one wheel into ``dest_dir`` and check its SHA-256; a partial file never stays."""
    target = dest_dir / wheel.filename
    h = hashlib.sha256()
    try:
        with atomic_path(target, suffix=".whl") as tmp, urllib.request.urlopen(wheel.url, timeout=60) as r, \
                open(tmp, "wb") as out:
            while chunk := r.read(1 << 20):
                out.write(chunk)
                h.update(chunk)
                on_bytes(len(chunk))
            if wheel.sha256 and h.hexdigest() != wheel.sha256:
                raise DeviceError(f"{wheel.filename}: SHA-256 mismatch after download",
                                  hint="run `odtool emulator setup` again (a proxy may have altered it)")
    except OSError as e:
        raise DeviceError(f"downloading {wheel.url} failed: {e}", hint="check the network and retry") from e
    return target


def unpack_runtime(executorch_wheel: Path, dest: Path) -> None:
    """Extract ``executorch/{lib,include,share}`` (the C++ runtime, ~14 MB) into ``dest``."""
    with zipfile.ZipFile(executorch_wheel) as z:
        members = [n for n in z.namelist() if n.startswith(("executorch/lib/", "executorch/include/",
                                                            "executorch/share/"))]
        if not any(n.endswith("libexecutorch.so") for n in members):
            raise DeviceError(f"{executorch_wheel.name} ships no executorch/lib/libexecutorch.so")
        z.extractall(dest, members)


def unpack_site(wheels: list[Path], site: Path) -> None:
    """Extract whole wheels into the guest's site directory."""
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            z.extractall(site)


def marker_ok(expr: str) -> bool:
    """Whether a requirement marker holds inside the guest (exposed for tests)."""
    return Marker(expr).evaluate(_GUEST_ENV)
