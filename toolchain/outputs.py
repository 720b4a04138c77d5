"""Output directories: the one rule every command that writes a directory follows.

``odtool data prepare / synth``, ``train``, ``freeze``, ``export``, ``bench`` and ``demo``
all write through :func:`writing`:

1. **One writer at a time.** An exclusive OS file lock (``flock``) is taken on
   ``<parent>/.<name>.lock`` before anything is checked or written; the kernel releases it
   if the process dies. A second writer gets an error naming the holder's pid.
2. **Never destroy what odtool did not write.** A path that does not exist, or an empty
   directory, is claimed. An existing odtool output *of the same kind* is replaced only with
   ``--overwrite``. Anything else is refused with the path and the fix: a file, a non-empty
   directory odtool did not make, an output of another kind, one of the command's inputs, or
   a directory that contains an input.
3. **Staged, then renamed.** Writers stage their output in a private ``.tmp-*`` directory
   beside the destination (:func:`toolchain.atomic.atomic_dir`) and rename it into place only
   when it is complete. Runs are the exception: they are written in place, one atomic file at
   a time, so that an interrupted run resumes (see :mod:`toolchain.training.run_dir`).

How a directory's kind is known: datasets and artifacts by their ``manifest.json`` schema,
runs by their ``config.json`` schema; exports, bench reports and demo directories, which have
no manifest of their own, by a small ``.odtool-output.json`` marker.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path
from typing import Iterator, Sequence

from toolchain.errors import UsageError

MARKER = ".odtool-output.json"
#: kind -> (file, schema) of the directories that describe themselves.
SELF_DESCRIBED = {
    "dataset": ("manifest.json", "odtool.dataset"),
    "artifact": ("manifest.json", "odtool.artifact"),
    "run": ("config.json", "odtool.run"),
    "family": ("family.json", "odtool.family"),
}
MARKED = ("export", "bench", "demo")
KINDS = (*SELF_DESCRIBED, *MARKED)
#: what odtool itself may leave in a directory it did not finish: not the user's files.
_OURS = (".tmp-", ".old-", ".staging", MARKER)


class OutputLockedError(UsageError):
    """Another process is writing the same output."""


def kind_of(path: str | Path) -> str | None:
    """The kind of odtool output ``path`` holds, or None (not a directory, or not odtool's)."""
    path = Path(path)
    if not path.is_dir():
        return None
    marker = path / MARKER
    if marker.is_file():
        try:
            kind = json.loads(marker.read_text()).get("kind")
        except (json.JSONDecodeError, OSError, AttributeError):
            kind = None
        if kind in KINDS:
            return kind
    for kind, (name, schema) in SELF_DESCRIBED.items():
        f = path / name
        if f.is_file():
            try:
                if json.loads(f.read_text()).get("schema") == schema:
                    return kind
            except (json.JSONDecodeError, OSError, UnicodeDecodeError, AttributeError):
                continue
    return _unmarked_kind(path)


#: what an export directory holds besides the exports themselves.
_EXPORT_EXTRAS = (".report.json", ".failed")


def _unmarked_kind(path: Path) -> str | None:
    """Exports and demos written before the marker existed, recognised by their contents."""
    entries = [e for e in path.iterdir() if not e.name.startswith(_OURS)]
    names = {e.name for e in entries}
    if entries and all(e.is_file() for e in entries) and any(n.endswith(".report.json") for n in names) and all(
            n.endswith(_EXPORT_EXTRAS) or n + ".report.json" in names for n in names):
        return "export"
    if "data" in names and kind_of(path / "data") == "dataset" and names <= {"data", "runs", "artifacts",
                                                                               "export", "bench"}:
        return "demo"
    return None


def mark(path: str | Path, kind: str) -> None:
    """Write the marker that makes ``path`` recognisable as odtool's ``kind`` output."""
    if kind not in MARKED:
        raise ValueError(f"{kind} outputs describe themselves; no marker needed")
    from toolchain import __version__
    from toolchain.atomic import atomic_write_json

    atomic_write_json(Path(path) / MARKER, {"kind": kind, "created_by": f"odtool {__version__}"})


def _is_empty(path: Path) -> bool:
    return not any(e for e in path.iterdir() if not e.name.startswith(_OURS))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def claim(path: str | Path, kind: str, *, overwrite: bool = False,
          inputs: Sequence[str | Path | None] = ()) -> bool:
    """Check that ``path`` may receive a new ``kind`` output; True if one is already there.

    Raises :class:`UsageError` (path and fix named) when writing there could lose data."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    path = Path(path)
    target = path.resolve()
    for inp in inputs:
        if inp is None:
            continue
        src = Path(inp).resolve()
        if _within(src, target):
            what = "is" if src == target else "contains"
            raise UsageError(f"--out {path} {what} an input of this command ({inp}): writing there would "
                             "destroy it", hint="choose an --out outside the inputs")
    if not path.exists() and not path.is_symlink():
        return False
    if not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a directory; odtool will not replace it",
                         hint="choose another --out, or remove it yourself")
    if _is_empty(path):
        return False
    found = kind_of(path)
    if found is None:
        raise UsageError(f"--out {path} is a non-empty directory that odtool did not write; odtool will not "
                         "replace it", hint="choose another --out (a new or empty directory)")
    if found != kind:
        raise UsageError(f"--out {path} holds an odtool {found}, not {_a(kind)}; odtool will not replace it",
                         hint="choose another --out")
    if not overwrite:
        raise UsageError(f"--out {path} already holds {_a(kind)}", hint="pass --overwrite to replace it, "
                         "or choose another --out")
    return True


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


@contextlib.contextmanager
def lock(path: str | Path) -> Iterator[Path]:
    """Hold the exclusive write lock of output ``path`` (``<parent>/.<name>.lock``).

    Re-entrant within one process (a command may call another that locks the same path)."""
    path = Path(path)
    lock_path = path.parent.resolve() / f".{path.name}.lock"
    key = str(lock_path)
    if key in _held:
        _held[key] += 1
        try:
            yield lock_path
        finally:
            _held[key] -= 1
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(lock_path, path)
    _held[key] = 1
    try:
        yield lock_path
    finally:
        del _held[key]
        with contextlib.suppress(OSError):
            os.unlink(lock_path)  # still holding it: nobody else can own this inode yet
        os.close(fd)


_held: dict[str, int] = {}


def _acquire(lock_path: Path, path: Path) -> int:
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise OutputLockedError(
                f"{path} is being written by another odtool process"
                + (f" (pid {holder})" if holder else ""),
                hint="wait for it to finish, or choose another --out") from None
        # the previous holder may have unlinked the file between our open and our lock:
        # then we hold a lock nobody else sees, so start again on the current file.
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def writing(path: str | Path, kind: str, *, overwrite: bool = False,
            inputs: Sequence[str | Path | None] = ()) -> Iterator[bool]:
    """Lock ``path`` and claim it for a ``kind`` output (see the module docstring).

    Yields whether an output of that kind is already there (to be replaced)."""
    with lock(path):
        yield claim(path, kind, overwrite=overwrite, inputs=inputs)
