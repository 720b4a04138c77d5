"""Tmall (IJCAI-15 repeat-buyers) ``user_log_format1.csv``.

Layout: ``user_id,item_id,cat_id,seller_id,brand_id,time_stamp,action_type`` with a
header; ``time_stamp`` is ``mmdd`` of 2015, ``action_type`` 0 click, 1 add-to-cart,
2 purchase, 3 favourite. The log has no finer clock, so a session is one user's events
of one day, in file order (the convention of the session-based literature on Tmall).
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

FIELDS = ("user_id", "item_id", "cat_id", "seller_id", "brand_id", "time_stamp", "action_type")


def _day(path: Path, lineno: int, mmdd: int) -> float:
    try:
        return dt.datetime(2015, mmdd // 100, mmdd % 100, tzinfo=dt.timezone.utc).timestamp()
    except (ValueError, OverflowError):
        raise DataFormatError(path, f"expected a date as mmdd, found {mmdd}", line=lineno,
                              field="time_stamp") from None


def read(path: Path, opts: ReadOptions) -> RawSessions:
    """RawSessions from user_log_format1.csv: one session per user and day, of the chosen actions."""
    builder = SessionBuilder()
    days: dict[int, float] = {}

    def parse(lineno: int, row: list[str]) -> tuple[str, str, int, float, int]:
        user, item, _c, _s, _b, stamp, action = row
        parse_int(path, lineno, "user_id", user)
        parse_int(path, lineno, "item_id", item)
        mmdd = parse_int(path, lineno, "time_stamp", stamp)
        act = parse_int(path, lineno, "action_type", action)
        day = days.get(mmdd)
        if day is None:
            day = days[mmdd] = _day(path, lineno, mmdd)
        return user, item, mmdd, day, act

    for user, item, mmdd, day, act in read_rows(path, opts, ",", FIELDS, parse):
        if act not in opts.tmall_actions:
            continue
        builder.add((user, mmdd), day, item)
    return builder.build({"format": "tmall", "path": str(path),
                          "actions": list(opts.tmall_actions)})


register(Reader(
    name="tmall",
    description="Tmall IJCAI-15 user_log_format1.csv (user_id,item_id,...,time_stamp,action_type)",
    read=read,
    sniff=lambda path, first: first.lower().startswith("user_id,item_id,cat_id,seller_id"),
))
