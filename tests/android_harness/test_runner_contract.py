"""Every runner (native .pte, Python .onnx / .ptl) enforces the same inference contract as
the loaders and eager, and refuses a file that does not match its report's sha256."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from android_harness.devices import DEVICES
from android_harness.devices.host import SCRIPTS
from android_harness.devices.base import ArtifactFormat
from android_harness.inputs import Sessions, write_sessions
from export.pipeline import FORMATS
from toolchain.errors import ArtifactError, DeviceError
from toolchain.models.base import MODELS

pytestmark = pytest.mark.slow

N_ITEMS, MAX_LEN, TOP_K = 60, 8, 5  # tests/conftest.py CONTRACT_MODEL: the shared tiny_exports
FMT = {"executorch": ArtifactFormat.executorch, "onnx": ArtifactFormat.onnx, "torchscript": ArtifactFormat.torchscript}


@pytest.fixture(scope="module")
def host(runner_cache):
    device = DEVICES.get("host")(runner_cache=runner_cache)
    device.prepare()
    return device


@pytest.fixture(scope="module")
def exported(tiny_exports):
    return tiny_exports


def raw_sessions(path: Path, items: np.ndarray, lengths: list[int]) -> Path:
    """A session file written byte by byte, to get past the writer's own checks."""
    n, width = items.shape
    path.write_bytes(struct.pack("<8sIIII", b"ODTSESS\0", 1, n, width, 0) + items.astype("<i8").tobytes()
                     + np.asarray(lengths, dtype="<i8").tobytes())
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_edge_sessions_match_eager_on_every_runner(host, exported, fmt, tmp_path):
    long = [(i % N_ITEMS) + 1 for i in range(500)]  # kept to its most recent MAX_LEN items by the writer
    seqs = [long, [7], list(range(1, MAX_LEN + 1)), [3, N_ITEMS + 5, 9]]  # + an unknown id (> |V|)
    sessions = Sessions.from_sequences(seqs, MAX_LEN)
    path = write_sessions(tmp_path / "s.bin", sessions)
    r = host.run(exported["paths"][fmt], path, warmup=0, repeat=1, topk=TOP_K, trim=exported["dynamic"][fmt])
    for i, s in enumerate(r.sessions):
        items = torch.from_numpy(sessions.items[i : i + 1].copy())
        with torch.no_grad():
            eager = exported["graph"](items, torch.tensor([int(sessions.lengths[i])]))[1].tolist()
        assert list(s.indices) == eager, (fmt, i)


BAD_FILES = {
    "length 0": (np.array([[5, 6, 0, 0, 0, 0, 0, 0]]), [0], "has length 0 outside \\[1, max_len=8\\]"),
    "negative length": (np.array([[5, 6, 0, 0, 0, 0, 0, 0]]), [-2], "has length -2 outside"),
    "length > L": (np.array([[5, 6, 0, 0]]), [5], "has length 5 outside \\[1, max_len=4\\]"),
    "L > max_len (500 items)": (np.arange(1, 501).reshape(1, -1) % N_ITEMS + 1, [500],
                                "exceeds the model's sequence length 8.*most recent 8 items"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("edge", list(BAD_FILES))
def test_invalid_sessions_are_refused_by_every_runner(host, exported, fmt, edge, tmp_path):
    items, lengths, message = BAD_FILES[edge]
    path = raw_sessions(tmp_path / "bad.bin", items, lengths)
    with pytest.raises(DeviceError, match="bad or missing session file") as e:
        host.run(exported["paths"][fmt], path, warmup=0, repeat=1, trim=exported["dynamic"][fmt])
    assert e.match(message)


def flipped(exported, fmt: str, where: Path) -> Path:
    src = exported["paths"][fmt]
    bad = where / src.name
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    (where / (src.name + ".report.json")).write_bytes((src.parent / (src.name + ".report.json")).read_bytes())
    return bad


def runner_command(host, fmt: str) -> list[str]:
    kind = FMT[fmt]
    return [str(host.runner())] if kind is ArtifactFormat.executorch else [sys.executable, "-B", str(SCRIPTS[kind])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_one_bit_flip_is_refused_by_the_device_and_by_the_runner_itself(host, exported, fmt, tmp_path):
    bad = flipped(exported, fmt, tmp_path)
    sessions = write_sessions(tmp_path / "s.bin", Sessions.from_sequences([[1, 2, 3]], MAX_LEN))
    with pytest.raises(ArtifactError, match=f"{bad.name} fails its sha256 check.*re-export it"):
        host.run(bad, sessions, warmup=0, repeat=1)
    # the runner on its own: from the report beside the file, and from --sha256
    cmd = runner_command(host, fmt) + ["--model", str(bad), "--input", str(sessions), "--repeat", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 4 and "fails its sha256 check" in r.stderr and "re-export" in r.stderr, r.stderr
    good = exported["paths"][fmt]
    sha = (good.parent / (good.name + ".report.json")).read_text().split('"sha256": "')[1][:64]
    alone = tmp_path / "alone" / good.name
    alone.parent.mkdir()
    alone.write_bytes(bad.read_bytes())
    r = subprocess.run(runner_command(host, fmt) + ["--model", str(alone), "--input", str(sessions),
                                                     "--sha256", sha], capture_output=True, text=True)
    assert r.returncode == 4 and "fails its sha256 check" in r.stderr, r.stderr
    # the intact file, without a report: runs, with a warning that it is unverified
    alone.write_bytes(good.read_bytes())
    r = subprocess.run(runner_command(host, fmt) + ["--model", str(alone), "--input", str(sessions),
                                                     "--repeat", "1", "--warmup", "0"], capture_output=True, text=True)
    assert r.returncode == 0 and "not verified" in r.stderr, r.stderr
    r = subprocess.run(runner_command(host, fmt) + ["--model", str(alone), "--input", str(sessions), "--sha256",
                                                     sha, "--repeat", "1", "--warmup", "0"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "not verified" not in r.stderr, r.stderr


def test_the_bench_refuses_a_corrupted_export(host, monkeypatch, tmp_path):
    """The bench runs every export through Device.run: a file changed after export fails its cell."""
    import export.pipeline
    from android_harness.bench.plan import BenchPlan, Row
    from android_harness.bench import run as bench_run
    from android_harness.bench.run import run_plan

    real = export.pipeline.export_model

    def export_then_corrupt(*args, **kwargs):
        results = real(*args, **kwargs)
        for r in results:
            data = bytearray(Path(r.path).read_bytes())
            data[len(data) // 3] ^= 0x04
            Path(r.path).write_bytes(bytes(data))
        return results

    def tiny_model(row, kind):
        torch.manual_seed(0)
        cls = MODELS.get("sasrec")
        return cls(N_ITEMS, cls.config_class.tiny()).eval(), {"kind": kind, "encoder_storage": "fp32"}

    monkeypatch.setattr(export.pipeline, "export_model", export_then_corrupt)
    monkeypatch.setattr(bench_run, "_model_for", tiny_model)
    plan = BenchPlan(rows=[Row("tiny", preset="tmall")], models=["teacher"], formats=["onnx", "torchscript"],
                     sessions=2, warmup=0, repeat=1, out=tmp_path, max_len=MAX_LEN, top_k=TOP_K)
    cells = run_plan(plan)
    assert cells and all(not c.ok and "fails its sha256 check" in c.error for c in cells), cells
