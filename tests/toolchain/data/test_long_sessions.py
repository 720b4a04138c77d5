"""Issue 11 section 2: a dataset costs O(clicks), not O(session length^2).

Augmented prefixes share their session's items (dataset format version 2: starts / ends into
the item stream); version-1 datasets (offsets) still load; batches are the ones a list of
explicit prefixes gives.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolchain.checksum import sha256_file
from toolchain.data.batching import iterate_batches, pad_batch
from toolchain.data.dataset import SessionDataset, Split
from toolchain.data.pipeline import prepare_dataset
from toolchain.data.preprocess import PrepareOptions, prepare
from toolchain.data.raw import RawSessions
from toolchain.data.synth import SynthConfig, synthesize
from toolchain.errors import DataFormatError
from toolchain.npz import load_npz, save_npz

LONG = 20_000


def examples(split: Split) -> list[tuple[list[int], int]]:
    return [(seq.tolist(), t) for seq, t in split]


def long_session(n: int = LONG, distinct: int = 50) -> list[str]:
    rng = np.random.default_rng(0)
    return [str(1000 + i) for i in rng.integers(0, distinct, size=n)]


@pytest.mark.parametrize("fmt", ["text", "diginetica"])
def test_one_long_session_gives_a_dataset_proportional_to_its_clicks(tmp_path, fmt):
    clicks = long_session()
    if fmt == "text":
        raw = tmp_path / "long.txt"
        raw.write_text(",".join(clicks) + "\n")
    else:
        raw = tmp_path / "long.csv"
        rows = [f"7;NA;{item};{k};2016-05-09" for k, item in enumerate(clicks)]
        raw.write_text("session_id;user_id;item_id;timeframe;eventdate\n" + "\n".join(rows) + "\n")
    ds = prepare_dataset(raw, tmp_path / "d", fmt=fmt)
    size = (tmp_path / "d" / "arrays.npz").stat().st_size
    # every prefix stored in full would be ~LONG^2 / 2 * 4 bytes = 800 MB
    assert size < 50 * LONG, f"{size} bytes for {LONG} clicks"
    back = SessionDataset.load(tmp_path / "d")
    v = {raw_id: k for k, raw_id in enumerate(back.vocab)}
    session = [v[c] for c in clicks]
    # last-item split: the test example is the whole session but its last click
    assert examples(back.test) == [(session[:-1], session[-1])]
    # training: every prefix of session[:-1] with its next item, in order
    assert len(back.train) == LONG - 2 == len(ds.train)
    for k in (0, 1, 777, LONG - 3):
        assert back.train.sequence(k).tolist() == session[:k + 1]
        assert back.train.targets[k] == session[k + 1]
    assert back.train.lengths.max() == LONG - 2
    # what a model sees is capped at its max_len most recent items
    items, lengths = pad_batch(back.train, np.array([LONG - 3]), max_len=50)
    assert lengths.tolist() == [50] and items[0].tolist() == session[LONG - 52:LONG - 2]


def test_time_split_test_sessions_are_not_copied_per_prefix():
    day = 86400.0
    clicks = long_session(5000, distinct=20)
    sessions = [clicks[:100]] * 3 + [clicks]
    ds = prepare(RawSessions(sessions, [0.0, 1.0, 2.0, 10 * day], {"format": "test"}),
                 PrepareOptions(min_item_count=1, split="time", test_days=2, valid_fraction=0.0))
    known = set(clicks[:100])
    v = {raw_id: k for k, raw_id in enumerate(ds.vocab)}
    test_session = [v[c] for c in clicks if c in known]
    ref = [(test_session[:i], test_session[i]) for i in range(1, len(test_session))]
    assert examples(ds.test) == ref
    assert ds.test.items.nbytes == 4 * len(test_session)
    nbytes = sum(a.nbytes for k, a in ds.arrays().items() if k != "vocab")
    assert nbytes < 50 * sum(map(len, sessions))


def _reference_batches(prefixes: list[list[int]], targets: list[int], order: np.ndarray, batch_size: int,
                       max_len: int) -> list[tuple[list, list, list]]:
    """The batch layout of toolchain.data.batching, written out over explicit prefix lists."""
    out = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        rows, lens = [], []
        for i in idx:
            seen = prefixes[i][-max_len:]
            rows.append(seen + [0] * (max_len - len(seen)))
            lens.append(len(seen))
        out.append((rows, lens, [targets[i] for i in idx]))
    return out


@pytest.mark.parametrize("max_len", [50, 4])
def test_batches_equal_those_of_explicit_prefix_lists(max_len):
    rng = np.random.default_rng(3)
    sessions = [[str(x) for x in rng.integers(1, 25, size=rng.integers(1, 30))] for _ in range(120)]
    ds = prepare(RawSessions(sessions, None, {"format": "test"}), PrepareOptions(min_item_count=1, seed=2))
    v = {raw_id: k for k, raw_id in enumerate(ds.vocab)}
    # rebuild the training prefixes by hand: sessions of 2+ clicks, last click held out for test,
    # the seeded validation sessions removed, then every prefix of what is left
    kept = [[v[c] for c in s][:-1] for s in sessions if len(s) >= 2]
    kept = [s for s in kept if len(s) >= 2]
    valid = set(np.random.default_rng(2).permutation(len(kept))[:round(len(kept) * 0.1)].tolist())
    prefixes, targets = [], []
    for j, s in enumerate(kept):
        if j not in valid:
            for i in range(1, len(s)):
                prefixes.append(s[:i])
                targets.append(s[i])
    assert examples(ds.train) == list(zip(prefixes, targets))

    for shuffle in (False, True):
        order = np.random.default_rng(9).permutation(len(targets)) if shuffle else np.arange(len(targets))
        got = [(i.tolist(), n.tolist(), t.tolist()) for i, n, t in
               iterate_batches(ds.train, 32, max_len, shuffle=shuffle, rng=np.random.default_rng(9))]
        assert got == _reference_batches(prefixes, targets, order, 32, max_len)
    # the same examples stored one by one (the version-1 layout) batch identically
    flat = Split.from_lists(prefixes, targets)
    assert flat.items.size == sum(map(len, prefixes)) > ds.train.items.size
    for (a, la, ta), (b, lb, tb) in zip(iterate_batches(flat, 32, max_len), iterate_batches(ds.train, 32, max_len)):
        assert a.equal(b) and la.equal(lb) and ta.equal(tb)


def _write_version1(ds: SessionDataset, directory) -> None:
    """The version-1 layout, written by hand: each sequence's items back to back, with offsets."""
    directory.mkdir()
    arrays = {}
    for name in ("train", "valid", "test"):
        seqs = [seq.tolist() for seq, _ in ds.split(name)]
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in seqs], out=offsets[1:])
        arrays[f"{name}_offsets"] = offsets
        arrays[f"{name}_items"] = np.array([i for s in seqs for i in s], dtype=np.int32)
        arrays[f"{name}_targets"] = ds.split(name).targets.astype(np.int32)
    arrays["item_counts"] = ds.item_counts.astype(np.int64)
    arrays["vocab"] = ds.vocab.astype(np.str_)
    save_npz(directory / "arrays.npz", arrays)
    manifest = {"schema": "odtool.dataset", "version": 1, "created_by": "odtool 0.1",
                "counts": ds.counts(), "arrays_sha256": sha256_file(directory / "arrays.npz")}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_version1_dataset_loads_with_the_same_examples_and_batches(tmp_path):
    ds = prepare(synthesize(SynthConfig(n_items=60, n_sessions=300, seed=1)), PrepareOptions())
    _write_version1(ds, tmp_path / "v1")
    old = SessionDataset.load(tmp_path / "v1")
    assert old.manifest["version"] == 1
    for name in ("train", "valid", "test"):
        a, b = ds.split(name), old.split(name)
        assert examples(a) == examples(b)
        for (x, lx, tx), (y, ly, ty) in zip(iterate_batches(a, 16, 3), iterate_batches(b, 16, 3)):
            assert x.equal(y) and lx.equal(ly) and tx.equal(ty)
    # saved again, it becomes version 2 and stays the same data
    old.save(tmp_path / "v2")
    assert json.loads((tmp_path / "v2" / "manifest.json").read_text())["version"] == 2
    assert examples(SessionDataset.load(tmp_path / "v2").train) == examples(ds.train)


def test_version1_offsets_that_do_not_delimit_items_are_rejected(tmp_path):
    ds = prepare(synthesize(SynthConfig(n_items=60, n_sessions=300, seed=1)), PrepareOptions())
    _write_version1(ds, tmp_path / "v1")
    _rewrite_arrays(tmp_path / "v1", "test_offsets", lambda a: a[:-1])
    with pytest.raises(DataFormatError, match="test_offsets"):
        SessionDataset.load(tmp_path / "v1")


@pytest.fixture()
def small():
    return prepare(RawSessions([["1", "2", "3", "4"], ["3", "2", "1"]] * 3, None, {"format": "test"}),
                   PrepareOptions(min_item_count=1, valid_fraction=0.0))


@pytest.mark.parametrize("field,change,message", [
    ("train_starts", lambda s: s.starts.__setitem__(0, -1), "start is outside"),
    ("train_starts", lambda s: s.starts.__setitem__(0, len(s.items)), "start is outside"),
    ("train_ends", lambda s: s.ends.__setitem__(1, len(s.items) + 1), "past the"),
    ("train_ends", lambda s: s.ends.__setitem__(1, s.starts[1]), "empty sequence"),
    ("train_items", lambda s: s.items.__setitem__(0, 99), "outside 1..4"),
])
def test_validate_names_the_field_that_is_out_of_range(small, field, change, message):
    small.validate()
    change(small.train)
    with pytest.raises(DataFormatError, match=message) as e:
        small.validate()
    assert e.value.field == field


def test_validate_rejects_starts_and_ends_of_the_wrong_length(small):
    small.test.ends = small.test.ends[:-1]
    with pytest.raises(DataFormatError) as e:
        small.validate()
    assert e.value.field == "test_ends"


def test_out_of_range_end_on_disk_is_rejected_on_load(tmp_path, small):
    small.save(tmp_path / "d")
    _rewrite_arrays(tmp_path / "d", "train_ends", lambda a: a + 1000)
    with pytest.raises(DataFormatError, match="train_ends"):
        SessionDataset.load(tmp_path / "d")


def _rewrite_arrays(directory, name, change) -> None:
    """Replace one array of a saved dataset and re-record the checksum, as a bad writer would."""
    path = directory / "arrays.npz"
    arrays = load_npz(path)
    arrays[name] = change(arrays[name])
    save_npz(path, arrays)
    m = json.loads((directory / "manifest.json").read_text())
    m["arrays_sha256"] = sha256_file(path)
    (directory / "manifest.json").write_text(json.dumps(m))
