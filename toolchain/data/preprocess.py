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

Memory is linear in the clicks: raw ids are turned into integer codes once, every step is
a numpy operation over the flat click stream, and augmentation stores each prefix as a
(start, end) slice of its session (:meth:`Split.augmented`), never as a copy.

SR-GNN pickles (:class:`RawPairs`) are already augmented pairs: only re-indexing and the
validation split are applied; each pair keeps its own items.
"""

from __future__ import annotations

import math

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from toolchain.data.dataset import SessionDataset, Split
from toolchain.data.raw import RawPairs, RawSessions
from toolchain.errors import ConfigError, EmptyDatasetError, UsageError

SPLIT_METHODS = ("last-item", "time")


@dataclass
class PrepareOptions:
    """Filtering and split settings for :func:`prepare`; invalid values raise one ConfigError."""
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
        if not 0 <= self.seed < 2**63:
            problems.append(f"seed must be in 0..2**63-1, got {self.seed}")
        if not math.isfinite(self.test_days):
            problems.append(f"test_days must be finite, got {self.test_days}")
        if problems:
            raise ConfigError(problems)


def prepare(raw: RawSessions | RawPairs, opts: PrepareOptions) -> SessionDataset:
    """Turn raw sessions or raw pairs into a SessionDataset (see prepare_sessions / prepare_pairs)."""
    if isinstance(raw, RawPairs):
        return prepare_pairs(raw, opts)
    return prepare_sessions(raw, opts)


def augment(sessions: Sequence[Sequence[int]]) -> Split:
    """Sequence splitting: every proper prefix of length >= 1 with its next item.

    The prefixes are not materialised: they are slices of the sessions' items
    (:meth:`Split.augmented`), so the result is O(total items), not O(length^2).
    """
    lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
    items = np.fromiter((i for s in sessions for i in s), dtype=np.int32, count=int(lengths.sum()))
    return Split.augmented(items, lengths)


@dataclass
class _Sessions:
    """Sessions as flat integer codes: session j is the next ``lengths[j]`` entries of ``codes``.

    Codes are 0..n_codes-1 in order of first appearance in the file; ``times`` is each
    session's end time, or None. Every step below is vectorised over these arrays, so
    preparing costs O(clicks) memory whatever the session lengths.
    """

    codes: np.ndarray  # int32 [clicks]
    lengths: np.ndarray  # int64 [sessions]
    times: np.ndarray | None  # float64 [sessions]

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def ends(self) -> np.ndarray:
        return np.cumsum(self.lengths)

    def take(self, keep: np.ndarray) -> "_Sessions":
        """The sessions where ``keep`` (bool [sessions]) holds, in order."""
        return _Sessions(self.codes[np.repeat(keep, self.lengths)], self.lengths[keep],
                         None if self.times is None else self.times[keep])

    def mask_items(self, keep: np.ndarray) -> "_Sessions":
        """Only the clicks where ``keep`` (bool [clicks]) holds; sessions may become shorter."""
        kept = np.zeros(len(self.codes) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept[1:])
        ends = self.ends
        return _Sessions(self.codes[keep], kept[ends] - kept[ends - self.lengths], self.times)

    def drop_last(self) -> "_Sessions":
        """Each session without its last click (sessions must be non-empty)."""
        keep = np.ones(len(self.codes), dtype=bool)
        keep[self.ends - 1] = False
        return _Sessions(self.codes[keep], self.lengths - 1, self.times)

    def last(self) -> np.ndarray:
        return self.codes[self.ends - 1]


def _encode(sessions: Sequence[Sequence[str]], times: Sequence[float] | None) -> tuple[_Sessions, list[str]]:
    """Raw ids -> codes in order of first appearance; returns the sessions and the raw id of each code."""
    lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
    ids: dict[str, int] = {}
    codes = np.fromiter((ids.setdefault(i, len(ids)) for s in sessions for i in s), dtype=np.int32,
                        count=int(lengths.sum()))
    t = None if times is None else np.asarray(times, dtype=np.float64)
    return _Sessions(codes, lengths, t), list(ids)


def prepare_sessions(raw: RawSessions, opts: PrepareOptions) -> SessionDataset:
    """Filter short sessions and rare items, split train / valid / test, augment: a SessionDataset."""
    sessions, raw_ids = _encode(raw.sessions, raw.end_times)
    n_codes = len(raw_ids)
    steps: list[dict] = [_step("read", sessions)]
    if not len(sessions):
        raise EmptyDatasetError("the input holds no sessions", hint="check the file and --format")

    sessions = sessions.take(sessions.lengths >= opts.min_session_length)
    steps.append(_step(f"drop sessions shorter than {opts.min_session_length}", sessions))
    _require(sessions, steps[-1], steps[-2], "--min-session-length")

    counts = np.bincount(sessions.codes, minlength=n_codes)
    sessions = sessions.mask_items(counts[sessions.codes] >= opts.min_item_count)
    steps.append(_step(f"drop items seen fewer than {opts.min_item_count} times", sessions))
    sessions = sessions.take(sessions.lengths >= opts.min_session_length)
    steps.append(_step(f"drop sessions shorter than {opts.min_session_length} after item filter", sessions))
    _require(sessions, steps[-2], steps[-3], "--min-item-count")

    if opts.split == "last-item":
        train_sessions = sessions.drop_last()
        test_inputs = train_sessions
        test_targets = sessions.last()
        test = None
    else:
        if sessions.times is None:
            raise UsageError(
                f"the {raw.source.get('format', 'input')} format has no timestamps, so the time split "
                "is unavailable", hint="use --split last-item")
        cutoff = sessions.times.max() - opts.test_days * 86400.0
        train_sessions = sessions.take(sessions.times <= cutoff)
        test_sessions = sessions.take(sessions.times > cutoff)
        known = np.bincount(train_sessions.codes, minlength=n_codes) > 0
        test_sessions = test_sessions.mask_items(known[test_sessions.codes])
        test_sessions = test_sessions.take(test_sessions.lengths >= 2)
        if not len(train_sessions) or not len(test_sessions):
            which = "training" if not len(train_sessions) else "test"
            raise EmptyDatasetError(
                f"the time split (last {opts.test_days:g} days as test) leaves the {which} set empty",
                hint="change --test-days, or use --split last-item")
        test = Split.augmented(test_sessions.codes, test_sessions.lengths)
        # the items the test sequences read, and their targets, as augmentation visits them
        test_inputs, test_targets = test_sessions.drop_last(), test.targets
    train_sessions = train_sessions.take(train_sessions.lengths >= 2)
    if not len(train_sessions):
        raise EmptyDatasetError("no training session is long enough to give a (sequence, target) pair",
                                hint="the data needs sessions of 3+ clicks for the last-item split")

    train_sessions, valid_sessions = _split_valid(train_sessions, opts)
    remap, order = _index_by_first_appearance(
        [train_sessions.codes, valid_sessions.codes, test_inputs.codes, test_targets], n_codes)
    train = Split.augmented(remap[train_sessions.codes], train_sessions.lengths)
    valid = Split.augmented(remap[valid_sessions.codes], valid_sessions.lengths)
    if test is None:
        offsets = np.zeros(len(test_inputs) + 1, dtype=np.int64)
        np.cumsum(test_inputs.lengths, out=offsets[1:])
        test = Split.from_offsets(offsets, remap[test_inputs.codes], remap[test_targets])
    else:
        test = Split(remap[test.items], test.starts, test.ends, remap[test.targets])
    vocab = np.array([""] + [raw_ids[c] for c in order.tolist()], dtype=np.str_)
    ds = _finish(train, valid, test, vocab, opts, raw.source, steps)
    ds.manifest["stats"]["avg_session_length"] = float(np.mean(sessions.lengths))
    return ds


def prepare_pairs(raw: RawPairs, opts: PrepareOptions) -> SessionDataset:
    """A SessionDataset from given (sequence, target) pairs: ids remapped, a seeded valid share, no filters."""
    all_ids = sorted({i for s in raw.train_sequences for i in s} | set(raw.train_targets)
                     | {i for s in raw.test_sequences for i in s} | set(raw.test_targets))
    vocab = np.array([""] + [str(raw_id) for raw_id in all_ids], dtype=np.str_)
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
    return _finish(train, valid, test, vocab, opts, raw.source, steps)


# ---------------------------------------------------------------------------- helpers
def _finish(train: Split, valid: Split, test: Split, vocab: np.ndarray, opts: PrepareOptions,
            source: dict, steps: list[dict]) -> SessionDataset:
    """``vocab`` [|V|+1]: the raw id of each index, '' at 0."""
    counts = np.bincount(train.targets, minlength=len(vocab)).astype(np.int64)
    from toolchain.data.stats import dataset_stats  # local: stats imports dataset types

    ds = SessionDataset(train, valid, test, vocab, counts,
                        manifest={"source": source, "options": asdict(opts), "filters": steps, "stats": {}})
    ds.manifest["stats"] = dataset_stats(ds)
    return ds


def _step(name: str, sessions: _Sessions) -> dict:
    distinct = int(np.count_nonzero(np.bincount(sessions.codes))) if len(sessions.codes) else 0
    return {"step": name, "sessions": len(sessions), "items": distinct, "clicks": int(sessions.lengths.sum())}


def _require(sessions: _Sessions, culprit: dict, before: dict, flag: str) -> None:
    """Fail naming the filter that removed everything, with the counts before it."""
    if not len(sessions):
        raise EmptyDatasetError(
            f"no sessions left after the filter '{culprit['step']}' (there were {before['sessions']} "
            f"sessions with {before['items']} distinct items before it)",
            hint=f"lower {flag}, or check that the file holds enough data")


def _n_valid(n: int, fraction: float) -> int:
    if fraction <= 0 or n < 2:
        return 0
    return max(1, int(round(n * fraction)))


def _split_valid(sessions: _Sessions, opts: PrepareOptions) -> tuple[_Sessions, _Sessions]:
    """A seeded ``valid_fraction`` of the sessions; both parts keep the sessions' order."""
    perm = np.random.default_rng(opts.seed).permutation(len(sessions))
    is_valid = np.zeros(len(sessions), dtype=bool)
    is_valid[perm[:_n_valid(len(sessions), opts.valid_fraction)]] = True
    return sessions.take(~is_valid), sessions.take(is_valid)


def _index_by_first_appearance(streams: list[np.ndarray], n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices 1..|V| in order of first appearance over ``streams`` read one after the other.

    Returns ``remap`` (int32 [n_codes]: code -> index, 0 for codes that do not appear) and
    ``order`` (the code of each index 1..|V|).
    """
    first = np.full(n_codes, np.iinfo(np.int64).max, dtype=np.int64)
    offset = 0
    for codes in streams:
        uniq, at = np.unique(codes, return_index=True)  # at: each code's first occurrence
        np.minimum(first[uniq], at + offset, out=at)
        first[uniq] = at
        offset += len(codes)
    present = np.flatnonzero(first != np.iinfo(np.int64).max)
    order = present[np.argsort(first[present], kind="stable")]
    remap = np.zeros(n_codes, dtype=np.int32)
    remap[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return remap, order
