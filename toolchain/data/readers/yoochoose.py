"""Yoochoose (RecSys Challenge 2015) ``yoochoose-clicks.dat``.

Layout, no header: ``session,timestamp,item,category`` with ISO-8601 UTC timestamps
(``2014-04-06T20:21:58.444Z``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from toolchain.data.raw import RawSessions
from toolchain.data.readers.base import (
    ReadOptions,
    Reader,
    SessionBuilder,
    parse_int,
    read_rows,
    register,
)
from toolchain.errors import DataFormatError

FIELDS = ("session", "timestamp", "item", "category")
_SNIFF = re.compile(r"^\d+,\d{4}-\d\d-\d\dT[\d:.]+Z?,\d+,")


def parse_iso(path: Path, lineno: int, value: str) -> float:
    """An ISO-8601 time (``Z`` accepted) as a Unix timestamp; DataFormatError otherwise."""
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise DataFormatError(path, f"expected an ISO-8601 time, found {value[:40]!r}",
                              line=lineno, field="timestamp") from None


def read(path: Path, opts: ReadOptions) -> RawSessions:
    """Read a yoochoose-clicks file into RawSessions, grouped by session id and timed by each click."""
    builder = SessionBuilder()

    def parse(lineno: int, row: list[str]) -> tuple[str, float, str]:
        sid, stamp, item, _cat = row
        parse_int(path, lineno, "session", sid)
        parse_int(path, lineno, "item", item)
        return sid, parse_iso(path, lineno, stamp), item

    for sid, t, item in read_rows(path, opts, ",", FIELDS, parse, header=False):
        builder.add(sid, t, item)
    return builder.build({"format": "yoochoose", "path": str(path)})


register(Reader(
    name="yoochoose",
    description="Yoochoose yoochoose-clicks.dat (session,timestamp,item,category; no header)",
    read=read,
    sniff=lambda path, first: bool(_SNIFF.match(first)),
))
