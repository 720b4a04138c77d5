"""The sessions every benchmarked model sees: real lengths, uniform items, one file per preset.

Lengths are drawn from a dataset's test split (default: the synthetic default, mean ~5 after
the last-item split); items are uniform over the preset's |V| (timing does not depend on which
items they are). The same seed gives the same file, so every device and model gets identical
inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from android_harness.inputs import write_sessions


def session_lengths(count: int, max_len: int, data: str | Path | None = None, seed: int = 0) -> np.ndarray:
    """``count`` session lengths drawn from a dataset's test split, capped at ``max_len``."""
    from toolchain.data.pipeline import load_dataset

    ds = load_dataset(data)
    lengths = np.minimum(ds.test.lengths, max_len)
    return np.random.default_rng(seed).choice(lengths, size=count, replace=True)


def padded_sessions(n_items: int, lengths: np.ndarray, max_len: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded sessions [n, max_len] with the given lengths and uniform items in 1..n_items."""
    g = torch.Generator().manual_seed(seed)
    items = torch.zeros(len(lengths), max_len, dtype=torch.long)
    for i, n in enumerate(lengths):
        items[i, :int(n)] = torch.randint(1, n_items + 1, (int(n),), generator=g)
    return items, torch.as_tensor(np.asarray(lengths), dtype=torch.long)


def write_bench_sessions(path: Path, n_items: int, count: int, max_len: int, data: str | Path | None = None,
                         seed: int = 0) -> Path:
    """Write ``count`` padded bench sessions (real lengths, uniform items) to ``path``; returns it."""
    items, lengths = padded_sessions(n_items, session_lengths(count, max_len, data, seed), max_len, seed + 1)
    return write_sessions(path, items, lengths)
