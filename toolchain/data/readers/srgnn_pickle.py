"""SR-GNN / DHCN pickles: ``train.txt`` and ``test.txt``, each ``(sequences, targets)``.

They already hold (sequence, target) pairs, augmented by their authors, so they are
taken as they are. Loaded only through :mod:`toolchain.data.safe_pickle`.
"""

from __future__ import annotations

from pathlib import Path

from toolchain.data.raw import RawPairs
from toolchain.data.readers.base import ReadOptions, Reader, register
from toolchain.data.safe_pickle import load_int_lists
from toolchain.errors import DataFormatError


def _locate(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        train, test = path / "train.txt", path / "test.txt"
    else:
        train, test = path, path.with_name("test.txt")
    for p in (train, test):
        if not p.is_file():
            raise DataFormatError(p, "file not found",
                                  hint="the srgnn format needs train.txt and test.txt side by side")
    return train, test


def _pairs(path: Path) -> tuple[list[list[int]], list[int]]:
    value = load_int_lists(path)
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise DataFormatError(path, "expected a pair (list of sequences, list of targets)")
    seqs, targets = value
    if not isinstance(seqs, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in seqs):
        raise DataFormatError(path, "the first element must be a list of sequences (lists of ints)")
    if not isinstance(targets, (list, tuple)) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in targets):
        raise DataFormatError(path, "the second element must be a flat list of int targets")
    if len(seqs) != len(targets):
        raise DataFormatError(path, f"{len(seqs)} sequences but {len(targets)} targets")
    for i, s in enumerate(seqs):
        if len(s) == 0:
            raise DataFormatError(path, f"sequence {i} is empty")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in s):
            bad = next(v for v in s if not isinstance(v, int) or isinstance(v, bool))
            raise DataFormatError(path, f"sequence {i} holds {bad!r} ({type(bad).__name__}); every item of a "
                                  "sequence must be an int id", hint="the SR-GNN format is (list of lists of int, "
                                  "list of int)")
        if min(s) < 1 or targets[i] < 1:
            raise DataFormatError(path, f"pair {i} holds an item id < 1 (0 is padding)")
    return [list(s) for s in seqs], list(targets)


def read(path: Path, opts: ReadOptions) -> RawPairs:
    """Read SR-GNN's preprocessed train/test pickles as (sequence, target) pairs."""
    train_path, test_path = _locate(path)
    train_x, train_y = _pairs(train_path)
    test_x, test_y = _pairs(test_path)
    return RawPairs(train_x, train_y, test_x, test_y,
                    source={"format": "srgnn", "path": str(train_path.parent)})


def _sniff(path: Path, first: str) -> bool:
    if path.is_dir():
        return (path / "train.txt").is_file() and (path / "test.txt").is_file()
    return path.name == "train.txt" and path.with_name("test.txt").is_file() and first[:1] == "\x80"


register(Reader(
    name="srgnn",
    description="SR-GNN/DHCN pickles train.txt + test.txt ((sequences, targets); restricted loader)",
    read=read,
    sniff=_sniff,
))
