"""``odtool emulator setup``: provision the emulator into its cache, idempotently.

Steps: host tools -> plan (what to download, how big) -> arm64 .debs -> sysroot ->
aarch64 wheels -> executorch C++ runtime -> guest site-packages -> profile root (fake CPU
tree) -> .pyc precompile -> host and aarch64 runners -> smoke test -> stamp.

Each step records the key of its inputs (package files, wheel files, versions) in
``stamp.json`` and is redone only when that key changes or its output is gone; so a
second run downloads and unpacks nothing, it only verifies (smoke test included), and a
new executorch / numpy / onnxruntime in the host venv re-fetches just what changed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from android_harness import runner_build
from android_harness.device_profile import Profile, load_profile
from android_harness.provision import debs, guest, host_tools, wheels
from android_harness.provision.layout import EmulatorLayout
from android_harness.provision.roots import ensure_profile_root
from toolchain.atomic import atomic_dir
from toolchain.errors import DeviceError
from toolchain.progress import Task, info, progress


@dataclass
class SetupReport:
    """What a setup run did: bytes downloaded, steps that changed, planned downloads, versions, time."""
    layout: EmulatorLayout
    profile: Profile
    downloaded_bytes: int = 0
    did: list[str] = field(default_factory=list)     # steps that changed something
    planned: list[tuple[str, int | None]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False


def human(n: int | None) -> str:
    """A byte count as MB (from 0.1 MB) or kB, or 'size unknown' for None."""
    if n is None:
        return "size unknown"
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def setup(cache: str | Path | None = None, *, profile: str = "pixel2", with_torch: bool = False,
          torch_index_url: str | None = wheels.TORCH_CPU_INDEX, dry_run: bool = False,
          jobs: int = 2) -> SetupReport:
    """Provision (or verify) the emulator; see the module docstring for the steps."""
    t0 = time.perf_counter()
    layout = EmulatorLayout.at(cache)
    prof = load_profile(profile)
    report = SetupReport(layout, prof, dry_run=dry_run)
    installed = host_tools.ensure_host_tools()
    if installed:
        report.did.append(f"installed host packages {' '.join(installed)}")
    layout.root.mkdir(parents=True, exist_ok=True)
    stamp = layout.read_stamp()
    with_torch = with_torch or bool(stamp.get("with_torch"))  # once opted in, stays in
    pins = wheels.host_pins(with_torch)

    # ---------------------------------------------------------------- plan + download
    deb_packages = [p for p in debs.PACKAGES if not list(layout.debs.glob(f"{p}_*_arm64.deb"))]
    wheel_pins = [p for p in pins if wheels.local_wheel(layout.wheels, p) is None]
    deb_files: list[debs.DebFile] = []
    wheel_files: list[wheels.WheelFile] = []
    if deb_packages or wheel_pins:
        if deb_packages:
            info(f"fetching the arm64 package lists of this host's apt sources (about 20 MB) into {layout.apt_dir}")
            debs.update_lists(layout)
            deb_files = debs.missing_debs(layout, debs.plan(layout, tuple(deb_packages)))
        if wheel_pins:
            info(f"resolving aarch64 wheels: {', '.join(p.spec() for p in wheel_pins)}")
            torch_pin = [p for p in wheel_pins if p.name == "torch"]
            others = [p for p in wheel_pins if p.name != "torch"]
            wheel_files = (wheels.resolve(others) if others else []) + \
                (wheels.resolve(torch_pin, index_url=torch_index_url) if torch_pin else [])
        report.planned = [(f.filename, f.size) for f in (*deb_files, *wheel_files)]
        total = sum(s or 0 for _, s in report.planned)
        info(f"[bold]to download[/]: {len(deb_files)} arm64 .debs ({human(sum(f.size for f in deb_files))}) and "
             f"{len(wheel_files)} aarch64 wheels ({human(sum(f.size or 0 for f in wheel_files))}), "
             f"{human(total)} in all, into {layout.root}")
        for name, size in report.planned:
            info(f"  {human(size):>10}  {name}")
        if dry_run:
            report.seconds = time.perf_counter() - t0
            return report
        t_dl = time.perf_counter()
        with progress() as bar:
            if deb_files:
                task = Task(bar, "arm64 .debs", None)
                debs.download(layout, tuple(deb_packages))
                task.update(completed=1, total=1)
            for f in wheel_files:
                task = Task(bar, f.filename[:40], f.size)
                wheels.download(f, layout.wheels, task.advance)
        report.downloaded_bytes = total
        report.did.append(f"downloaded {human(total)} ({time.perf_counter() - t_dl:.1f} s)")
    elif dry_run:
        info("nothing to download: everything is in the cache")
        return report

    with progress(transient=True) as bar:
        task = Task(bar, "emulator setup", 8)
        steps = stamp["steps"]

        def step(name: str, key: str, done: bool, fn, label: str) -> bool:
            task.update(status=label)
            if steps.get(name) == key and done:
                task.advance()
                return False
            t = time.perf_counter()
            fn()
            steps[name] = key
            stamp["complete"] = False
            layout.write_stamp(stamp)
            report.did.append(f"{label} ({time.perf_counter() - t:.1f} s)")
            task.advance()
            return True

        deb_paths = debs.local_debs(layout)
        if len(deb_paths) != len(debs.PACKAGES):
            raise DeviceError(f"only {len(deb_paths)} of {len(debs.PACKAGES)} arm64 .debs are in {layout.debs}",
                              hint="run `odtool emulator setup` again")
        sys_key = ",".join(p.name for p in deb_paths)

        def build_sysroot() -> None:
            with atomic_dir(layout.sysroot) as tmp:
                debs.unpack(deb_paths, tmp)
            steps.pop("site", None)  # the site dir lived inside the old sysroot
            steps.pop("pyc", None)

        step("sysroot", sys_key, layout.guest_python.is_file(), build_sysroot, "unpack the arm64 userland")

        et_wheel = _wheel(layout, pins[0])
        step("et_runtime", et_wheel.name, (layout.et_root / "lib").is_dir(),
             lambda: _unpack_runtime(layout, et_wheel), "unpack the aarch64 executorch runtime")

        site_wheels = [_wheel(layout, p) for p in pins[1:]]
        site_key = sys_key + "|" + ",".join(w.name for w in site_wheels)

        def build_site() -> None:
            with atomic_dir(layout.site) as tmp:
                wheels.unpack_site(site_wheels, tmp)
            steps.pop("pyc", None)

        step("site", site_key, (layout.site / "onnxruntime").is_dir(), build_site,
             "unpack numpy + onnxruntime" + (" + torch" if with_torch else ""))

        task.update(status="profile root")
        root = ensure_profile_root(layout, prof)
        task.advance()
        step("pyc", site_key, True, lambda: guest.precompile(layout, root, prof, jobs),
             "precompile the guest's .pyc")

        task.update(status="host runner")
        _runner(report, "host", runner_build.host_spec(), runner_build.host_cache_dir(), jobs)
        task.advance()
        task.update(status="aarch64 runner")
        runner = _runner(report, "aarch64", runner_build.aarch64_spec(layout.et_root), layout.runners, jobs)
        task.advance()
        task.update(status="smoke test")
        try:
            report.versions = guest.smoke_test(layout, root, prof, runner, with_torch=with_torch)
        except DeviceError as e:
            if with_torch and re.search(r"libcu|libnv|cuda", e.message):
                _drop_cuda_torch(layout, stamp)
            raise
        task.advance()

    report.versions["executorch"] = runner_build.wheel_build_version(layout.et_root)
    stamp.update(complete=True, with_torch=with_torch, profile=prof.name, versions=report.versions,
                 pins=[p.spec() for p in pins], completed_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    layout.write_stamp(stamp)
    report.seconds = time.perf_counter() - t0
    return report


def _runner(report: SetupReport, what: str, spec: runner_build.RunnerSpec, cache: Path, jobs: int) -> Path:
    built = runner_build.runner_path(spec, cache).is_file()
    t = time.perf_counter()
    path = runner_build.ensure_runner(spec, cache, jobs=jobs)
    if not built:
        report.did.append(f"build the {what} runner ({time.perf_counter() - t:.1f} s)")
    return path


def _drop_cuda_torch(layout: EmulatorLayout, stamp: dict) -> None:
    """A CUDA build of torch cannot import without the NVIDIA libraries: forget it."""
    for w in layout.wheels.glob("torch-*.whl"):
        w.unlink()
    stamp["steps"].pop("site", None)
    layout.write_stamp(stamp)
    raise DeviceError("the aarch64 torch wheel is a CUDA build (PyPI's is), which cannot be imported in the "
                      "CPU-only emulator: it asks for NVIDIA libraries", hint="run `odtool emulator setup "
                      f"--with-torch --torch-index-url {wheels.TORCH_CPU_INDEX}` (the default) or a mirror of it")


def _wheel(layout: EmulatorLayout, pin: wheels.Pin) -> Path:
    w = wheels.local_wheel(layout.wheels, pin)
    if w is None:
        raise DeviceError(f"the aarch64 wheel for {pin.spec()} is missing from {layout.wheels}",
                          hint="run `odtool emulator setup` again")
    return w


def _unpack_runtime(layout: EmulatorLayout, wheel: Path) -> None:
    with atomic_dir(layout.et_root.parent) as tmp:
        wheels.unpack_runtime(wheel, tmp)
