"""The adb device's command protocol, against a stub ``adb`` first on PATH.

The stub stands in only for the device: it records every call and answers with canned
output (device list, runner result, failures, a hang), so these tests check what odtool
sends and how it handles the answers.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

from android_harness.devices import DEVICES
from android_harness.devices.adb import REMOTE_DIR, AdbDevice, parse_devices
from runner_samples import runner_json
from toolchain.errors import DeviceError

STUB = r'''#!{python}
import json, os, shutil, sys, time
cfg = json.load(open(os.environ["ODT_ADB_STUB"]))
args = sys.argv[1:]
with open(cfg["log"], "a") as f:
    f.write(json.dumps(args) + "\n")
if args[:1] == ["-s"]:
    args = args[2:]
cmd = args[0]
if cmd in cfg.get("sleep", {{}}):
    time.sleep(cfg["sleep"][cmd])
if cmd == "devices":
    sys.stdout.write("List of devices attached\n" + cfg["devices"] + "\n")
elif cmd == "shell" and "odt_runner" in args[-1] and "fail" in cfg:
    sys.stderr.write("I 00:00:00.001 executorch info line\nodt_runner: error: " + cfg["fail"] + "\n")
    sys.exit(4)
elif cmd == "pull":
    shutil.copy(cfg["result"], args[-1])
'''


@pytest.fixture
def stub(tmp_path, monkeypatch):
    """Install the stub; returns (configure(**cfg), calls())."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text(STUB.format(python=sys.executable))
    adb.chmod(0o755)
    result = tmp_path / "canned.json"
    result.write_text(json.dumps(runner_json(n_sessions=2)))
    cfg_path, log = tmp_path / "stub.json", tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("ODT_ADB_STUB", str(cfg_path))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)

    def configure(devices: str = "emulator-5554\tdevice", **extra) -> None:
        cfg_path.write_text(json.dumps({"log": str(log), "result": str(result), "devices": devices, **extra}))

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    configure()
    return configure, calls


@pytest.fixture
def android_runner(tmp_path):
    d = tmp_path / "android"
    (d / "lib").mkdir(parents=True)
    (d / "odt_runner").write_bytes(b"\x7fELF stub")
    (d / "lib" / "libexecutorch.so").write_bytes(b"so")
    return d / "odt_runner"


@pytest.fixture
def artifact(tmp_path):
    (tmp_path / "m.pte").write_bytes(b"pte")
    (tmp_path / "s.bin").write_bytes(b"sessions")
    return tmp_path / "m.pte", tmp_path / "s.bin"


def test_parse_devices_output():
    text = ("* daemon not running; starting now at tcp:5037\n* daemon started successfully\n"
            "List of devices attached\nemulator-5554\tdevice\nHT7A1\tunauthorized\n"
            "R58M\tno permissions (user in plugdev group); see [http://developer.android.com/tools/device.html]\n")
    assert [(d.serial, d.state) for d in parse_devices(text)] == [
        ("emulator-5554", "device"), ("HT7A1", "unauthorized"), ("R58M", "no permissions")]


def test_push_run_pull_order(stub, android_runner, artifact):
    _, calls = stub
    device = DEVICES.get("adb")(runner=android_runner)
    result = device.run(*artifact, threads=2, warmup=3, repeat=4, topk=5)
    assert result.n_sessions == 2 and result.device["device"] == "adb" and result.device["serial"] == "emulator-5554"
    log = calls()
    assert log[0] == ["devices"]
    rest = [c[2:] for c in log[1:]]
    assert all(c[:2] == ["-s", "emulator-5554"] for c in log[1:])
    assert rest[0] == ["shell", f"mkdir -p {REMOTE_DIR}/lib"]
    assert rest[1] == ["push", str(android_runner), f"{REMOTE_DIR}/odt_runner"]
    assert rest[2] == ["push", str(android_runner.parent / "lib" / "libexecutorch.so"), f"{REMOTE_DIR}/lib/"]
    assert rest[3] == ["shell", f"chmod 755 {REMOTE_DIR}/odt_runner"]
    assert rest[4] == ["push", str(artifact[0]), f"{REMOTE_DIR}/m.pte"]
    assert rest[5] == ["push", str(artifact[1]), f"{REMOTE_DIR}/s.bin"]
    assert rest[6][0] == "shell"
    run = rest[6][1]
    assert f"LD_LIBRARY_PATH={REMOTE_DIR}/lib ./odt_runner" in run
    for flag in (f"--model {REMOTE_DIR}/m.pte", f"--input {REMOTE_DIR}/s.bin", "--threads 2", "--warmup 3",
                 "--repeat 4", "--topk 5", f"--output {REMOTE_DIR}/result.json"):
        assert flag in run
    assert rest[7][0] == "pull" and rest[7][1] == f"{REMOTE_DIR}/result.json"
    assert len(rest) == 8


def test_serial_selection(stub, android_runner, artifact):
    configure, calls = stub
    configure(devices="AAA\tdevice\nBBB\tdevice")
    with pytest.raises(DeviceError, match="2 adb devices attached") as e:
        AdbDevice(runner=android_runner).prepare()
    assert "--serial" in str(e.value)
    AdbDevice(runner=android_runner, serial="BBB").run(*artifact, cores=(4, 5))
    log = calls()
    assert all(c[:2] == ["-s", "BBB"] for c in log if c != ["devices"])
    assert "taskset 30 ./odt_runner" in [c for c in log if c[2:3] == ["shell"]][-1][3]
    with pytest.raises(DeviceError, match="no adb device with serial CCC .attached: AAA, BBB"):
        AdbDevice(runner=android_runner, serial="CCC").prepare()


def test_no_device_is_a_clear_error(stub, android_runner):
    configure, calls = stub
    configure(devices="")
    t0 = time.perf_counter()
    with pytest.raises(DeviceError, match="no Android device attached") as e:
        AdbDevice(runner=android_runner).prepare()
    assert "USB debugging" in str(e.value) and time.perf_counter() - t0 < 10
    configure(devices="HT7A1\tunauthorized")
    with pytest.raises(DeviceError, match="HT7A1: unauthorized"):
        AdbDevice(runner=android_runner).prepare()
    with pytest.raises(DeviceError, match="accept the USB debugging prompt"):
        AdbDevice(runner=android_runner, serial="HT7A1").prepare()


def test_every_call_has_a_time_limit(stub, android_runner, artifact):
    configure, _ = stub
    configure(sleep={"devices": 30})
    t0 = time.perf_counter()
    with pytest.raises(DeviceError, match="did not answer within 1 s") as e:
        AdbDevice(runner=android_runner, timeout_s=1).prepare()
    assert time.perf_counter() - t0 < 10 and "adb kill-server" in str(e.value)
    configure(sleep={"shell": 30})
    with pytest.raises(DeviceError, match="did not answer"):
        AdbDevice(runner=android_runner, timeout_s=1).run(*artifact, timeout_s=1)


def test_runner_failure_shows_its_message(stub, android_runner, artifact):
    configure, _ = stub
    configure(fail="failed to load program")
    with pytest.raises(DeviceError) as e:
        AdbDevice(runner=android_runner).run(*artifact)
    msg = str(e.value)
    assert "exit 4: model load failure" in msg and "failed to load program" in msg
    assert "executorch info line" not in msg


def test_missing_adb_runner_and_formats(stub, tmp_path, android_runner, artifact):
    with pytest.raises(DeviceError, match="not installed or not on PATH"):
        AdbDevice(runner=android_runner, adb="adb-that-does-not-exist").prepare()
    with pytest.raises(DeviceError, match="no Android runner at") as e:
        AdbDevice(runner=tmp_path / "nope" / "odt_runner").prepare()
    assert "ODTOOL_ANDROID_RUNNER" in str(e.value)
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    with pytest.raises(DeviceError, match="cannot run onnx artifacts"):
        AdbDevice(runner=android_runner).run(tmp_path / "m.onnx", artifact[1])
    with pytest.raises(DeviceError, match="valid ids are 0-63"):
        AdbDevice(runner=android_runner).run(*artifact, cores=(64,))


def test_programs_with_odtool_kernels_push_the_kernel_library(stub, android_runner, artifact, tmp_path):
    _, calls = stub
    artifact[0].write_bytes(b"...odtool::code_topk...")
    with pytest.raises(DeviceError, match="needs odtool's kernel library") as e:
        AdbDevice(runner=android_runner).run(*artifact)
    assert "ODTOOL_ANDROID_KERNEL_LIB" in str(e.value)
    lib = tmp_path / "libodtool_kernels.so"
    lib.write_bytes(b"so")
    AdbDevice(runner=android_runner, kernel_lib=lib).run(*artifact)
    log = calls()
    assert ["-s", "emulator-5554", "push", str(lib), f"{REMOTE_DIR}/libodtool_kernels.so"] in log
    assert f"--kernel-lib {REMOTE_DIR}/libodtool_kernels.so" in [c for c in log if "shell" in c][-1][-1]
