"""Raw sessions -> canonical dataset, following EODRec section 6.1.1 (and SR-GNN).

Steps for click logs (:class:`RawSessions`):

1. drop sessions shorter than ``min_session_length`` (2);
2. drop items seen fewer than ``min_item_count`` times (5), then sessions that became
   too short;
3. split: ``last-item`` (the paper: each session's last item is its test target, the
   rest is training data) or ``time`` (SR-GNN: sessions ending in the last
   ``test_days`` days are the test set; test items unseen in training are removed);
4. ``valid_fraction`` (10%) of the training sessions become the validation set;
5. items are re-indexed 1..|V| in order of first appearance (0 is padding);
6. sequence-splitting augmentation of training (and time-split test) sessions:
   ``[v1..vl]`` gives ``([v1], v2), ([v1, v2], v3), ..., ([v1..v(l-1)], vl)``.

SR-GNN pickles (:class:`RawPairs`) are already augmented pairs: only re-indexing and the
validation split are applied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from toolchain.data.dataset import SessionDataset, Split
from toolchain.data.raw import RawPairs, RawSessions
from toolchain.errors import ConfigError, EmptyDatasetError, UsageError

SPLIT_METHODS = ("last-item", "time")


@dataclass
class PrepareOptions:
    min_item_count: int = 5
    min_session_length: int = 2
    split: str = "last-item"
    test_days: float = 7.0
    valid_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.min_item_count < 1:
            problems.append(f"min_item_count must be >= 1, got {self.min_item_count}")
        if self.min_session_length < 2:
            problems.append(f"min_session_length must be >= 2 (a session needs an input and a "
                            f"target), got {self.min_session_length}")
        if self.split not in SPLIT_METHODS:
            problems.append(f"split must be one of {', '.join(SPLIT_METHODS)}, got {self.split!r}")
        if self.test_days <= 0:
            problems.append(f"test_days must be > 0, got {self.test_days}")
        if not 0.0 <= self.valid_fraction < 1.0:
            problems.append(f"valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if problems:
            raise ConfigError(problems)


def prepare(raw: RawSessions | RawPairs, opts: PrepareOptions) -> SessionDataset:
    if isinstance(raw, RawPairs):
        return prepare_pairs(raw, opts)
    return prepare_sessions(raw, opts)


def augment(sessions: Sequence[Sequence[int]]) -> tuple[list[list[int]], list[int]]:
    """Sequence splitting: every proper prefix of length >= 1 with its next item."""
    seqs, targets = [], []
    for s in sessions:
        for i in range(1, len(s)):
            seqs.append(list(s[:i]))
            targets.append(s[i])
    return seqs, targets


def prepare_sessions(raw: RawSessions, opts: PrepareOptions) -> SessionDataset:
    sessions = raw.sessions
    times = raw.end_times
    steps: list[dict] = [_step("read", sessions)]
    if not sessions:
        raise EmptyDatasetError("the input holds no sessions", hint="check the file and --format")

    keep = [i for i, s in enumerate(sessions) if len(s) >= opts.min_session_length]
    sessions, times = _take(sessions, times, keep)
    steps.append(_step(f"drop sessions shorter than {opts.min_session_length}", sessions))
    _require(sessions, steps[-1], steps[-2], "--min-session-length")

    counts = Counter(i for s in sessions for i in s)
    sessions = [[i for i in s if counts[i] >= opts.min_item_count] for s in sessions]
    steps.append(_step(f"drop items seen fewer than {opts.min_item_count} times", sessions))
    keep = [i for i, s in enumerate(sessions) if len(s) >= opts.min_session_length]
    sessions, times = _take(sessions, times, keep)
    steps.append(_step(f"drop sessions shorter than {opts.min_session_length} after item filter", sessions))
    _require(sessions, steps[-2], steps[-3], "--min-item-count")

    if opts.split == "last-item":
        train_sessions = [s[:-1] for s in sessions]
        test_seqs = [s[:-1] for s in sessions]
        test_targets = [s[-1] for s in sessions]
    else:
        if times is None:
            raise UsageError(
                f"the {raw.source.get('format', 'input')} format has no timestamps, so the time split "
                "is unavailable", hint="use --split last-item")
        cutoff = max(times) - opts.test_days * 86400.0
        train_sessions = [s for s, t in zip(sessions, times) if t <= cutoff]
        test_sessions = [s for s, t in zip(sessions, times) if t > cutoff]
        known = {i for s in train_sessions for i in s}
        test_sessions = [[i for i in s if i in known] for s in test_sessions]
        test_sessions = [s for s in test_sessions if len(s) >= 2]
        if not train_sessions or not test_sessions:
            which = "training" if not train_sessions else "test"
            raise EmptyDatasetError(
                f"the time split (last {opts.test_days:g} days as test) leaves the {which} set empty",
                hint="change --test-days, or use --split last-item")
        test_seqs, test_targets = augment(test_sessions)
    train_sessions = [s for s in train_sessions if len(s) >= 2]
    if not train_sessions:
        raise EmptyDatasetError("no training session is long enough to give a (sequence, target) pair",
                                hint="the data needs sessions of 3+ clicks for the last-item split")

    train_sessions, valid_sessions = _split_valid(train_sessions, opts)
    index = _index_by_first_appearance([train_sessions, valid_sessions, test_seqs, [test_targets]])
    train = Split.from_lists(*augment(_map(train_sessions, index)))
    valid = Split.from_lists(*augment(_map(valid_sessions, index)))
    test = Split.from_lists(_map(test_seqs, index), [index[t] for t in test_targets])
    ds = _finish(train, valid, test, index, opts, raw.source, steps)
    ds.manifest["stats"]["avg_session_length"] = float(np.mean([len(s) for s in sessions]))
    return ds


def prepare_pairs(raw: RawPairs, opts: PrepareOptions) -> SessionDataset:
    all_ids = sorted({i for s in raw.train_sequences for i in s} | set(raw.train_targets)
                     | {i for s in raw.test_sequences for i in s} | set(raw.test_targets))
    index = {str(raw_id): k for k, raw_id in enumerate(all_ids, start=1)}
    remap = {raw_id: k for k, raw_id in enumerate(all_ids, start=1)}
    n = len(raw.train_targets)
    if n == 0 or not raw.test_targets:
        raise EmptyDatasetError("the pickles hold no training or no test pairs")
    perm = np.random.default_rng(opts.seed).permutation(n)
    n_valid = _n_valid(n, opts.valid_fraction)
    valid_idx, train_idx = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])

    def split(seqs, targets, idx):
        return Split.from_lists([[remap[i] for i in seqs[j]] for j in idx], [remap[targets[j]] for j in idx])

    train = split(raw.train_sequences, raw.train_targets, train_idx)
    valid = split(raw.train_sequences, raw.train_targets, valid_idx)
    test = split(raw.test_sequences, raw.test_targets, range(len(raw.test_targets)))
    steps = [{"step": "read pairs (taken as given: no filtering, no augmentation)",
              "train_pairs": n, "test_pairs": len(raw.test_targets), "items": len(all_ids)}]
    return _finish(train, valid, test, index, opts, raw.source, steps)


# ---------------------------------------------------------------------------- helpers
def _finish(train: Split, valid: Split, test: Split, index: dict[str, int], opts: PrepareOptions,
            source: dict, steps: list[dict]) -> SessionDataset:
    n_items = len(index)
    vocab = np.empty(n_items + 1, dtype=object)
    vocab[0] = ""
    for raw_id, k in index.items():
        vocab[k] = raw_id
    counts = np.bincount(train.targets, minlength=n_items + 1).astype(np.int64)
    from toolchain.data.stats import dataset_stats  # local: stats imports dataset types

    ds = SessionDataset(train, valid, test, vocab.astype(np.str_), counts,
                        manifest={"source": source, "options": asdict(opts), "filters": steps, "stats": {}})
    ds.manifest["stats"] = dataset_stats(ds)
    return ds


def _step(name: str, sessions: list) -> dict:
    return {"step": name, "sessions": len(sessions), "items": len({i for s in sessions for i in s}),
            "clicks": sum(len(s) for s in sessions)}


def _require(sessions: list, culprit: dict, before: dict, flag: str) -> None:
    """Fail naming the filter that removed everything, with the counts before it."""
    if not sessions:
        raise EmptyDatasetError(
            f"no sessions left after the filter '{culprit['step']}' (there were {before['sessions']} "
            f"sessions with {before['items']} distinct items before it)",
            hint=f"lower {flag}, or check that the file holds enough data")


def _take(sessions: list, times: list | None, keep: list[int]):
    return [sessions[i] for i in keep], (None if times is None else [times[i] for i in keep])


def _n_valid(n: int, fraction: float) -> int:
    if fraction <= 0 or n < 2:
        return 0
    return max(1, int(round(n * fraction)))


def _split_valid(sessions: list, opts: PrepareOptions) -> tuple[list, list]:
    perm = np.random.default_rng(opts.seed).permutation(len(sessions))
    n_valid = _n_valid(len(sessions), opts.valid_fraction)
    valid_set = set(perm[:n_valid].tolist())
    train = [s for i, s in enumerate(sessions) if i not in valid_set]
    valid = [s for i, s in enumerate(sessions) if i in valid_set]
    return train, valid


def _index_by_first_appearance(groups: list[list[list[str]]]) -> dict[str, int]:
    index: dict[str, int] = {}
    for group in groups:
        for s in group:
            for i in s:
                if i not in index:
                    index[i] = len(index) + 1
    return index


def _map(sessions: list[list[str]], index: dict[str, int]) -> list[list[int]]:
    return [[index[i] for i in s] for s in sessions]
