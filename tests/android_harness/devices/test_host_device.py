"""The host device runs the tiny model in every format and matches eager torch."""

from __future__ import annotations

import os
import platform

import pytest

from android_harness.devices import DEVICES, HostDevice
from android_harness.topk import compare_topk
from toolchain.errors import DeviceError, UsageError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def host(runner_cache):
    device = DEVICES.get("host")(runner_cache=runner_cache)
    device.prepare()
    return device


def test_pte_on_the_native_runner(host, tiny):
    r = host.run(tiny.pte, tiny.sessions, threads=1, warmup=2, repeat=3)
    assert (r.runtime, r.arch, r.n_sessions, r.repeat) == ("executorch", platform.machine(), 8, 3)
    assert r.threads_used == 1 and r.deterministic and r.latency.n == 24 and r.load_ms > 0
    assert [list(s.indices) for s in r.sessions] == tiny.reference
    assert r.device["device"] == "host" and not r.device["emulated"]


@pytest.mark.parametrize("fmt, runtime", [("onnx", "onnxruntime"), ("ptl", "torchscript-lite")])
def test_python_runners_match_the_native_one(host, tiny, fmt, runtime):
    native = host.run(tiny.pte, tiny.sessions, warmup=1, repeat=1)
    r = host.run(getattr(tiny, fmt), tiny.sessions, warmup=1, repeat=2)
    assert r.runtime == runtime and r.n_sessions == 8 and len(r.pass_total_us) == 2
    assert compare_topk(native, r).ok, compare_topk(native, r).summary()


def test_pinning(host, tiny):
    cpu = sorted(os.sched_getaffinity(0))[-1]
    r = host.run(tiny.pte, tiny.sessions, warmup=0, repeat=1, cores=(cpu,))
    assert r.device["cores"] == [cpu]
    with pytest.raises(UsageError, match="cannot pin to CPU"):
        host.run(tiny.pte, tiny.sessions, cores=(4096,))


def test_runner_errors_are_device_errors(host, tiny, tmp_path):
    broken = tmp_path / "broken.pte"
    broken.write_bytes(b"not a program" * 10)
    with pytest.raises(DeviceError, match="model load failure"):
        host.run(broken, tiny.sessions)
    with pytest.raises(UsageError, match="unknown artifact type '.bin'"):
        host.run(tiny.sessions, tiny.sessions)
    with pytest.raises(UsageError, match="does not exist"):
        host.run(tmp_path / "missing.pte", tiny.sessions)
    assert isinstance(host, HostDevice)


def test_program_with_odtool_kernels_loads_the_kernel_library(host, tiny, code_pte):
    path, reference = code_pte
    r = host.run(path, tiny.sessions, warmup=1, repeat=1)
    assert len(r.raw["kernel_libs"]) == 1 and r.raw["kernel_libs"][0].endswith("libodtool_kernels.so")
    assert [list(s.indices) for s in r.sessions] == reference
    plain = host.run(tiny.pte, tiny.sessions, warmup=0, repeat=1)
    assert plain.raw["kernel_libs"] == []
