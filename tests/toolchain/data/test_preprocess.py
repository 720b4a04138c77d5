"""Preprocessing rules of EODRec section 6.1.1 and the two splits, on hand-made sessions."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.data.preprocess import PrepareOptions, augment, prepare
from toolchain.data.raw import RawPairs, RawSessions
from toolchain.errors import ConfigError, EmptyDatasetError, UsageError


def sessions_of(split) -> list[tuple[list[int], int]]:
    return [(seq.tolist(), t) for seq, t in split]


def raw(sessions, times=None) -> RawSessions:
    return RawSessions([[str(i) for i in s] for s in sessions], times, {"format": "test"})


def test_augment_is_sequence_splitting():
    assert sessions_of(augment([[1, 2, 3, 4]])) == [([1], 2), ([1, 2], 3), ([1, 2, 3], 4)]
    assert sessions_of(augment([[5]])) == []
    # the prefixes share the session's items: nothing is copied per prefix
    split = augment([[1, 2, 3, 4], [7], [8, 9]])
    assert split.items.tolist() == [1, 2, 3, 4, 7, 8, 9]
    assert split.starts.tolist() == [0, 0, 0, 5] and split.ends.tolist() == [1, 2, 3, 6]
    assert split.targets.tolist() == [2, 3, 4, 9]


def test_filters_drop_short_sessions_and_rare_items():
    # item 9 is seen once, items 1-3 often; session [7] has length 1
    sessions = [[1, 2, 3]] * 5 + [[1, 9, 2]] + [[7]]
    ds = prepare(raw(sessions), PrepareOptions(min_item_count=5, valid_fraction=0.0))
    assert ds.n_items == 3
    assert set(ds.vocab[1:]) == {"1", "2", "3"}
    steps = {s["step"]: s for s in ds.manifest["filters"]}
    assert steps["drop sessions shorter than 2"]["sessions"] == 6
    assert steps["drop items seen fewer than 5 times"]["items"] == 3


def test_last_item_split_and_augmentation():
    sessions = [[1, 2, 3, 4]] * 6
    ds = prepare(raw(sessions), PrepareOptions(min_item_count=1, valid_fraction=0.0))
    v = {raw_id: k for k, raw_id in enumerate(ds.vocab)}
    a, b, c, d = (v[x] for x in "1234")
    # test: every session's last item is the target of its prefix
    assert sessions_of(ds.test) == [([a, b, c], d)] * 6
    # train: the remaining prefix [1,2,3], augmented
    assert sessions_of(ds.train) == [([a], b), ([a, b], c)] * 6
    assert len(ds.valid) == 0


def test_indices_are_dense_from_one_with_padding_zero():
    ds = prepare(raw([[10, 20, 30, 40]] * 3 + [[40, 50, 10]] * 2), PrepareOptions(min_item_count=1))
    assert ds.vocab[0] == "" and sorted(ds.vocab[1:].tolist()) == ["10", "20", "30", "40", "50"]
    for split in (ds.train, ds.valid, ds.test):
        if len(split):
            assert split.items.min() >= 1 and split.items.max() <= ds.n_items


def test_validation_is_ten_percent_of_training_sessions_and_seeded():
    sessions = [[i % 7 + 1, (i + 1) % 7 + 1, (i + 2) % 7 + 1, (i + 3) % 7 + 1] for i in range(200)]
    ds = prepare(raw(sessions), PrepareOptions(min_item_count=1, seed=3))
    # each training prefix has 3 items -> 2 pairs; 20 of 200 sessions go to validation
    assert len(ds.valid) == 2 * 20 and len(ds.train) == 2 * 180
    again = prepare(raw(sessions), PrepareOptions(min_item_count=1, seed=3))
    assert np.array_equal(again.valid.items, ds.valid.items)
    other = prepare(raw(sessions), PrepareOptions(min_item_count=1, seed=4))
    assert not np.array_equal(other.valid.items, ds.valid.items)


def test_time_split_holds_out_the_last_days_and_drops_unseen_items():
    day = 86400.0
    sessions = [[1, 2, 3]] * 4 + [[1, 2, 8, 3]]
    times = [0.0, day, 2 * day, 3 * day, 10 * day]
    ds = prepare(raw(sessions, times), PrepareOptions(min_item_count=1, split="time", test_days=2,
                                                     valid_fraction=0.0))
    v = {raw_id: k for k, raw_id in enumerate(ds.vocab)}
    # test session [1,2,8,3] loses 8 (never seen in training) and is augmented
    assert sessions_of(ds.test) == [([v["1"]], v["2"]), ([v["1"], v["2"]], v["3"])]
    assert len(ds.train) == 4 * 2
    assert "8" not in set(ds.vocab.tolist())


def test_time_split_needs_timestamps_and_non_empty_sides():
    with pytest.raises(UsageError, match="no timestamps"):
        prepare(raw([[1, 2, 3]] * 5), PrepareOptions(min_item_count=1, split="time"))
    with pytest.raises(EmptyDatasetError, match="training set empty"):
        prepare(raw([[1, 2, 3]] * 5, [0.0] * 5), PrepareOptions(min_item_count=1, split="time", test_days=1))


def test_empty_result_names_the_filter():
    with pytest.raises(EmptyDatasetError, match="drop items seen fewer than 50 times") as e:
        prepare(raw([[1, 2, 3]] * 5), PrepareOptions(min_item_count=50))
    assert "--min-item-count" in str(e.value)
    with pytest.raises(EmptyDatasetError, match="shorter than 2"):
        prepare(raw([[1]] * 5), PrepareOptions())


def test_pairs_are_taken_as_given_and_reindexed():
    pairs = RawPairs([[5, 9], [9]], [7, 5], [[7, 5]], [100], {"format": "srgnn"})
    ds = prepare(pairs, PrepareOptions(valid_fraction=0.0, min_item_count=50))  # no item filter on pairs
    assert list(ds.vocab) == ["", "5", "7", "9", "100"]
    assert sessions_of(ds.train) == [([1, 3], 2), ([3], 1)]
    assert sessions_of(ds.test) == [([2, 1], 4)]


def test_options_report_every_problem_at_once():
    with pytest.raises(ConfigError) as e:
        PrepareOptions(min_item_count=0, split="random", valid_fraction=1.5)
    assert len(e.value.problems) == 3
