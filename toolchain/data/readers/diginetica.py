"""Diginetica (CIKM Cup 2016) ``train-item-views.csv``.

Layout: ``session_id;user_id;item_id;timeframe;eventdate`` with a header row.
``eventdate`` (YYYY-MM-DD) dates the session, ``timeframe`` (ms) orders its clicks, as in
the SR-GNN preprocessing.
"""

from __future__ import annotations

import datetime as dt
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

FIELDS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")


def read(path: Path, opts: ReadOptions) -> RawSessions:
    """RawSessions from train-item-views.csv, grouped by session id."""
    builder = SessionBuilder()
    dates: dict[str, float] = {}

    def parse(lineno: int, row: list[str]) -> tuple[str, float, str]:
        sid, _user, item, timeframe, date = row
        parse_int(path, lineno, "session_id", sid)
        parse_int(path, lineno, "item_id", item)
        frame = parse_int(path, lineno, "timeframe", timeframe)
        day = dates.get(date)
        if day is None:
            try:
                day = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp()
            except ValueError:
                raise DataFormatError(path, f"expected a date YYYY-MM-DD, found {date[:20]!r}",
                                      line=lineno, field="eventdate") from None
            dates[date] = day
        # The date orders sessions; timeframe (ms, < 1 day in practice) orders clicks.
        return sid, day + frame / 1000.0, item

    for sid, t, item in read_rows(path, opts, ";", FIELDS, parse):
        builder.add(sid, t, item)
    return builder.build({"format": "diginetica", "path": str(path)})


register(Reader(
    name="diginetica",
    description="Diginetica train-item-views.csv (session_id;user_id;item_id;timeframe;eventdate)",
    read=read,
    sniff=lambda path, first: first.lower().startswith("session_id;user_id;item_id"),
))
