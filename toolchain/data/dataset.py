"""The canonical on-disk session dataset every command reads.

A dataset is a directory::

    manifest.json   schema, version, source, options, counts, sha256 of arrays.npz
    arrays.npz      flat integer arrays (no pickle):
                      {split}_offsets  int64 [n+1]   sequence i is items[offsets[i]:offsets[i+1]]
                      {split}_items    int32 [total] item indices 1..|V| (0 is padding)
                      {split}_targets  int32 [n]     the next item of each sequence
                    for split in train / valid / test, plus
                      item_counts      int64 [|V|+1] how often each item is a training target
                      vocab            str   [|V|+1] raw id of each index ('' at 0)

Training sequences are already augmented (every prefix with its next item).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from toolchain import __version__
from toolchain.atomic import atomic_dir
from toolchain.checksum import sha256_file
from toolchain.errors import DataFormatError, OdtoolError
from toolchain.npz import load_npz, save_npz

SCHEMA = "odtool.dataset"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
SPLITS = ("train", "valid", "test")


@dataclass
class Split:
    """(sequence, target) examples stored flat: ``offsets`` delimit ``items``."""

    offsets: np.ndarray  # int64 [n+1]
    items: np.ndarray  # int32 [total]
    targets: np.ndarray  # int32 [n]

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]], targets: Sequence[int]) -> "Split":
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = np.fromiter((i for s in sequences for i in s), dtype=np.int32, count=int(offsets[-1]))
        return cls(offsets, items, np.asarray(targets, dtype=np.int32).reshape(-1))

    @classmethod
    def empty(cls) -> "Split":
        return cls.from_lists([], [])

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sequence(self, i: int) -> np.ndarray:
        return self.items[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for i in range(len(self)):
            yield self.sequence(i), int(self.targets[i])

    def subset(self, index: np.ndarray) -> "Split":
        seqs = [self.sequence(int(i)) for i in index]
        return Split.from_lists(seqs, self.targets[index])


@dataclass
class SessionDataset:
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
            out[f"{name}_offsets"] = s.offsets.astype(np.int64)
            out[f"{name}_items"] = s.items.astype(np.int32)
            out[f"{name}_targets"] = s.targets.astype(np.int32)
        out["item_counts"] = self.item_counts.astype(np.int64)
        out["vocab"] = np.asarray(self.vocab, dtype=np.str_)
        return out

    def save(self, directory: str | Path) -> Path:
        """Write atomically: the directory appears complete or not at all."""
        directory = Path(directory)
        self.validate(directory)
        with atomic_dir(directory) as tmp:
            save_npz(tmp / "arrays.npz", self.arrays())
            manifest = dict(self.manifest)
            manifest.update({
                "schema": SCHEMA,
                "version": VERSION,
                "created_by": f"odtool {__version__}",
                "counts": self.counts(),
                "arrays_sha256": sha256_file(tmp / "arrays.npz"),
            })
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
        if manifest.get("schema") != SCHEMA:
            raise DataFormatError(manifest_path, f"schema is {manifest.get('schema')!r}, expected {SCHEMA!r}")
        if manifest.get("version") not in SUPPORTED_VERSIONS:
            raise DataFormatError(
                manifest_path,
                f"dataset version {manifest.get('version')!r} is not supported by odtool {__version__} "
                f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})",
                hint="upgrade odtool, or prepare the dataset again with this version",
            )
        arrays_path = directory / "arrays.npz"
        expected = manifest.get("arrays_sha256")
        if expected and arrays_path.is_file() and sha256_file(arrays_path) != expected:
            raise DataFormatError(arrays_path, "checksum mismatch: the file was altered or truncated",
                                  hint="prepare the dataset again")
        arrays = load_npz(arrays_path)
        try:
            splits = {
                name: Split(arrays[f"{name}_offsets"], arrays[f"{name}_items"], arrays[f"{name}_targets"])
                for name in SPLITS
            }
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
            if len(s.offsets) != len(s.targets) + 1 or s.offsets[0] != 0 or s.offsets[-1] != len(s.items):
                raise DataFormatError(where, f"{name}: offsets do not delimit items")
            if len(s) and np.any(np.diff(s.offsets) < 1):
                raise DataFormatError(where, f"{name}: empty sequence found")
            for arr, what in ((s.items, "items"), (s.targets, "targets")):
                if len(arr) and (arr.min() < 1 or arr.max() > n):
                    raise DataFormatError(where, f"{name}_{what}: index outside 1..{n}")

    def counts(self) -> dict:
        return {
            "items": self.n_items,
            "train_sequences": len(self.train),
            "valid_sequences": len(self.valid),
            "test_sequences": len(self.test),
        }

