"""The emulator device: command lines (always), and end-to-end runs (marker ``emulator``).

The end-to-end tests run the tiny .pte and .onnx under QEMU with the Pixel 2 profile and
check that their top-k equals the host's. They need `odtool emulator setup`; `make test`
runs it first and makes a missing emulator a failure rather than a skip.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from android_harness.device_profile import BUILTIN_DIR, load_profile
from android_harness.devices import DEVICES, EmulatorDevice, HostDevice
from android_harness.devices.base import ArtifactFormat
from android_harness.provision.layout import EmulatorLayout
from android_harness.qemu import check_outside_root
from android_harness.topk import compare_topk
from toolchain.errors import DeviceError


def test_not_provisioned_says_how_to_fix(tmp_path, tiny):
    device = EmulatorDevice(cache=tmp_path / "empty")
    with pytest.raises(DeviceError, match="not provisioned") as e:
        device.run(tiny.pte, tiny.sessions)
    assert "odtool emulator setup" in str(e.value)


def test_command_lines(tmp_path, monkeypatch):
    import shutil

    which = shutil.which  # the command is built, not run: qemu need not be installed here
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name if name == "qemu-aarch64-static" else which(name))
    device = EmulatorDevice(load_profile("pixel2"), cache=tmp_path)
    device._root = tmp_path / "roots" / "pixel2"
    device._runner = tmp_path / "runners" / "odt_runner"
    cmd, env = device.command(ArtifactFormat.executorch, ["--model", "/x/m.pte"])
    assert cmd[1:7] == ["-R", "1536M", "-L", str(device._root), "-cpu", "cortex-a53"]
    assert cmd[7:] == [str(device._runner), "--model", "/x/m.pte"] and set(env) == {"PATH", "HOME", "LANG"}
    cmd, env = device.command(ArtifactFormat.onnx, ["--model", "/x/m.onnx"])
    assert cmd[7:11] == [str(device._root / "usr/bin/python3.11"), "-S", "-s", "-B"]
    assert cmd[11].endswith("android_harness/onnx_runner.py")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONHOME"] == "/usr" and "LD_LIBRARY_PATH" not in env
    with pytest.raises(DeviceError, match="--with-torch"):
        device.command(ArtifactFormat.torchscript, [])


def test_paths_shadowed_by_the_guest_root_are_refused(tmp_path):
    root = tmp_path / "root"
    (root / "opt" / "models").mkdir(parents=True)
    (root / "opt" / "models" / "m.pte").write_bytes(b"")
    with pytest.raises(DeviceError, match="the guest would read"):
        check_outside_root(root, Path("/opt/models/m.pte"))
    assert check_outside_root(root, Path("/opt/models/other.pte")) == "/opt/models/other.pte"


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def devices(emulator_cache, runner_cache):
    return DEVICES.get("emulator")(cache=emulator_cache), HostDevice(runner_cache=runner_cache)


def _host_pyc_count() -> int:
    base = Path("/usr/lib/python3.11")
    return sum(1 for _ in base.rglob("*.pyc")) if base.is_dir() else 0


@pytest.mark.emulator
@pytest.mark.parametrize("fmt", ["pte", "onnx"])
def test_emulator_topk_equals_host(devices, tiny, fmt):
    emulator, host = devices
    before = _host_pyc_count()
    artifact = getattr(tiny, fmt)
    e = emulator.run(artifact, tiny.sessions, threads=1, warmup=1, repeat=2)
    h = host.run(artifact, tiny.sessions, threads=1, warmup=1, repeat=2)
    comparison = compare_topk(h, e)
    assert comparison.ok, comparison.summary()
    assert [list(s.indices) for s in e.sessions] == tiny.reference
    assert e.arch == "aarch64" and e.device["emulated"] and e.device["memory_mb"] == 1536
    assert e.cpu["processors"] == 8 and e.cpu["clusters"] == 2  # the profile's fake CPU tree
    if fmt == "pte":
        assert e.cpu["cpuinfo_ok"] and e.cpu["uarchs"] == 2 and e.cpu["performant_cores"] == 4
        assert e.threads_used == 1
    assert _host_pyc_count() == before, "the guest wrote .pyc files into the host's /usr"


@pytest.mark.emulator
def test_a_new_profile_file_is_a_new_phone(emulator_cache, tiny, tmp_path):
    data = json.loads((BUILTIN_DIR / "pixel2.json").read_text())
    data["name"] = "odtool-test-phone"
    for cluster in data["cpu"]["clusters"]:
        cluster["cores"] = 2
    path = tmp_path / "odtool-test-phone.json"
    path.write_text(json.dumps(data))
    device = EmulatorDevice(load_profile(path), cache=emulator_cache)
    try:
        r = device.run(tiny.pte, tiny.sessions, warmup=0, repeat=1)
        assert r.cpu["processors"] == 4 and r.cpu["clusters"] == 2 and r.cpu["performant_cores"] == 2
        assert [list(s.indices) for s in r.sessions] == tiny.reference
    finally:
        shutil.rmtree(EmulatorLayout.at(emulator_cache).profile_root("odtool-test-phone"), ignore_errors=True)


@pytest.mark.emulator
def test_torchscript_lite_needs_the_opt_in(devices, tiny):
    emulator, _ = devices
    if emulator.layout.has_torch():
        r = emulator.run(tiny.ptl, tiny.sessions, warmup=0, repeat=1)
        assert [list(s.indices) for s in r.sessions] == tiny.reference
    else:
        with pytest.raises(DeviceError, match="not provisioned"):
            emulator.run(tiny.ptl, tiny.sessions)


@pytest.mark.emulator
def test_odtool_kernels_are_cross_built_for_the_emulator(devices, tiny, code_pte):
    emulator, host = devices
    path, reference = code_pte
    e = emulator.run(path, tiny.sessions, warmup=0, repeat=1)
    assert e.raw["kernel_libs"][0].startswith(str(emulator.layout.root / "kernels" / "aarch64-"))
    assert compare_topk(host.run(path, tiny.sessions, warmup=0, repeat=1), e).ok
    assert [list(s.indices) for s in e.sessions] == reference
