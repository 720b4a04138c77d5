"""The device interface: prepare, push an artifact and its inputs, run, collect the result.

Every device runs the same runners (the native ExecuTorch runner for ``.pte``, the Python
runners for ``.onnx`` / ``.ptl``) on the same session file and returns the same
:class:`~android_harness.results.RunResult`, so results compare across devices::

    device = DEVICES.get("emulator")(load_profile("pixel2"))
    device.prepare()
    result = device.run("student.pte", "sessions.bin", threads=1, warmup=10, repeat=5)
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from android_harness.device_profile import Profile
from android_harness.kernel_libs import needs_odtool_kernels
from android_harness.results import RunResult, load_result
from toolchain.errors import DeviceError, UsageError
from toolchain.formats import Format


#: the formats a device runs: the one definition (toolchain.formats), under the name devices use
ArtifactFormat = Format


def artifact_format(path: str | Path) -> Format:
    """The format of an export file, from its suffix."""
    return Format.of_path(path)


@dataclass(frozen=True)
class RunSettings:
    """How to run: threads, warm-up, timed passes, top-k, pinned CPUs, time limit."""

    threads: int = 1
    warmup: int = 10
    repeat: int = 5
    topk: int = 10
    cores: tuple[int, ...] | None = None   # host CPUs to pin the runner (or QEMU) to
    timeout_s: float = 1800.0
    trim: bool = False  # feed sessions as [1, len] (programs exported with a dynamic length)

    def __post_init__(self) -> None:
        problems = []
        if self.threads < 0:
            problems.append(f"threads must be >= 0 (0 = the runtime's default), got {self.threads}")
        if self.warmup < 0 or self.repeat < 1 or self.topk < 1:
            problems.append(f"need warmup >= 0, repeat >= 1, topk >= 1; got {self.warmup}, {self.repeat}, {self.topk}")
        if self.timeout_s <= 0:
            problems.append(f"timeout_s must be > 0, got {self.timeout_s}")
        if problems:
            raise UsageError("; ".join(problems))

    def runner_args(self, model: str, inputs: str, output: str) -> list[str]:
        return ["--model", model, "--input", inputs, "--output", output, "--threads", str(self.threads),
                "--warmup", str(self.warmup), "--repeat", str(self.repeat), "--topk", str(self.topk),
                "--input-len", "trim" if self.trim else "pad"]


def check_cores(cores: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Validate host CPU ids against this process's allowed set."""
    if cores is None:
        return None
    allowed = os.sched_getaffinity(0)
    bad = sorted(set(cores) - allowed)
    if not cores or bad:
        raise UsageError(f"cannot pin to CPU(s) {bad or list(cores)}: this machine allows {sorted(allowed)}")
    return tuple(cores)


class Device(ABC):
    """One place artifacts run. Subclasses register in ``android_harness.devices.DEVICES``."""

    name: ClassVar[str] = "device"
    emulated: ClassVar[bool] = False
    formats: ClassVar[frozenset[ArtifactFormat]] = frozenset(ArtifactFormat)

    def __init__(self, profile: Profile | None = None) -> None:
        self.profile = profile
        self._prepared = False

    def check_cores(self, cores: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """Validate CPU ids to pin to (host CPUs, except on devices that pin on the phone)."""
        return check_cores(cores)

    @property
    def default_threads(self) -> int:
        return self.profile.default_threads if self.profile else 1

    def describe(self) -> dict[str, Any]:
        """What a report says about where the numbers come from."""
        return {"device": self.name, "emulated": self.emulated,
                "profile": self.profile.name if self.profile else None}

    def prepare(self) -> None:
        """Check the device is reachable and ready (idempotent); raise DeviceError with the fix."""
        if not self._prepared:
            self._prepare()
            self._prepared = True

    @abstractmethod
    def _prepare(self) -> None: ...

    @abstractmethod
    def push(self, local: Path) -> str:
        """Make a local file readable on the device; returns the path the device uses."""

    @abstractmethod
    def execute(self, fmt: ArtifactFormat, args: list[str], settings: RunSettings) -> None:
        """Run the runner for ``fmt`` with ``args`` (device paths); raise DeviceError on failure."""

    def kernel_libraries(self) -> list[Path]:
        """Local paths of odtool's kernel library built for this device (for ``odtool::`` ops)."""
        raise DeviceError(f"the {self.name} device cannot load odtool's kernels")

    @abstractmethod
    def output_path(self, local_dir: Path) -> str:
        """Where the runner writes its JSON on the device."""

    @abstractmethod
    def collect(self, device_path: str, local: Path) -> Path:
        """Bring the runner's JSON back to ``local``."""

    def run(self, artifact: str | Path, sessions: str | Path, *, threads: int | None = None, warmup: int = 10,
            repeat: int = 5, topk: int = 10, cores: tuple[int, ...] | None = None,
            timeout_s: float = 1800.0, trim: bool = False) -> RunResult:
        """Push, run, collect and parse one artifact on one session file.

        The artifact is verified against the sha256 in its ``.report.json`` first (a mismatch
        raises ArtifactError; a file without a report runs with a warning), and the runner
        is given that sha256 and the report's max_len to check again on the device."""
        artifact, sessions = Path(artifact), Path(sessions)
        fmt = artifact_format(artifact)
        if fmt not in self.formats:
            raise DeviceError(f"the {self.name} device cannot run {fmt.value} artifacts ({artifact.name}); "
                              f"it runs {', '.join(sorted(f.value for f in self.formats))}")
        for p in (artifact, sessions):
            if not p.is_file():
                raise UsageError(f"{p} does not exist")
        # The file must match its report before anything runs (ArtifactError otherwise; no report:
        # a warning). The runner checks it again where it runs, after the push.
        from toolchain.contract import verify_export

        report = verify_export(artifact)
        settings = RunSettings(self.default_threads if threads is None else threads, warmup, repeat, topk,
                               self.check_cores(tuple(cores) if cores is not None else None), timeout_s,
                               trim and fmt is not ArtifactFormat.torchscript)  # .ptl graphs are traced static
        self.prepare()
        with tempfile.TemporaryDirectory(prefix="odt-run-") as tmp:
            output = self.output_path(Path(tmp))
            args = settings.runner_args(self.push(artifact), self.push(sessions), output)
            if report is not None:
                args += ["--sha256", report["sha256"]]
                if (report.get("graph") or {}).get("max_len"):
                    args += ["--max-len", str(int(report["graph"]["max_len"]))]
            if fmt is ArtifactFormat.executorch and needs_odtool_kernels(artifact):
                for lib in self.kernel_libraries():  # the program calls odtool::code_topk
                    args += ["--kernel-lib", self.push(lib)]
            self.execute(fmt, args, settings)
            local = self.collect(output, Path(tmp) / "result.json")
            return load_result(local, device={**self.describe(), "threads": settings.threads,
                                              "cores": list(settings.cores) if settings.cores else None})
