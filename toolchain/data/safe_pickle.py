"""A restricted unpickler for the SR-GNN / DHCN ``train.txt`` / ``test.txt`` pickles.

These files come from strangers. ``pickle.load`` on them can run arbitrary code, so we
never call it. This unpickler refuses every opcode that would look up a global (the only
way a pickle can reach a callable), and the loaded value is then checked to contain
nothing but lists, tuples and ints.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from toolchain.errors import DataFormatError, UnsafeFileError


class _IntListUnpickler(pickle.Unpickler):
    def __init__(self, fh: io.BufferedIOBase, path: Path) -> None:
        super().__init__(fh)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle protocol
        raise UnsafeFileError(
            f"{self._path}: refusing to load: the pickle asks for '{module}.{name}'; "
            "only lists, tuples and ints are allowed in session pickles",
            hint="convert the file to plain text (one session per line) or regenerate it "
            "with plain Python lists of ints",
        )

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102 - pickle protocol
        raise UnsafeFileError(f"{self._path}: refusing to load: the pickle uses persistent ids")


def load_int_lists(path: str | Path) -> Any:
    """Load a pickle that may contain only (nested) lists, tuples and ints."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            value = _IntListUnpickler(fh, path).load()
    except UnsafeFileError:
        raise
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError, KeyError, TypeError, AttributeError,
            OverflowError, MemoryError, RecursionError) as e:  # hostile lengths / opcodes included
        raise DataFormatError(
            path,
            f"not a readable pickle ({type(e).__name__}: {e})",
            hint="SR-GNN files are pickles of (list of sequences, list of targets)",
        ) from e
    _check_only_ints(value, path)
    return value


def _check_only_ints(value: Any, path: Path) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif type(v) is not int:
            raise UnsafeFileError(
                f"{path}: refusing to load: found a {type(v).__name__} ({v!r:.40}); "
                "only lists, tuples and ints are allowed in session pickles"
            )
