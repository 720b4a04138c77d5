"""RetailRocket, in two layouts.

* ``retailrocket``: the Kaggle ``events.csv`` (``timestamp,visitorid,event,itemid,
  transactionid``, ms timestamps). It has no sessions: a visitor's events are cut into
  sessions by ``session_gap_minutes`` of inactivity (30 by default). Only the events in
  ``event_types`` count (views by default: the paper models browsing).
* ``retailrocket-tsv``: the session-annotated tab-separated file
  (``timestamp user_id item_id session_id``, second timestamps).
"""

from __future__ import annotations

from pathlib import Path

from toolchain.data.raw import RawSessions
from toolchain.data.readers.base import (
    ReadOptions,
    Reader,
    SessionBuilder,
    parse_float,
    parse_int,
    read_rows,
    register,
)

KAGGLE_FIELDS = ("timestamp", "visitorid", "event", "itemid", "transactionid")
TSV_FIELDS = ("timestamp", "user_id", "item_id", "session_id")


def read_kaggle(path: Path, opts: ReadOptions) -> RawSessions:
    """RawSessions from the Kaggle events.csv: the chosen event types, cut per visitor at inactivity gaps."""
    per_visitor: dict[str, list[tuple[float, int, str]]] = {}
    kept = 0

    def parse(lineno: int, row: list[str]) -> tuple[int, float, str, str, str]:
        stamp, visitor, event, item, _tx = row
        t = parse_float(path, lineno, "timestamp", stamp) / 1000.0
        parse_int(path, lineno, "visitorid", visitor)
        parse_int(path, lineno, "itemid", item)
        return lineno, t, visitor, event, item

    for lineno, t, visitor, event, item in read_rows(path, opts, ",", KAGGLE_FIELDS, parse):
        if event not in opts.event_types:
            continue
        per_visitor.setdefault(visitor, []).append((t, lineno, item))
        kept += 1
    gap = opts.session_gap_minutes * 60.0
    builder = SessionBuilder()
    for visitor, events in per_visitor.items():
        events.sort()
        n_session, last = 0, None
        for t, _, item in events:
            if last is not None and t - last > gap:
                n_session += 1
            builder.add((visitor, n_session), t, item)
            last = t
    return builder.build({
        "format": "retailrocket", "path": str(path), "event_types": list(opts.event_types),
        "session_gap_minutes": opts.session_gap_minutes, "events_kept": kept,
    })


def read_tsv(path: Path, opts: ReadOptions) -> RawSessions:
    """RawSessions from the session-annotated RetailRocket TSV, grouped by its session id."""
    builder = SessionBuilder()

    def parse(lineno: int, row: list[str]) -> tuple[str, float, str]:
        stamp, _user, item, sid = row
        t = parse_float(path, lineno, "timestamp", stamp)
        parse_int(path, lineno, "item_id", item)
        parse_int(path, lineno, "session_id", sid)
        return sid, t, item

    for sid, t, item in read_rows(path, opts, "\t", TSV_FIELDS, parse):
        builder.add(sid, t, item)
    return builder.build({"format": "retailrocket-tsv", "path": str(path)})


register(Reader(
    name="retailrocket",
    description="RetailRocket Kaggle events.csv (timestamp,visitorid,event,itemid,transactionid)",
    read=read_kaggle,
    sniff=lambda path, first: first.lower().startswith("timestamp,visitorid,event,itemid"),
))
register(Reader(
    name="retailrocket-tsv",
    description="RetailRocket session-annotated TSV (timestamp user_id item_id session_id)",
    read=read_tsv,
    sniff=lambda path, first: first.lower().split("\t") == list(TSV_FIELDS),
))
