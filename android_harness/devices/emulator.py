"""The emulator device: a phone profile under QEMU user mode (brief, section 3).

``qemu-aarch64-static -R <memory> -L roots/<profile> -cpu <model>`` runs the cross-built
runner for ``.pte``, and the sysroot's aarch64 python3.11 with onnxruntime for ``.onnx``
(with torch for ``.ptl``, only when setup ran with ``--with-torch``). The guest reads the
profile's fake ``/proc/cpuinfo`` and ``/sys/devices/system/cpu``, so ExecuTorch and ONNX
Runtime size their thread pools for the phone's 4 big + 4 little cores; ``--threads``
(default: the profile's, 1) sets how many they use. Pinning (``cores``) pins QEMU itself.

Times are emulated, not a phone's: report them raw, and compare ratios between models
measured in the same run. ``peak_rss_kb`` is the QEMU process's.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from android_harness import kernel_libs, runner_build
from android_harness.device_profile import Profile, load_profile
from android_harness.devices.base import ArtifactFormat, Device, RunSettings
from android_harness.devices.host import SCRIPTS
from android_harness.devices.process import run_runner
from android_harness.provision.layout import EmulatorLayout
from android_harness.provision.roots import ensure_profile_root
from android_harness.qemu import BASE_ENV, PYTHON_ENV, check_outside_root, python_command, qemu_prefix
from toolchain.errors import DeviceError

SETUP_HINT = "run `odtool emulator setup` (it says what it downloads; `odtool emulator status` shows what is there)"


class EmulatorDevice(Device):
    """A phone (Pixel 2 profile by default) emulated on the host by qemu-aarch64 user mode."""
    name = "emulator"
    emulated = True

    def __init__(self, profile: Profile | None = None, *, cache: str | Path | None = None) -> None:
        super().__init__(profile or load_profile("pixel2"))
        self.layout = EmulatorLayout.at(cache)
        self._root: Path | None = None
        self._runner: Path | None = None

    def describe(self) -> dict[str, Any]:
        p = self.profile
        return {**super().describe(), "arch": "aarch64", "emulator": f"qemu-aarch64-static -cpu {p.qemu_cpu}",
                "host_arch": platform.machine(), "memory_mb": p.memory_mb, "cpu": p.summary()}

    @property
    def root(self) -> Path:
        if self._root is None:
            raise DeviceError("the emulator device is not prepared", hint="call prepare() first")
        return self._root

    def _prepare(self) -> None:
        if not self.layout.is_provisioned():
            raise DeviceError(f"the emulator is not provisioned in {self.layout.root}", hint=SETUP_HINT)
        self._root = ensure_profile_root(self.layout, self.profile)

    def runner(self) -> Path:
        """The aarch64 runner: built at setup, rebuilt here if the runner sources changed since."""
        if self._runner is None:
            spec = runner_build.aarch64_spec(self.layout.et_root)
            self._runner = runner_build.ensure_runner(spec, self.layout.runners)
        return self._runner

    def push(self, local: Path) -> str:
        return check_outside_root(self.root, local)

    def output_path(self, local_dir: Path) -> str:
        return check_outside_root(self.root, local_dir / "result.json")

    def collect(self, device_path: str, local: Path) -> Path:
        return Path(device_path)

    def command(self, fmt: ArtifactFormat, args: list[str]) -> tuple[list[str], dict[str, str]]:
        if fmt is ArtifactFormat.executorch:
            return [*qemu_prefix(self.root, self.profile), str(self.runner()), *args], dict(BASE_ENV)
        if fmt is ArtifactFormat.torchscript and not self.layout.has_torch():
            raise DeviceError("TorchScript-lite on the emulator needs the aarch64 torch wheel, which is not "
                              "provisioned", hint="run `odtool emulator setup --with-torch` (a few hundred MB "
                                                  "more), or run .ptl artifacts on the host device")
        script = check_outside_root(self.root, SCRIPTS[fmt])
        return python_command(self.root, self.profile, script, *args), dict(PYTHON_ENV)

    def kernel_libraries(self) -> list[Path]:
        return [kernel_libs.aarch64_kernel_library(self.layout.et_root, self.layout.root / "kernels")]

    def execute(self, fmt: ArtifactFormat, args: list[str], settings: RunSettings) -> None:
        cmd, env = self.command(fmt, args)
        run_runner(cmd, env=env, cores=settings.cores, timeout_s=settings.timeout_s,
                   what=f"the {fmt.value} runner on the emulator ({self.profile.name})",
                   hint=f"the guest has {self.profile.memory_mb} MB (profile {self.profile.source}); "
                        "`odtool emulator status` checks the provisioning")
