"""``odtool emulator status``: what the emulator cache holds and what is missing.

Reads only: nothing is downloaded, built or run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from android_harness import runner_build
from android_harness.device_profile import load_profile
from android_harness.provision import debs, host_tools, wheels
from android_harness.provision.layout import EmulatorLayout
from android_harness.provision.roots import root_is_current
from toolchain.errors import OdtoolError


@dataclass(frozen=True)
class Row:
    """One status line: a component, whether it is present and current, a detail, whether it is optional."""
    item: str
    ok: bool
    detail: str
    optional: bool = False


def dir_size(path: Path) -> int:
    """Total bytes of the regular files under ``path``, symlinks skipped."""
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def status(cache: str | Path | None = None, profile: str = "pixel2") -> tuple[EmulatorLayout, list[Row]]:
    """One row per component; ``ok`` False means missing or stale."""
    layout = EmulatorLayout.at(cache)
    stamp = layout.read_stamp()
    rows: list[Row] = []
    for exe, path in host_tools.tool_paths().items():
        pkg = host_tools.HOST_TOOLS.get(exe)
        rows.append(Row(f"host tool {exe}", path is not None,
                        path or (f"missing: {host_tools.INSTALL_COMMAND}" if pkg else "missing (Debian host needed)")))
    have = debs.local_debs(layout)
    rows.append(Row("arm64 .debs", len(have) == len(debs.PACKAGES),
                    f"{len(have)}/{len(debs.PACKAGES)} in {layout.debs}"))
    rows.append(Row("sysroot (guest python3.11)", layout.guest_python.is_file(),
                    f"{dir_size(layout.sysroot) / 1e6:.0f} MB at {layout.sysroot}" if layout.sysroot.is_dir()
                    else "missing"))
    with_torch = bool(stamp.get("with_torch"))
    try:
        pins = wheels.host_pins(with_torch)
    except OdtoolError as e:
        pins = []
        rows.append(Row("host venv versions", False, e.message))
    for pin in pins:
        w = wheels.local_wheel(layout.wheels, pin)
        rows.append(Row(f"wheel {pin.spec()}", w is not None, w.name if w else "missing"))
    if not with_torch:
        rows.append(Row("wheel torch (opt-in)", False, "not provisioned (odtool emulator setup --with-torch, "
                        "a few hundred MB)", optional=True))
    et_ok = (layout.et_root / "lib" / "libexecutorch.so").is_file()
    rows.append(Row("executorch C++ runtime (aarch64)", et_ok,
                    runner_build.wheel_build_version(layout.et_root) if et_ok else "missing"))
    for pkg in ("numpy", "onnxruntime") + (("torch",) if with_torch else ()):
        found = sorted(layout.site.glob(f"{pkg}-*.dist-info")) if layout.site.is_dir() else []
        rows.append(Row(f"guest {pkg}", bool(found),
                        found[-1].name.removesuffix(".dist-info").split("-", 1)[1] if found else "missing"))
    steps = stamp["steps"]
    pyc_ok = "pyc" in steps and steps.get("pyc") == steps.get("site")
    rows.append(Row(".pyc precompiled", pyc_ok, "yes" if pyc_ok else "no (setup does it)"))
    try:
        prof = load_profile(profile)
        current = layout.guest_python.is_file() and root_is_current(layout, prof)
        rows.append(Row(f"profile root {prof.name}", current,
                        f"{prof.summary()}" if current else "missing or stale (setup or the first run writes it)"))
    except OdtoolError as e:
        rows.append(Row(f"profile {profile}", False, e.message))
    if et_ok:
        a64 = runner_build.runner_path(runner_build.aarch64_spec(layout.et_root), layout.runners)
        rows.append(Row("aarch64 runner", a64.is_file(), a64.parent.name if a64.is_file()
                        else f"not built for {a64.parent.name} (built on first use)", optional=True))
    try:
        host = runner_build.runner_path(runner_build.host_spec(), runner_build.host_cache_dir())
        rows.append(Row("host runner", host.is_file(), host.parent.name if host.is_file()
                        else f"not built for {host.parent.name} (built on first use)", optional=True))
    except ImportError:
        rows.append(Row("host runner", False, "executorch is not installed in this Python", optional=True))
    rows.append(Row("setup stamp", bool(stamp.get("complete")),
                    f"complete {stamp.get('completed_at', '')}" if stamp.get("complete") else "setup not completed"))
    return layout, rows


def ready(rows: list[Row]) -> bool:
    """Whether every non-optional row is ok."""
    return all(r.ok for r in rows if not r.optional)
