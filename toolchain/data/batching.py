"""Turning a :class:`Split` into padded tensors.

The one batch layout every model, exporter and runner uses:

* ``items``   int64 [B, L]: a session's items left-aligned at positions 0..len-1, zero
  padding on the right; a session longer than L keeps its most recent L items, so a
  model with ``max_len`` L never sees more than the last L items of a sequence (the
  dataset keeps whole prefixes; the cap is applied here, per batch);
* ``lengths`` int64 [B]: the number of real items, 1..L;
* ``targets`` int64 [B]: the next item.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from toolchain.data.dataset import Split

DEFAULT_MAX_LEN = 50


def pad_batch(split: Split, index: np.ndarray, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``items`` [B, max_len] and ``lengths`` [B] for the examples in ``index``.

    A model sees at most its ``max_len`` most recent items: example i is
    ``split.items[starts[i]:ends[i]]``, and only ``items[max(starts[i], ends[i] - max_len):ends[i]]``
    is gathered, so the cost is O(B * max_len) whatever the length of the session.
    """
    index = np.asarray(index, dtype=np.int64)
    ends = split.ends[index]
    lengths = np.minimum(ends - split.starts[index], max_len)
    starts = ends - lengths
    pos = np.arange(max_len, dtype=np.int64)
    mask = pos[None, :] < lengths[:, None]
    gather = np.where(mask, starts[:, None] + pos[None, :], 0)
    items = np.where(mask, split.items[gather] if len(split.items) else 0, 0)
    return torch.from_numpy(items.astype(np.int64)), torch.from_numpy(lengths.astype(np.int64))


def iterate_batches(
    split: Split,
    batch_size: int,
    max_len: int = DEFAULT_MAX_LEN,
    *,
    shuffle: bool = False,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield (items, lengths, targets) batches; shuffled with ``rng`` when asked."""
    n = len(split)
    order = (rng or np.random.default_rng()).permutation(n) if shuffle else np.arange(n)
    stop = n - (n % batch_size) if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        items, lengths = pad_batch(split, idx, max_len)
        yield items, lengths, torch.from_numpy(split.targets[idx].astype(np.int64))


def n_batches(split: Split, batch_size: int, drop_last: bool = False) -> int:
    """Number of mini-batches of ``split`` (a partial last one counts unless ``drop_last``)."""
    n = len(split)
    return n // batch_size if drop_last else -(-n // batch_size)
