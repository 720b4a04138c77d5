"""toolchain.outputs: what may be written where, and one writer at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolchain.errors import UsageError
from toolchain.outputs import MARKER, OutputLockedError, claim, kind_of, lock, mark, writing


def _dataset(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"schema": "odtool.dataset", "version": 2}))
    return path


def test_new_and_empty_paths_are_claimed(tmp_path):
    assert claim(tmp_path / "new", "dataset") is False
    (tmp_path / "empty").mkdir()
    assert claim(tmp_path / "empty", "artifact") is False
    (tmp_path / "leftover").mkdir()
    (tmp_path / "leftover" / ".tmp-x-123").mkdir()  # odtool's own staging leftover
    assert claim(tmp_path / "leftover", "run") is False


def test_same_kind_needs_overwrite(tmp_path):
    ds = _dataset(tmp_path / "ds")
    with pytest.raises(UsageError, match="already holds a dataset") as e:
        claim(ds, "dataset")
    assert "--overwrite" in e.value.hint
    assert claim(ds, "dataset", overwrite=True) is True


@pytest.mark.parametrize("setup,message", [
    (lambda p: p.write_text("mine"), "is not a directory"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")), "did not write"),
    (lambda p: _dataset(p), "holds an odtool dataset, not an artifact"),
])
def test_foreign_or_other_kind_is_refused_even_with_overwrite(tmp_path, setup, message):
    target = tmp_path / "out"
    setup(target)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(UsageError, match=message):
        claim(target, "artifact", overwrite=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_inputs_and_their_parents_are_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "log.csv").write_text("1,2\n")
    with pytest.raises(UsageError, match="is an input"):
        claim(raw, "dataset", overwrite=True, inputs=[raw])
    with pytest.raises(UsageError, match="contains an input"):
        claim(tmp_path, "dataset", overwrite=True, inputs=[raw / "log.csv"])
    assert claim(raw / "prepared", "dataset", inputs=[raw]) is False  # inside an input is fine


def test_markers_name_unmanifested_kinds(tmp_path):
    d = tmp_path / "exp"
    d.mkdir()
    (d / "m.pte").write_bytes(b"x")
    (d / "m.pte.report.json").write_text("{}")
    assert kind_of(d) == "export"  # recognised without a marker (older odtool)
    (d / "notes.txt").write_text("mine")
    assert kind_of(d) is None
    mark(d, "export")
    assert kind_of(d) == "export" and (d / MARKER).is_file()
    assert kind_of(_dataset(tmp_path / "ds")) == "dataset"


HOLD = """
import sys, time
from toolchain.outputs import lock
with lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    target = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(OutputLockedError, match=f"pid {proc.pid}"):
            with writing(target, "run"):
                pass
    finally:
        proc.kill()
        proc.wait()
    # the kernel released the dead holder's lock: the next writer proceeds
    with writing(target, "run") as existing:
        assert existing is False


def test_lock_is_reentrant_and_cleans_up(tmp_path):
    target = tmp_path / "x"
    with lock(target) as lock_file:
        with lock(target):
            assert lock_file.is_file()
        assert lock_file.is_file()
    assert not lock_file.exists()
    t0 = time.perf_counter()
    with lock(target):
        pass
    assert time.perf_counter() - t0 < 5
