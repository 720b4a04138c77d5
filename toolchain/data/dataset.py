"""The canonical on-disk session dataset every command reads.

A dataset is a directory::

    manifest.json   schema, version, source, options, counts, sha256 of arrays.npz
    arrays.npz      flat integer arrays (no pickle):
                      {split}_items    int32 [total] item indices 1..|V| (0 is padding)
                      {split}_starts   int64 [n]     example i is items[starts[i]:ends[i]]
                      {split}_ends     int64 [n]
                      {split}_targets  int32 [n]     the next item of each example
                    for split in train / valid / test, plus
                      item_counts      int64 [|V|+1] how often each item is a training target
                      vocab            str   [|V|+1] raw id of each index ('' at 0)

An example is a (sequence, target) pair whose sequence is a slice of the split's item
stream. Training sequences are already augmented (every prefix with its next item), but a
prefix is not stored on its own: all prefixes of a session share the session's items
(equal starts, increasing ends), so a split costs O(items + examples), not O(length^2) per
session. Examples that are not prefixes of one another (SR-GNN pairs, last-item test
sequences) simply have their own items. A model sees at most its ``max_len`` most recent
items of a sequence (:func:`toolchain.data.batching.pad_batch` keeps the last ``max_len``).

Version 1 stored ``{split}_offsets`` int64 [n+1] (sequence i was
``items[offsets[i]:offsets[i+1]]``) instead of starts / ends; it is still read (as
``starts = offsets[:-1]``, ``ends = offsets[1:]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from toolchain.atomic import atomic_dir
from toolchain.checksum import sha256_file
from toolchain.errors import DataFormatError, OdtoolError
from toolchain.npz import load_npz, save_npz
from toolchain.versioned import stamped, version_problem

SCHEMA = "odtool.dataset"
VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
SPLITS = ("train", "valid", "test")


@dataclass
class Split:
    """(sequence, target) examples: example i is ``items[starts[i]:ends[i]]`` with ``targets[i]``.

    Several examples may share items (the prefixes of one session do), so ``len(items)``
    is not the sum of the lengths.
    """

    items: np.ndarray  # int32 [total] the item stream
    starts: np.ndarray  # int64 [n]
    ends: np.ndarray  # int64 [n]
    targets: np.ndarray  # int32 [n]

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]], targets: Sequence[int]) -> "Split":
        """Examples given one by one; each keeps its own items (nothing is shared)."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = np.fromiter((i for s in sequences for i in s), dtype=np.int32, count=int(offsets[-1]))
        return cls.from_offsets(offsets, items, np.asarray(targets, dtype=np.int32).reshape(-1))

    @classmethod
    def from_offsets(cls, offsets: np.ndarray, items: np.ndarray, targets: np.ndarray) -> "Split":
        """Back-to-back sequences: sequence i is ``items[offsets[i]:offsets[i+1]]`` (version 1)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        return cls(np.asarray(items, dtype=np.int32), offsets[:-1], offsets[1:], np.asarray(targets, dtype=np.int32))

    @classmethod
    def augmented(cls, items: np.ndarray, lengths: np.ndarray) -> "Split":
        """Sequence splitting of back-to-back sessions, without materialising a prefix.

        Session j is the next ``lengths[j]`` entries of ``items``; it gives the examples
        ``(s[:1], s[1]), (s[:2], s[2]), ..., (s[:l-1], s[l-1])`` in that order, sessions in
        order. Every example points into ``items``: memory is O(len(items)).
        """
        items = np.asarray(items, dtype=np.int32)
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.sum() != len(items):
            raise ValueError(f"session lengths sum to {int(lengths.sum())}, but there are {len(items)} items")
        session_starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=session_starts[1:])
        per_session = np.maximum(lengths - 1, 0)
        n = int(per_session.sum())
        starts = np.repeat(session_starts, per_session)
        # prefix length within its session: 1, 2, ..., l-1 for each session
        first_example = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(per_session[:-1], out=first_example[1:])
        ends = np.arange(n, dtype=np.int64)
        ends -= np.repeat(first_example, per_session)
        ends += 1
        ends += starts
        return cls(items, starts, ends, items[ends])

    @classmethod
    def empty(cls) -> "Split":
        return cls.from_lists([], [])

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def sequence(self, i: int) -> np.ndarray:
        return self.items[self.starts[i]:self.ends[i]]

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for i in range(len(self)):
            yield self.sequence(i), int(self.targets[i])

    def subset(self, index: np.ndarray) -> "Split":
        """The examples ``index`` in that order; they share this split's items."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        return Split(self.items, self.starts[index], self.ends[index], self.targets[index])


@dataclass
class SessionDataset:
    """A prepared dataset: train/valid/test splits, the item vocabulary (row 0 padding),
    per-item click counts and the manifest (provenance, stats, checksums)."""
    train: Split
    valid: Split
    test: Split
    vocab: np.ndarray  # str [|V|+1]
    item_counts: np.ndarray  # int64 [|V|+1]
    manifest: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        """|V|: items are indexed 1..n_items; 0 is padding."""
        return len(self.vocab) - 1

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise OdtoolError(f"unknown split '{name}'; valid: {', '.join(SPLITS)}")
        return getattr(self, name)

    # ------------------------------------------------------------------ disk
    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name in SPLITS:
            s = self.split(name)
            # np.asarray: no copy when the dtype is already right (these can be large)
            out[f"{name}_items"] = np.asarray(s.items, dtype=np.int32)
            out[f"{name}_starts"] = np.asarray(s.starts, dtype=np.int64)
            out[f"{name}_ends"] = np.asarray(s.ends, dtype=np.int64)
            out[f"{name}_targets"] = np.asarray(s.targets, dtype=np.int32)
        out["item_counts"] = np.asarray(self.item_counts, dtype=np.int64)
        out["vocab"] = np.asarray(self.vocab, dtype=np.str_)
        return out

    def save(self, directory: str | Path) -> Path:
        """Write atomically: the directory appears complete or not at all."""
        directory = Path(directory)
        self.validate(directory)
        with atomic_dir(directory) as tmp:
            save_npz(tmp / "arrays.npz", self.arrays())
            manifest = stamped(SCHEMA, VERSION, {**self.manifest, "counts": self.counts(),
                                                  "arrays_sha256": sha256_file(tmp / "arrays.npz")})
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        self.manifest = manifest
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "SessionDataset":
        directory = Path(directory)
        manifest_path = directory / "manifest.json"
        if not manifest_path.is_file():
            raise DataFormatError(
                directory, "not an odtool dataset (no manifest.json)",
                hint="create one with `odtool data prepare RAW --out DIR` or `odtool data synth --out DIR`",
            )
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as e:
            raise DataFormatError(manifest_path, f"invalid JSON ({e})") from e
        problem = version_problem(manifest, SCHEMA, "dataset", VERSION, SUPPORTED_VERSIONS)
        if problem:
            raise DataFormatError(manifest_path, problem,
                                  hint="upgrade odtool, or prepare the dataset again with this version")
        arrays_path = directory / "arrays.npz"
        expected = manifest.get("arrays_sha256")
        if expected and arrays_path.is_file() and sha256_file(arrays_path) != expected:
            raise DataFormatError(arrays_path, "checksum mismatch: the file was altered or truncated",
                                  hint="prepare the dataset again")
        arrays = load_npz(arrays_path)
        read = _read_split_v1 if manifest["version"] == 1 else _read_split
        try:
            splits = {name: read(arrays, name, arrays_path) for name in SPLITS}
            ds = cls(**splits, vocab=arrays["vocab"], item_counts=arrays["item_counts"], manifest=manifest)
        except KeyError as e:
            raise DataFormatError(arrays_path, f"missing array {e}") from None
        ds.validate(arrays_path)
        return ds

    # ------------------------------------------------------------------ checks
    def validate(self, where: str | Path = "<dataset>") -> None:
        """Check the invariants every consumer relies on."""
        n = self.n_items
        if len(self.item_counts) != n + 1:
            raise DataFormatError(where, f"item_counts has {len(self.item_counts)} entries, expected {n + 1}")
        for name in SPLITS:
            s = self.split(name)
            for arr, what in ((s.items, "items"), (s.starts, "starts"), (s.ends, "ends"), (s.targets, "targets")):
                arr = np.asarray(arr)
                if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
                    raise DataFormatError(where, f"expected a 1-d integer array, got {arr.dtype} of shape "
                                          f"{arr.shape}", field=f"{name}_{what}")
            for arr, what in ((s.starts, "starts"), (s.ends, "ends")):
                if len(arr) != len(s.targets):
                    raise DataFormatError(where, f"{len(arr)} entries for {len(s.targets)} targets",
                                          field=f"{name}_{what}")
            if len(s):
                if s.starts.min() < 0 or s.starts.max() >= len(s.items):
                    raise DataFormatError(where, f"a start is outside 0..{len(s.items) - 1}", field=f"{name}_starts")
                if s.ends.max() > len(s.items):
                    raise DataFormatError(where, f"an end is past the {len(s.items)} items", field=f"{name}_ends")
                if np.any(s.ends <= s.starts):
                    raise DataFormatError(where, "empty sequence found (end <= start)", field=f"{name}_ends")
            for arr, what in ((s.items, "items"), (s.targets, "targets")):
                if len(arr) and (arr.min() < 1 or arr.max() > n):
                    raise DataFormatError(where, f"index outside 1..{n}", field=f"{name}_{what}")

    def counts(self) -> dict:
        return {
            "items": self.n_items,
            "train_sequences": len(self.train),
            "valid_sequences": len(self.valid),
            "test_sequences": len(self.test),
        }



def _read_split(arrays: dict[str, np.ndarray], name: str, path: Path) -> Split:
    return Split(arrays[f"{name}_items"], arrays[f"{name}_starts"], arrays[f"{name}_ends"], arrays[f"{name}_targets"])


def _read_split_v1(arrays: dict[str, np.ndarray], name: str, path: Path) -> Split:
    """Version 1: back-to-back sequences delimited by ``{split}_offsets`` [n+1]."""
    offsets, items, targets = arrays[f"{name}_offsets"], arrays[f"{name}_items"], arrays[f"{name}_targets"]
    if (offsets.ndim != 1 or len(offsets) != len(targets) + 1 or offsets[0] != 0 or offsets[-1] != len(items)
            or np.any(np.diff(offsets) < 0)):
        raise DataFormatError(path, f"{name}: offsets do not delimit items", field=f"{name}_offsets")
    return Split.from_offsets(offsets, items, targets)
