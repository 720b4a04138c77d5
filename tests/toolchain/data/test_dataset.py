"""The canonical dataset on disk: round trip, determinism, checksums, versions, atomicity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolchain.data.dataset import SessionDataset
from toolchain.data.pipeline import load_dataset, prepare_dataset, synth_dataset
from toolchain.data.preprocess import PrepareOptions, prepare
from toolchain.data.synth import SynthConfig, default_dataset_dir, synthesize
from toolchain.errors import DataFormatError

TINY = SynthConfig(n_items=60, n_sessions=300, seed=1)


@pytest.fixture(scope="module")
def ds():
    return prepare(synthesize(TINY), PrepareOptions())


def test_round_trip(tmp_path, ds):
    ds.save(tmp_path / "d")
    back = SessionDataset.load(tmp_path / "d")
    for name in ("train", "valid", "test"):
        a, b = ds.split(name), back.split(name)
        assert np.array_equal(a.starts, b.starts) and np.array_equal(a.ends, b.ends)
        assert np.array_equal(a.items, b.items)
        assert np.array_equal(a.targets, b.targets)
    assert back.vocab.tolist() == ds.vocab.tolist()
    assert np.array_equal(back.item_counts, ds.item_counts)
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["schema"] == "odtool.dataset" and manifest["version"] == 2
    assert manifest["counts"]["items"] == ds.n_items


def test_same_input_same_bytes(tmp_path, ds):
    ds.save(tmp_path / "a")
    prepare(synthesize(TINY), PrepareOptions()).save(tmp_path / "b")
    for f in ("arrays.npz", "manifest.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_altered_file_is_detected(tmp_path, ds):
    ds.save(tmp_path / "d")
    npz = tmp_path / "d" / "arrays.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        SessionDataset.load(tmp_path / "d")


def test_newer_version_and_missing_manifest(tmp_path, ds):
    with pytest.raises(DataFormatError, match="odtool data prepare"):
        SessionDataset.load(tmp_path)
    ds.save(tmp_path / "d")
    m = tmp_path / "d" / "manifest.json"
    m.write_text(m.read_text().replace('"version": 2', '"version": 99'))
    with pytest.raises(DataFormatError, match="version 99 is not supported"):
        SessionDataset.load(tmp_path / "d")


def test_failed_prepare_leaves_previous_dataset_intact(tmp_path, ds):
    out = tmp_path / "d"
    ds.save(out)
    before = (out / "arrays.npz").read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2\n")  # one session: empty after the item filter
    with pytest.raises(Exception):
        prepare_dataset(bad, out, fmt="text")
    assert (out / "arrays.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_default_dataset_is_built_once(tmp_path):
    ds = load_dataset(None)
    assert (default_dataset_dir() / "manifest.json").is_file()
    assert ds.n_items > 100
    assert load_dataset(None).n_items == ds.n_items


def test_synth_cli_path(tmp_path):
    out = synth_dataset(TINY, tmp_path / "s")
    assert SessionDataset.load(tmp_path / "s").n_items == out.n_items
