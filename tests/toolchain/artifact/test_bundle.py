"""Artifact bundles: deterministic bytes, every checksum verified, schema versions refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolchain.artifact.bundle import Bundle, BundleWriter
from toolchain.errors import ArtifactError


def make(out):
    w = BundleWriter()
    w.add_tensors("encoder", "encoder.safetensors", {"b": np.ones(3, np.float32), "a": np.arange(4.0)})
    w.add_bytes("codes", "codes.bin", bytes(range(10)), dtype="uint8", shape=[5, 2])
    w.add_json("vocab", "vocab.json", ["", "x", "y"])
    return w.write(out, {"model": {"name": "toy"}})


def test_round_trip_and_determinism(tmp_path):
    make(tmp_path / "a")
    make(tmp_path / "b")
    for f in ("encoder.safetensors", "codes.bin", "vocab.json", "manifest.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    b = Bundle.load(tmp_path / "a")
    assert b.json("vocab") == ["", "x", "y"]
    assert np.array_equal(b.tensors("encoder")["a"], np.arange(4.0))
    assert b.parts["codes"]["shape"] == [5, 2]
    assert b.manifest["total_bytes"] == sum(p["bytes"] for p in b.parts.values())


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_part_is_named(tmp_path, damage):
    make(tmp_path / "a")
    f = tmp_path / "a" / "codes.bin"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:-1])
    elif damage == "flip":
        f.write_bytes(b"\xff" + f.read_bytes()[1:])
    else:
        f.unlink()
    with pytest.raises(ArtifactError, match="part 'codes'"):
        Bundle.load(tmp_path / "a")


def test_newer_schema_and_missing_manifest(tmp_path):
    with pytest.raises(ArtifactError, match="odtool freeze"):
        Bundle.load(tmp_path)
    make(tmp_path / "a")
    m = tmp_path / "a" / "manifest.json"
    data = json.loads(m.read_text())
    data["version"] = 7
    m.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="version 7 is newer"):
        Bundle.load(tmp_path / "a")


def test_an_edited_manifest_fails_its_seal(tmp_path):
    make(tmp_path / "a")
    m = tmp_path / "a" / "manifest.json"
    data = json.loads(m.read_text())
    Bundle.load(tmp_path / "a")
    m.write_text(json.dumps(dict(reversed(list(data.items())))))  # order and layout do not count
    Bundle.load(tmp_path / "a")
    data["total_bytes"] += 1
    m.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="fails its sha256 seal"):
        Bundle.load(tmp_path / "a")


def test_unknown_part_lists_existing(tmp_path):
    b = Bundle.load(make(tmp_path / "a"))
    with pytest.raises(ArtifactError, match="parts: codes, encoder, vocab"):
        b.bytes_of("codebooks")
