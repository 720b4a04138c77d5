"""Canned runner JSON, shaped like runner.cpp's output, for parser and protocol tests."""

from __future__ import annotations

import copy
from typing import Any


def runner_json(n_sessions: int = 2, k: int = 3, runtime: str = "executorch") -> dict[str, Any]:
    sessions = [{"length": 1 + i, "indices": [10 * i + j for j in range(k)],
                 "scores": [1.0 - 0.1 * j for j in range(k)]} for i in range(n_sessions)]
    return copy.deepcopy({
        "runner_version": "1", "runtime": runtime, "runtime_version": "1.5.1+cpu",
        "executorch_version": "1.5.1+cpu", "arch": "aarch64", "model": "/tmp/m.pte", "input": "/tmp/s.bin",
        "method": "forward", "load_mode": "mmap", "model_size_bytes": 1234, "n_sessions": n_sessions,
        "max_len": 6, "model_seq_len": 6, "warmup": 2, "repeat": 2,
        "threads": {"requested": 1, "used": 1},
        "cpu": {"cpuinfo_ok": True, "processors": 8, "cores": 8, "clusters": 2, "uarchs": 2, "performant_cores": 4},
        "load_ms": 3.5, "first_inference_us": 120.0,
        "latency_us": {"n": 2 * n_sessions, "mean": 50.0, "p50": 48.0, "p90": 60.0, "p99": 70.0,
                       "min": 40.0, "max": 71.0},
        "pass_total_us": [100.0, 300.0], "peak_rss_kb": 20480,
        "memory": {"vm_hwm_kb": 20480, "vm_peak_kb": 40960, "ru_maxrss_kb": 20480},
        "topk_in_runner": False, "deterministic": True, "sessions": sessions,
    })
