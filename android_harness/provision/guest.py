"""Work done *inside* the emulator during setup: precompiling .pyc and the smoke test."""

from __future__ import annotations

import subprocess
from pathlib import Path

from android_harness.cpu_tree import cpuinfo_text
from android_harness.device_profile import Profile
from android_harness.provision.layout import GUEST_PYTHON, EmulatorLayout
from android_harness.qemu import BASE_ENV, PYTHON_ENV, python_command, qemu_prefix
from toolchain.errors import DeviceError

GUEST_TIMEOUT_S = 600
# Never imported by the runners: test suites, onnxruntime's model tools, numpy's f2py...
# (about a third of the files, and of the precompile time under QEMU).
SKIP = (r"/tests?/|/onnxruntime/(transformers|tools|quantization)/|/numpy/(f2py|typing|_pyinstaller|doc)/"
        r"|/python3\.11/(unittest|lib2to3|pydoc_data|ensurepip|idlelib|turtledemo|tkinter)/")


def _run(cmd: list[str], env: dict[str, str], what: str, timeout: float = GUEST_TIMEOUT_S) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{what} did not finish within {timeout:.0f} s under QEMU") from None
    if proc.returncode != 0:
        raise DeviceError(f"{what} failed under QEMU (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-2000:]}",
                          hint="delete the emulator cache and run `odtool emulator setup` again")
    return proc.stdout


def precompile(layout: EmulatorLayout, root: Path, profile: Profile, jobs: int = 2) -> None:
    """Compile the guest stdlib and site packages to .pyc, in place (import 2.3 s -> 0.9 s).

    The directories are passed as host paths of the sysroot, which the root does not
    shadow, so every .pyc is written next to its source inside the sysroot and nowhere
    else; ``-s/-p`` record the guest paths (``/usr/lib/...``) in them for tracebacks.
    """
    python = str(root / GUEST_PYTHON)
    cmd = [*qemu_prefix(root, profile), python, "-S", "-s", "-E", "-m", "compileall", "-q", "-j", str(jobs),
           "-x", SKIP, "-s", str(layout.sysroot), "-p", "/",
           str(layout.sysroot / "usr/lib/python3.11"), str(layout.site)]
    try:
        subprocess.run(cmd, capture_output=True, text=True, env=BASE_ENV, timeout=GUEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"precompiling the guest's .pyc files took over {GUEST_TIMEOUT_S} s") from None
    # compileall exits 1 when some file does not compile (a few test fixtures / py2 files
    # in wheels do): that is expected and harmless, those modules are never imported.


SMOKE_CODE = ("import sys, numpy, onnxruntime; "
              "print('python', sys.version.split()[0], 'numpy', numpy.__version__, "
              "'onnxruntime', onnxruntime.__version__); sys.stdout.write(open('/proc/cpuinfo').read())")


def smoke_test(layout: EmulatorLayout, root: Path, profile: Profile, runner: Path,
               with_torch: bool = False) -> dict[str, str]:
    """Run the aarch64 runner and the guest python once; returns the versions they report."""
    _run([*qemu_prefix(root, profile), str(runner), "--help"], BASE_ENV, "the aarch64 runner (--help)")
    out = _run(python_command(root, profile, "-c", SMOKE_CODE), PYTHON_ENV, "the guest python (import onnxruntime)")
    first, _, seen = out.partition("\n")
    words = first.split()
    versions = dict(zip(words[0::2], words[1::2]))
    if seen != cpuinfo_text(profile):
        # Newer QEMU releases may synthesize /proc/cpuinfo for ARM guests instead of reading the root's.
        raise DeviceError("the guest does not see the profile's /proc/cpuinfo (this QEMU seems to supply its "
                          "own), so ExecuTorch and ONNX Runtime would not see the phone's CPU",
                          hint="use a qemu-user-static that reads it from the -L root (Debian 12's 7.2 does)")
    if with_torch:
        out = _run(python_command(root, profile, "-c", "import torch; print(torch.__version__)"), PYTHON_ENV,
                   "the guest python (import torch)")
        versions["torch"] = out.strip()
    return versions
