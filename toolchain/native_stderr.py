"""Capture what native libraries write straight to file descriptor 2.

The ExecuTorch runtime logs CPU probing and kernel checks with ``fprintf(stderr)``, below
Python's ``sys.stderr``. Those lines are noise when things work and the explanation when
they fail, so callers capture them and show them only with an error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Callable, Iterator


@contextlib.contextmanager
def captured_native_stderr() -> Iterator[Callable[[], str]]:
    """Redirect fd 2 to a temp file; yields a function returning what was written so far."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)

        def text() -> str:
            tmp.flush()
            tmp.seek(0)
            return tmp.read().decode("utf-8", errors="replace")

        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
