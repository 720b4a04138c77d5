"""Dataset statistics: the paper's Table 2 columns plus popularity skew."""

from __future__ import annotations

import numpy as np

from toolchain.data.dataset import SessionDataset


def popularity_share(item_counts: np.ndarray, top_fraction: float = 0.2) -> float:
    """Share of interactions that fall on the ``top_fraction`` most popular items."""
    counts = np.sort(np.asarray(item_counts[1:], dtype=np.float64))[::-1]
    total = counts.sum()
    if total == 0 or len(counts) == 0:
        return 0.0
    k = max(1, int(round(len(counts) * top_fraction)))
    return float(counts[:k].sum() / total)


def dataset_stats(ds: SessionDataset) -> dict:
    """Summarise a dataset: sequences per split, items, mean lengths, top-20% popularity share."""
    lengths = np.concatenate([ds.train.lengths, ds.valid.lengths, ds.test.lengths])
    stats = {
        "train_sequences": len(ds.train),
        "valid_sequences": len(ds.valid),
        "test_sequences": len(ds.test),
        "items": ds.n_items,
        # Mean length of the input sequences (train + valid + test), as counted by SR-GNN.
        "avg_sequence_length": float(lengths.mean()) if len(lengths) else 0.0,
        "top20_popularity_share": popularity_share(ds.item_counts, 0.2),
    }
    # Mean length of the original sessions, known only when prepared from a click log.
    old = ds.manifest.get("stats", {}).get("avg_session_length")
    if old is not None:
        stats["avg_session_length"] = old
    return stats


TABLE2_COLUMNS = (
    ("train_sequences", "#train sequences"),
    ("valid_sequences", "#valid sequences"),
    ("test_sequences", "#test sequences"),
    ("items", "#items"),
    ("avg_length", "avg. length"),
    ("top20_popularity_share", "top-20% items' share"),
)


def table2_row(ds: SessionDataset) -> dict:
    """Table 2 columns; ``avg_length`` is the session length when known."""
    s = dataset_stats(ds)
    s["avg_length"] = s.get("avg_session_length", s["avg_sequence_length"])
    return s
