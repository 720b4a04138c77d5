"""The runners' session input file ("ODTSESS", version 1): writer and reader.

Every device and runtime reads the same file, so every device sees the same sessions.
Layout, all little-endian (the C++ runner's header comment is the reference)::

    0    8        magic b"ODTSESS\\0"
    8    4        uint32 version = 1
    12   4        uint32 n_sessions (>= 1)
    16   4        uint32 max_len L (>= 1)
    20   4        uint32 reserved = 0
    24   8*n*L    int64 items [n, L], row i = session i's items (oldest first), right-padded with 0
    ..   8*n      int64 lengths [n], 1 <= len_i <= L

The runners pad each row on the right up to the model's sequence length, so write the
file with ``max_len`` equal to the model's L (or shorter: a wider file is refused, see the
inference contract in export/graphs/base.py). Longer sessions keep their most recent items
(:meth:`Sessions.from_sequences`). An empty session (length 0) cannot be written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from toolchain.session_contract import trim_recent
from toolchain.atomic import atomic_write_bytes
from toolchain.errors import DataFormatError, UsageError

MAGIC = b"ODTSESS\0"
VERSION = 1
HEADER = struct.Struct("<8sIIII")


@dataclass(frozen=True)
class Sessions:
    """Padded sessions: ``items`` int64 [n, L] right-padded with 0, ``lengths`` int64 [n]."""

    items: np.ndarray
    lengths: np.ndarray

    def __post_init__(self) -> None:
        problems = _problems(self.items, self.lengths)
        if problems:
            raise UsageError("invalid sessions: " + "; ".join(problems))

    @property
    def n(self) -> int:
        return int(self.items.shape[0])

    @property
    def max_len(self) -> int:
        return int(self.items.shape[1])

    @classmethod
    def from_tensors(cls, items: Any, lengths: Any) -> "Sessions":
        """From padded arrays or torch tensors (items [n, L], lengths [n])."""
        return cls(_to_int64(items), _to_int64(lengths))

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[int]], max_len: int) -> "Sessions":
        """From ragged item lists; sessions longer than ``max_len`` keep their most recent items."""
        if not sequences:
            raise UsageError("no sessions given")
        if max_len < 1:
            raise UsageError(f"max_len must be >= 1, got {max_len}")
        items = np.zeros((len(sequences), max_len), dtype=np.int64)
        lengths = np.zeros(len(sequences), dtype=np.int64)
        for i, seq in enumerate(sequences):
            tail = trim_recent(seq, max_len)  # the contract's one trimming rule
            items[i, :len(tail)] = tail
            lengths[i] = len(tail)
        return cls(items, lengths)

    def to_bytes(self) -> bytes:
        header = HEADER.pack(MAGIC, VERSION, self.n, self.max_len, 0)
        return header + self.items.astype("<i8").tobytes() + self.lengths.astype("<i8").tobytes()


def write_sessions(path: str | Path, items: Any, lengths: Any | None = None) -> Path:
    """Write ``Sessions`` (or padded ``items`` + ``lengths``) to ``path`` atomically."""
    sessions = items if isinstance(items, Sessions) else Sessions.from_tensors(items, lengths)
    path = Path(path)
    atomic_write_bytes(path, sessions.to_bytes())
    return path


def read_sessions(path: str | Path) -> Sessions:
    """Read and validate a session file; a malformed file raises DataFormatError naming the field."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, "session file does not exist") from None
    if len(raw) < HEADER.size:
        raise DataFormatError(path, f"{len(raw)} bytes is too short for the {HEADER.size}-byte header")
    magic, version, n, max_len, reserved = HEADER.unpack_from(raw, 0)
    if magic != MAGIC:
        raise DataFormatError(path, f"bad magic {magic!r}, expected {MAGIC!r}", field="magic",
                              hint="write session files with android_harness.inputs.write_sessions")
    if version != VERSION:
        raise DataFormatError(path, f"version {version} is not supported (expected {VERSION})", field="version")
    if n == 0 or max_len == 0:
        raise DataFormatError(path, f"n_sessions={n}, max_len={max_len}: both must be >= 1", field="n_sessions")
    expect = HEADER.size + 8 * n * (max_len + 1)
    if len(raw) != expect:
        raise DataFormatError(path, f"size {len(raw)} != {expect} expected for n_sessions={n}, max_len={max_len}",
                              field="size")
    items = np.frombuffer(raw, "<i8", n * max_len, HEADER.size).reshape(n, max_len).astype(np.int64)
    lengths = np.frombuffer(raw, "<i8", n, HEADER.size + 8 * n * max_len).astype(np.int64)
    problems = _problems(items, lengths)
    if problems:
        raise DataFormatError(path, "; ".join(problems), field="items/lengths")
    return Sessions(items, lengths)


def _to_int64(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise UsageError(f"session items and lengths must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _problems(items: np.ndarray, lengths: np.ndarray) -> list[str]:
    if items.ndim != 2 or lengths.ndim != 1 or items.shape[0] != lengths.shape[0]:
        return [f"items must be [n, L] and lengths [n], got {tuple(items.shape)} and {tuple(lengths.shape)}"]
    n, max_len = items.shape
    if n < 1 or max_len < 1:
        return [f"need at least one session and L >= 1, got items {tuple(items.shape)}"]
    problems = []
    bad = np.flatnonzero((lengths < 1) | (lengths > max_len))
    if bad.size:
        problems.append(f"session {bad[0]} has length {lengths[bad[0]]} outside [1, {max_len}]")
    if (items < 0).any():
        problems.append(f"negative item id in session {int(np.argwhere(items < 0)[0, 0])}")
    if not problems:
        pad = np.arange(max_len)[None, :] >= lengths[:, None]
        rows = np.flatnonzero((items * pad != 0).any(axis=1))
        if rows.size:
            problems.append(f"session {rows[0]} has non-zero items past its length {lengths[rows[0]]} "
                            f"(rows must be right-padded with 0)")
    return problems
