"""Atomic writes leave the old file intact when the writer fails."""

from __future__ import annotations

import pytest

from toolchain.atomic import atomic_dir, atomic_path, atomic_write_json, atomic_write_text
from toolchain.registry import Registry, UnknownNameError


def test_failed_write_keeps_old_content_and_no_temp(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_atomic_dir_replaces_whole_directory(tmp_path):
    d = tmp_path / "d"
    with atomic_dir(d) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(d) as tmp:
            (tmp / "b").write_text("2")
            raise KeyboardInterrupt
    assert sorted(p.name for p in d.iterdir()) == ["a"]
    with atomic_dir(d) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in d.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_json_is_deterministic(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    atomic_write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_registry_lists_valid_names():
    reg: Registry[int] = Registry("widget")
    reg.register("b")(1)
    reg.register("a")(2)
    assert reg.get("a") == 2 and reg.names() == ["a", "b"]
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; valid: a, b"):
        reg.get("c")
