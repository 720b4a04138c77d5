"""The reader interface, the registry, and the line-level helpers every reader shares."""

from __future__ import annotations

import math

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from toolchain.data.raw import RawPairs, RawSessions
from toolchain.errors import DataFormatError, UsageError
from toolchain.progress import Task, progress
from toolchain.registry import Registry


@dataclass
class ReadOptions:
    """Options shared by readers; each reader uses the ones that apply to it."""

    skip_bad_rows: bool = False
    session_gap_minutes: float = 30.0  # RetailRocket events.csv: inactivity that cuts a session
    event_types: tuple[str, ...] = ("view",)  # RetailRocket events.csv: which events count
    tmall_actions: tuple[int, ...] = (0,)  # Tmall: 0 click, 1 cart, 2 purchase, 3 favourite
    string_ids: bool = False  # text: accept any token as an item id (default: integers only)
    max_bad_rows_reported: int = 5
    bad_rows: list[str] = field(default_factory=list)
    n_bad_rows: int = 0

    def bad_row(self, err: DataFormatError) -> None:
        """Raise ``err``, or count and remember it when ``--skip-bad-rows`` is on."""
        if not self.skip_bad_rows:
            raise err
        self.n_bad_rows += 1
        if len(self.bad_rows) < self.max_bad_rows_reported:
            self.bad_rows.append(str(err))


@dataclass(frozen=True)
class Reader:
    """One data format: its name, description, read function, and a sniffer that recognises its files."""
    name: str
    description: str
    read: Callable[[Path, ReadOptions], RawSessions | RawPairs]
    sniff: Callable[[Path, str], bool]  # (path, first line) -> is this format?


READERS: Registry[Reader] = Registry("data format")


def register(reader: Reader) -> Reader:
    """Add ``reader`` to READERS under its name and return it."""
    READERS.register(reader.name)(reader)
    return reader


def detect_format(path: Path) -> str:
    """Guess the format of ``path`` from its layout and first line."""
    first = _first_line(path) if path.is_file() else ""
    # Plain text accepts almost anything, so it is tried last.
    names = sorted(READERS.names(), key=lambda n: n == "text")
    for name in names:
        if READERS.get(name).sniff(path, first):
            return name
    valid = ", ".join(READERS.names())
    raise UsageError(
        f"cannot tell the format of {path}",
        hint=f"pass --format explicitly (one of: {valid})",
    )


def _first_line(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.readline(4096).decode("utf-8", errors="replace").rstrip("\r\n")


def iter_lines(path: Path, description: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without newline), with a progress bar by bytes."""
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    size = os.path.getsize(path)
    with progress() as bar:
        task = Task(bar, description or f"reading {path.name}", total=size)
        with open(path, "rb") as fh:
            done = 0
            for lineno, raw in enumerate(fh, start=1):
                done += len(raw)
                if lineno % 20000 == 0:
                    task.update(completed=done)
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataFormatError(path, f"not UTF-8 text ({e.reason})", line=lineno) from e
                yield lineno, line.rstrip("\r\n")
            task.update(completed=size)


def split_fields(path: Path, lineno: int, line: str, sep: str, names: tuple[str, ...]) -> list[str]:
    """Split a row and check it has exactly the expected fields."""
    parts = line.split(sep)
    if len(parts) != len(names):
        shown = "tab" if sep == "\t" else repr(sep)
        raise DataFormatError(
            path,
            f"expected {len(names)} {shown}-separated fields ({', '.join(names)}), "
            f"found {len(parts)}: {line[:80]!r}",
            line=lineno,
        )
    return parts


Row = TypeVar("Row")


def read_rows(path: Path, opts: ReadOptions, sep: str, fields: tuple[str, ...],
              parse: Callable[[int, list[str]], Row], *, header: bool = True) -> Iterator[Row]:
    """Every data row of a delimited file, parsed: the header checked against ``fields`` (when
    the format has one), blank lines skipped, each row split into exactly ``fields`` and given to
    ``parse(lineno, values)``; a row that fails either (DataFormatError) is raised, or with
    ``--skip-bad-rows`` counted and skipped."""
    for lineno, line in iter_lines(path):
        if header and lineno == 1:
            check_header(path, line, sep, fields)
            continue
        if not line.strip():
            continue
        try:
            row = parse(lineno, split_fields(path, lineno, line, sep, fields))
        except DataFormatError as e:
            opts.bad_row(e)
            continue
        yield row


_INT64 = 2**63 - 1


def parse_int(path: Path, lineno: int, field_name: str, value: str) -> int:
    """``value`` as a 64-bit integer; a DataFormatError naming the file, line and field otherwise."""
    try:
        n = int(value)
    except ValueError:
        raise DataFormatError(
            path, f"expected an integer, found {value[:40]!r}", line=lineno, field=field_name
        ) from None
    if not -_INT64 <= n <= _INT64:
        raise DataFormatError(path, f"integer {value[:40]!r} is out of the 64-bit range", line=lineno,
                              field=field_name)
    return n


def parse_float(path: Path, lineno: int, field_name: str, value: str) -> float:
    """``value`` as a finite float; a DataFormatError naming the file, line and field otherwise."""
    try:
        x = float(value)
    except ValueError:
        raise DataFormatError(
            path, f"expected a number, found {value[:40]!r}", line=lineno, field=field_name
        ) from None
    if not math.isfinite(x):
        raise DataFormatError(path, f"expected a finite number, found {value[:40]!r}", line=lineno,
                              field=field_name)
    return x


def check_header(path: Path, first: str, sep: str, expected: tuple[str, ...]) -> None:
    """Raise DataFormatError unless the first line's columns (case-insensitive) are exactly ``expected``."""
    got = tuple(f.strip().lower() for f in first.split(sep))
    if got != expected:
        raise DataFormatError(
            path,
            f"unexpected header {first[:120]!r}; expected {sep.join(expected)!r}",
            line=1,
            hint="check --format; this reader expects the original column layout",
        )


class SessionBuilder:
    """Collects (session key, time, item) events and returns time-ordered sessions."""

    def __init__(self) -> None:
        self._events: dict[object, list[tuple[float, int, str]]] = {}
        self._ids: dict[str, str] = {}  # one str object per distinct item id
        self._n = 0

    def add(self, key: object, time: float, item: str) -> None:
        item = self._ids.setdefault(item, item)
        self._events.setdefault(key, []).append((time, self._n, item))
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def build(self, source: dict, *, has_clock: bool = True) -> RawSessions:
        """Sessions ordered by end time (ties: first appearance); clicks by time, then file order."""
        rows = []
        for events in self._events.values():
            events.sort()
            rows.append((events[-1][0], events[0][1], [e[2] for e in events]))
        rows.sort(key=lambda r: (r[0], r[1]))
        source = dict(source, events=self._n, sessions=len(rows))
        return RawSessions(
            sessions=[r[2] for r in rows],
            end_times=[r[0] for r in rows] if has_clock else None,
            source=source,
        )
