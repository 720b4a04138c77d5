"""Progress reporting with rich, shared by every long-running step.

Bars go to stderr so stdout stays clean for tables and JSON. ``set_quiet(True)`` (the
CLI's ``--quiet``) turns them off; tests run quiet.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_state = {"quiet": bool(os.environ.get("ODTOOL_QUIET"))}
stderr_console = Console(stderr=True)


def set_quiet(quiet: bool) -> None:
    """Turn progress bars and notes off (True) or back on (False)."""
    _state["quiet"] = quiet


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """No progress bars or notes inside the block (as with ``--quiet``); the setting is restored after."""
    before = _state["quiet"]
    _state["quiet"] = True
    try:
        yield
    finally:
        _state["quiet"] = before


def is_quiet() -> bool:
    """Whether progress output is off: by ``set_quiet`` / ``$ODTOOL_QUIET``, and always under pytest."""
    return _state["quiet"] or "pytest" in sys.modules


@contextlib.contextmanager
def progress(transient: bool = False) -> Iterator[Progress | None]:
    """A rich Progress on stderr, or ``None`` when quiet (callers must accept both)."""
    if is_quiet():
        yield None
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr_console,
        transient=transient,
    )
    with bar:
        yield bar


class Task:
    """A handle that is a no-op when progress is off, so loops need no ``if``."""

    def __init__(self, bar: Progress | None, description: str, total: float | None) -> None:
        self._bar = bar
        self._id = bar.add_task(description, total=total, status="") if bar else None

    def advance(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._id, n)

    def update(self, *, completed: float | None = None, status: str | None = None,
               total: float | None = None) -> None:
        if self._bar is None:
            return
        kw = {}
        if completed is not None:
            kw["completed"] = completed
        if status is not None:
            kw["status"] = status
        if total is not None:
            kw["total"] = total
        self._bar.update(self._id, **kw)


def info(message: str) -> None:
    """A one-line note on stderr (suppressed when quiet)."""
    if not is_quiet():
        stderr_console.print(message, highlight=False)
