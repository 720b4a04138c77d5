"""The Python runner's harness: top-k from a full score vector, exit codes like odt_runner."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from android_harness import onnx_runner
from android_harness.inputs import write_sessions

SCRIPT = onnx_runner.__file__


def test_topk_of_a_full_score_vector_breaks_ties_by_lower_index():
    scores = np.array([[0.5, 0.9, 0.1, 0.9, 0.7]], dtype=np.float32)
    idx, sc, in_runner = onnx_runner.extract_topk([scores], 3)
    assert idx == [1, 3, 4] and in_runner and sc[0] == np.float32(0.9)


def test_scores_and_indices_in_either_order():
    v = np.array([[0.9, 0.5]], dtype=np.float32)
    i = np.array([[4, 2]], dtype=np.int64)
    assert onnx_runner.extract_topk([i, v], 10)[:2] == ([4, 2], [float(np.float32(0.9)), 0.5])


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-B", SCRIPT, *args], capture_output=True, text=True, timeout=120)


def test_exit_codes(tmp_path, tiny):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"NOTSESS\0" + bytes(40))
    r = run("--model", str(tiny.onnx), "--input", str(bad))
    assert r.returncode == 3 and "bad magic" in r.stderr
    r = run("--model", str(tmp_path / "missing.onnx"), "--input", str(tiny.sessions))
    assert r.returncode == 4
    long = write_sessions(tmp_path / "long.bin", np.ones((1, 9), dtype=np.int64), np.array([9]))
    r = run("--model", str(tiny.onnx), "--input", str(long))
    assert r.returncode == 3 and "exceeds the model's sequence length 6" in r.stderr
    r = run("--model", str(tiny.onnx), "--input", str(tiny.sessions), "--repeat", "0")
    assert r.returncode == 2
    r = run("--model", str(tiny.onnx), "--input", str(tiny.sessions), "--output", str(tmp_path / "no/such/dir.json"))
    assert r.returncode == 6
