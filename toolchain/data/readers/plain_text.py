"""Plain text: one session per line, item ids separated by commas (``12,7,7,31``).

Ids are non-negative integers unless ``--string-ids`` (:attr:`ReadOptions.string_ids`) is given.

There is no clock, so sessions keep file order and the time-based split is unavailable.
"""

from __future__ import annotations

from pathlib import Path

from toolchain.data.raw import RawSessions
from toolchain.data.readers.base import ReadOptions, Reader, iter_lines, register
from toolchain.errors import DataFormatError


def read(path: Path, opts: ReadOptions) -> RawSessions:
    """Read one session per line of comma-separated ids, skipping blanks, comments, bad rows."""
    sessions: list[list[str]] = []
    # One str object per distinct id: a click then costs a list slot, not a string of its own.
    ids: dict[str, str] = {}
    for lineno, line in iter_lines(path):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        items = [ids.setdefault(tok, tok) for tok in map(str.strip, line.split(","))]
        bad = [i for i, tok in enumerate(items) if not tok or any(c.isspace() for c in tok)]
        if bad:
            opts.bad_row(DataFormatError(
                path, f"item {bad[0] + 1} of the session is {items[bad[0]]!r}; expected "
                "comma-separated item ids without spaces inside", line=lineno, field="items"))
            continue
        if not opts.string_ids:
            bad = [i for i, tok in enumerate(items) if not tok.isdecimal()]
            if bad:
                opts.bad_row(DataFormatError(
                    path, f"item {bad[0] + 1} of the session is {items[bad[0]]!r}, not an integer id",
                    line=lineno, field="items",
                    hint="pass --string-ids if your item ids are not integers"))
                continue
        sessions.append(items)
    return RawSessions(sessions=sessions, end_times=None,
                       source={"format": "text", "path": str(path), "sessions": len(sessions)})


register(Reader(
    name="text",
    description="plain text, one session per line, comma-separated item ids",
    read=read,
    # The fallback: anything else that looks like comma-separated tokens.
    sniff=lambda path, first: path.is_file() and ";" not in first and "\t" not in first
    and not first.lower().startswith(("timestamp", "user_id", "session_id")),
))
