"""Padding: left-aligned sessions, zero padding, the most recent items kept."""

from __future__ import annotations

import numpy as np

from toolchain.data.batching import iterate_batches, pad_batch
from toolchain.data.dataset import Split


def test_pad_batch_layout_and_truncation():
    split = Split.from_lists([[1, 2], [3, 4, 5, 6, 7], [8]], [9, 9, 9])
    items, lengths = pad_batch(split, np.array([0, 1, 2]), max_len=3)
    assert items.tolist() == [[1, 2, 0], [5, 6, 7], [8, 0, 0]]
    assert lengths.tolist() == [2, 3, 1]


def test_iterate_batches_covers_everything_once_and_shuffles_by_seed():
    split = Split.from_lists([[i] for i in range(1, 24)], list(range(2, 25)))
    seen = [t for _, _, targets in iterate_batches(split, 5) for t in targets.tolist()]
    assert seen == list(range(2, 25))
    a = [t.tolist() for *_, t in iterate_batches(split, 5, shuffle=True, rng=np.random.default_rng(1))]
    b = [t.tolist() for *_, t in iterate_batches(split, 5, shuffle=True, rng=np.random.default_rng(1))]
    assert a == b and sorted(sum(a, [])) == seen and sum(a, []) != seen
    assert all(len(t) == 5 for *_, t in iterate_batches(split, 5, drop_last=True))


def test_augmented_prefixes_share_items_and_keep_the_most_recent():
    split = Split.augmented(np.arange(1, 101, dtype=np.int32), np.array([100]))
    assert len(split) == 99 and len(split.items) == 100
    assert split.sequence(0).tolist() == [1] and split.targets[98] == 100
    items, lengths = pad_batch(split, np.array([98, 0, 2]), max_len=4)
    assert items.tolist() == [[96, 97, 98, 99], [1, 0, 0, 0], [1, 2, 3, 0]]
    assert lengths.tolist() == [4, 1, 3]
