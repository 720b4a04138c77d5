"""The adb device: a real phone, or a real Android emulator, reached with ``adb``.

Protocol (every call has a time limit, so a missing or hung device is an error, never a
hang)::

    adb devices                                   # pick the device (serial selectable)
    adb -s S shell mkdir -p /data/local/tmp/odtool/lib
    adb -s S push <runner dir>/odt_runner <runner dir>/lib/*.so   /data/local/tmp/odtool/...
    adb -s S shell chmod 755 /data/local/tmp/odtool/odt_runner
    adb -s S push model.pte sessions.bin /data/local/tmp/odtool/   (+ libodtool_kernels.so if needed)
    adb -s S shell 'cd /data/local/tmp/odtool && LD_LIBRARY_PATH=... ./odt_runner ... --output result.json'
    adb -s S pull /data/local/tmp/odtool/result.json <local>

The Android runner is built by the user with the Android NDK against ExecuTorch's
Android libraries (README, "Running on a phone"); point ``runner=`` (or
``$ODTOOL_ANDROID_RUNNER``) at the built ``odt_runner``, with its ``.so`` files in ``lib/``
beside it. Only ``.pte`` artifacts run on adb devices.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from android_harness.device_profile import Profile
from android_harness.devices.base import ArtifactFormat, Device, RunSettings
from android_harness.devices.process import describe_exit, stderr_tail
from toolchain.errors import DeviceError
from toolchain.paths import odtool_home

REMOTE_DIR = "/data/local/tmp/odtool"
RUNNER_README = "README.md, section 'Running on a phone (adb)'"


@dataclass(frozen=True)
class AdbDeviceInfo:
    """One device line of ``adb devices``: its serial and state."""
    serial: str
    state: str  # device | offline | unauthorized | no permissions ...


def parse_devices(text: str) -> list[AdbDeviceInfo]:
    """Parse ``adb devices`` output (skips the header and daemon start-up chatter)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("List of devices", "*", "adb server", "adb:")):
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            found.append(AdbDeviceInfo(parts[0], parts[1].split(" (")[0].strip()))
    return found


def default_runner() -> Path:
    """The Android runner: ``$ODTOOL_ANDROID_RUNNER``, else ``android/odt_runner`` in odtool's home."""
    env = os.environ.get("ODTOOL_ANDROID_RUNNER")
    return Path(env).expanduser() if env else odtool_home() / "android" / "odt_runner"


class AdbDevice(Device):
    """A phone or Android emulator reached with ``adb``; runs ``.pte`` files with the Android runner."""
    name = "adb"
    formats = frozenset({ArtifactFormat.executorch})

    def __init__(self, profile: Profile | None = None, *, serial: str | None = None,
                 runner: str | Path | None = None, kernel_lib: str | Path | None = None, adb: str = "adb",
                 timeout_s: float = 60.0) -> None:
        super().__init__(profile)
        kernel_lib = kernel_lib or os.environ.get("ODTOOL_ANDROID_KERNEL_LIB")
        self.kernel_lib = Path(kernel_lib).expanduser() if kernel_lib else None
        self.serial = serial or os.environ.get("ANDROID_SERIAL") or None
        self.runner = Path(runner) if runner else default_runner()
        self.adb = adb
        self.timeout_s = timeout_s

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "serial": self.serial, "arch": "aarch64"}

    def check_cores(self, cores: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """Phone CPU ids (``taskset`` runs on the phone); checked against the profile if any."""
        if cores is None:
            return None
        limit = self.profile.n_cpus if self.profile else 64
        if not cores or any(not 0 <= c < limit for c in cores):
            raise DeviceError(f"cannot pin to phone CPU(s) {list(cores)}: valid ids are 0-{limit - 1}")
        return tuple(cores)

    # ------------------------------------------------------------------ adb calls
    def _adb(self, *args: str, timeout: float | None = None, serial: bool = True) -> subprocess.CompletedProcess:
        exe = shutil.which(self.adb)
        if exe is None:
            raise DeviceError(f"`{self.adb}` is not installed or not on PATH",
                              hint="install Android platform-tools (apt-get install adb, or the SDK's "
                                   "platform-tools) and connect a phone with USB debugging on")
        cmd = [exe, *(["-s", self.serial] if serial and self.serial else []), *args]
        limit = timeout or self.timeout_s
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"`adb {' '.join(cmd[1:])}` did not answer within {limit:.0f} s",
                              hint="check the cable and `adb devices`; `adb kill-server` resets a stuck "
                                   "server") from None
        return proc

    def _check(self, proc: subprocess.CompletedProcess, what: str) -> str:
        if proc.returncode != 0:
            raise DeviceError(f"{what} failed ({describe_exit(proc.returncode)}):\n"
                              f"{stderr_tail(proc.stderr or proc.stdout)}")
        return proc.stdout

    def devices(self) -> list[AdbDeviceInfo]:
        return parse_devices(self._check(self._adb("devices", serial=False), "`adb devices`"))

    def _select(self) -> str:
        listed = self.devices()
        ready = [d for d in listed if d.state == "device"]
        if self.serial:
            match = [d for d in listed if d.serial == self.serial]
            if not match:
                have = ", ".join(d.serial for d in listed) or "none"
                raise DeviceError(f"no adb device with serial {self.serial} (attached: {have})",
                                  hint="pick one from `adb devices` with --serial")
            if match[0].state != "device":
                raise DeviceError(f"adb device {self.serial} is '{match[0].state}'",
                                  hint="unlock the phone and accept the USB debugging prompt"
                                  if match[0].state == "unauthorized" else "reconnect it and check `adb devices`")
            return self.serial
        if not ready:
            extra = f" ({', '.join(f'{d.serial}: {d.state}' for d in listed)})" if listed else ""
            raise DeviceError(f"no Android device attached{extra}",
                              hint="connect a phone with USB debugging on (or start an Android emulator) "
                                   "until `adb devices` lists it as 'device'")
        if len(ready) > 1:
            raise DeviceError(f"{len(ready)} adb devices attached ({', '.join(d.serial for d in ready)})",
                              hint="choose one with --serial")
        return ready[0].serial

    # ------------------------------------------------------------------ interface
    def _prepare(self) -> None:
        if not self.runner.is_file():
            raise DeviceError(f"no Android runner at {self.runner}",
                              hint=f"build it with the Android NDK ({RUNNER_README}) and pass its path "
                                   "or set ODTOOL_ANDROID_RUNNER")
        self.serial = self._select()
        self._check(self._adb("shell", f"mkdir -p {REMOTE_DIR}/lib"), "creating the work directory")
        libs = sorted((self.runner.parent / "lib").glob("*.so"))
        self._check(self._adb("push", str(self.runner), f"{REMOTE_DIR}/odt_runner", timeout=300), "pushing the runner")
        if libs:
            self._check(self._adb("push", *map(str, libs), f"{REMOTE_DIR}/lib/", timeout=300),
                        "pushing the runner's libraries")
        self._check(self._adb("shell", f"chmod 755 {REMOTE_DIR}/odt_runner"), "chmod of the runner")

    def push(self, local: Path) -> str:
        remote = f"{REMOTE_DIR}/{Path(local).name}"
        self._check(self._adb("push", str(local), remote, timeout=600), f"pushing {Path(local).name}")
        return remote

    def output_path(self, local_dir: Path) -> str:
        return f"{REMOTE_DIR}/result.json"

    def kernel_libraries(self) -> list[Path]:
        if self.kernel_lib is None or not self.kernel_lib.is_file():
            raise DeviceError("this program calls odtool::code_topk, so the phone needs odtool's kernel library",
                              hint=f"build libodtool_kernels.so with the NDK ({RUNNER_README}) and pass it as "
                                   "kernel_lib= or ODTOOL_ANDROID_KERNEL_LIB; or export with --kernels portable")
        return [self.kernel_lib]

    def execute(self, fmt: ArtifactFormat, args: list[str], settings: RunSettings) -> None:
        output = args[args.index("--output") + 1]
        quoted = " ".join(shlex.quote(a) for a in args)
        pin = f"taskset {sum(1 << c for c in settings.cores):x} " if settings.cores else ""
        script = (f"cd {REMOTE_DIR} && rm -f {shlex.quote(output)} && "
                  f"LD_LIBRARY_PATH={REMOTE_DIR}/lib {pin}./odt_runner {quoted}")
        proc = self._adb("shell", script, timeout=settings.timeout_s)
        self._check(proc, f"the runner on adb device {self.serial}")

    def collect(self, device_path: str, local: Path) -> Path:
        self._check(self._adb("pull", device_path, str(local), timeout=120), "pulling the result")
        if not local.is_file():
            raise DeviceError(f"`adb pull {device_path}` reported success but wrote no {local}")
        return local
