"""The host device: this machine, optionally pinned to given CPUs.

``.pte`` runs in the native runner built against this venv's executorch wheel (built on
first use, cached under ``$ODTOOL_HOME/runners``); ``.onnx`` and ``.ptl`` run in the Python
runners with this interpreter's onnxruntime / torch.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from android_harness import kernel_libs, runner_build
from android_harness.device_profile import Profile
from android_harness.devices.base import ArtifactFormat, Device, RunSettings
from android_harness.devices.process import run_runner
from toolchain.errors import UsageError

SCRIPTS = {ArtifactFormat.onnx: Path(__file__).parent.parent / "onnx_runner.py",
           ArtifactFormat.torchscript: Path(__file__).parent.parent / "ptl_runner.py"}


def host_cpu_name() -> str:
    """This machine's CPU model name from /proc/cpuinfo, else what ``platform`` reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class HostDevice(Device):
    """This machine as a device: .pte in the native runner, .onnx and .ptl in the Python runners."""
    name = "host"

    def __init__(self, profile: Profile | None = None, *, runner_cache: Path | None = None,
                 python: str | None = None) -> None:
        super().__init__(profile)
        self.runner_cache = Path(runner_cache) if runner_cache else runner_build.host_cache_dir()
        self.python = python or sys.executable
        self._runner: Path | None = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "arch": platform.machine(), "cpu": host_cpu_name(),
                "cpus": len(os.sched_getaffinity(0))}

    def _prepare(self) -> None:
        pass  # nothing to reach; the runner is built when a .pte first needs it

    def runner(self) -> Path:
        """The host runner binary (built on first use)."""
        if self._runner is None:
            self._runner = runner_build.ensure_runner(runner_build.host_spec(), self.runner_cache)
        return self._runner

    def push(self, local: Path) -> str:
        return str(Path(local).absolute())

    def output_path(self, local_dir: Path) -> str:
        return str(local_dir / "result.json")

    def collect(self, device_path: str, local: Path) -> Path:
        return Path(device_path)

    def command(self, fmt: ArtifactFormat, args: list[str]) -> list[str]:
        if fmt is ArtifactFormat.executorch:
            return [str(self.runner()), *args]
        if fmt in SCRIPTS:
            return [self.python, "-B", str(SCRIPTS[fmt]), *args]
        raise UsageError(f"the host device cannot run {fmt.value}")

    def kernel_libraries(self) -> list[Path]:
        return [kernel_libs.host_kernel_library()]

    def execute(self, fmt: ArtifactFormat, args: list[str], settings: RunSettings) -> None:
        cmd = self.command(fmt, args)
        run_runner(cmd, what=f"the {fmt.value} runner on the host", timeout_s=settings.timeout_s,
                   cores=settings.cores)
