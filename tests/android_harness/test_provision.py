"""Provisioning pieces that need no network: host tools, apt options, sysroot fixes,
wheel pins, profile roots, the status table and the CLI's error paths."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from android_harness.device_profile import load_profile
from android_harness.provision import debs, host_tools, wheels
from android_harness.provision.layout import EmulatorLayout
from android_harness.provision.roots import ensure_profile_root, root_is_current
from android_harness.provision.status import ready, status
from odtool.cli.main import app
from toolchain.errors import DeviceError


def test_missing_tools_without_root_print_the_apt_command(monkeypatch):
    real_which = host_tools.shutil.which
    monkeypatch.setattr(host_tools.shutil, "which",
                        lambda exe: None if exe == "qemu-aarch64-static" else real_which(exe) or f"/usr/bin/{exe}")
    monkeypatch.setattr(host_tools.os, "geteuid", lambda: 1000)
    with pytest.raises(DeviceError) as e:
        host_tools.ensure_host_tools()
    assert "missing host tools: qemu-aarch64-static" in str(e.value)
    assert "sudo apt-get install -y qemu-user-static g++-aarch64-linux-gnu cmake" in str(e.value)


def test_cli_setup_error_has_no_traceback(monkeypatch, tmp_path):
    monkeypatch.setattr(host_tools.shutil, "which", lambda exe: None if exe == "cmake" else f"/usr/bin/{exe}")
    monkeypatch.setattr(host_tools.os, "geteuid", lambda: 1000)
    r = CliRunner().invoke(app, ["emulator", "setup", "--cache", str(tmp_path)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "sudo apt-get install -y qemu-user-static g++-aarch64-linux-gnu cmake" in r.output


def test_apt_state_is_private(tmp_path):
    opts = debs.apt_options(EmulatorLayout(tmp_path))
    assert f"-oDir::State::Lists={tmp_path}/apt/lists" in opts and f"-oDir::Cache={tmp_path}/apt/cache" in opts
    assert "-oAPT::Architecture=arm64" in opts and "-oAPT::Architectures=arm64" in opts
    assert set(debs.RUNNER_PACKAGES) == {"libc6", "libgcc-s1", "libstdc++6"}


def test_fix_sysroot(tmp_path):
    (tmp_path / "usr/lib/python3.11").mkdir(parents=True)
    (tmp_path / "etc/python3.11").mkdir(parents=True)
    (tmp_path / "etc/python3.11/sitecustomize.py").write_text("")
    link = tmp_path / "usr/lib/python3.11/sitecustomize.py"
    link.symlink_to("/etc/python3.11/sitecustomize.py")
    debs.fix_sysroot(tmp_path)
    assert os.readlink(link) == "../../../etc/python3.11/sitecustomize.py" and link.exists()
    assert (tmp_path / "etc/ld.so.cache").read_bytes() == b"" and (tmp_path / "etc/ld.so.preload").exists()
    assert (tmp_path / "usr/lib/python3/dist-packages").is_dir()


def test_wheel_pins_follow_the_host_venv(tmp_path):
    pins = {p.name: p.version for p in wheels.host_pins()}
    assert set(pins) == {"executorch", "numpy", "onnxruntime"} and "+" not in pins["executorch"]
    torch_pins = {p.name.lower() for p in wheels.host_pins(with_torch=True)}
    assert "torch" in torch_pins and not any(n.startswith(("nvidia", "cuda", "triton")) for n in torch_pins)
    assert wheels.marker_ok('platform_machine == "aarch64"') and not wheels.marker_ok('extra == "dev"')
    (tmp_path / "numpy-2.4.6-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl").write_bytes(b"")
    (tmp_path / "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    (tmp_path / "MarkupSafe-3.0.2-py3-none-any.whl").write_bytes(b"")
    assert wheels.local_wheel(tmp_path, wheels.Pin("numpy", "2.4.6")).name.endswith("aarch64.whl")
    assert wheels.local_wheel(tmp_path, wheels.Pin("markupsafe", "3.0.2")) is not None
    assert wheels.local_wheel(tmp_path, wheels.Pin("numpy", "2.4.7")) is None


def test_profile_roots_link_the_sysroot_and_refresh_when_the_profile_changes(tmp_path):
    layout = EmulatorLayout(tmp_path)
    (layout.sysroot / "usr/bin").mkdir(parents=True)
    layout.guest_python.write_text("")
    (layout.sysroot / "etc").mkdir()
    profile = load_profile("pixel2")
    root = ensure_profile_root(layout, profile)
    assert os.readlink(root / "usr") == "../../sysroot/usr" and (root / "usr/bin/python3.11").exists()
    assert (root / "proc/cpuinfo").read_text().count("processor") == 8
    assert root_is_current(layout, profile)
    from dataclasses import replace
    assert not root_is_current(layout, replace(profile, features=("fp", "asimd")))
    ensure_profile_root(layout, replace(profile, features=("fp", "asimd")))
    assert "Features\t: fp asimd\n" in (root / "proc/cpuinfo").read_text()


def test_status_of_an_empty_cache(tmp_path):
    layout, rows = status(tmp_path / "nothing")
    assert not ready(rows)
    by_item = {r.item: r for r in rows}
    assert not by_item["sysroot (guest python3.11)"].ok and not by_item["setup stamp"].ok
    assert by_item["wheel torch (opt-in)"].optional
    r = CliRunner().invoke(app, ["emulator", "status", "--cache", str(tmp_path / "nothing"), "--json"])
    assert r.exit_code == 1
    data = json.loads(r.output)
    assert data["ready"] is False and any(i["item"] == "arm64 .debs" for i in data["items"])


def test_stamp_round_trip(tmp_path):
    layout = EmulatorLayout(tmp_path)
    assert layout.read_stamp()["complete"] is False and not layout.is_provisioned()
    layout.write_stamp({"version": 1, "steps": {"sysroot": "k"}, "complete": True})
    assert layout.read_stamp()["steps"] == {"sysroot": "k"}
    assert not layout.is_provisioned()  # the stamp alone is not enough: the files must be there
    layout.stamp_path.write_text(json.dumps({"version": 99, "complete": True}))
    assert layout.read_stamp()["complete"] is False
