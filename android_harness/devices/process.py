"""Running a runner as a child process: CPU pinning, a hard time limit, readable failures."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Sequence

from toolchain.errors import DeviceError

# The runners' exit codes (runner.cpp, onnx_runner.py).
EXIT_MEANINGS = {2: "usage error", 3: "bad or missing session file", 4: "model load failure",
                 5: "execution failure or unexpected outputs", 6: "could not write the output file"}


def describe_exit(code: int) -> str:
    """Describe an exit code in words: the killing signal's name, or the code and its meaning."""
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}" + (f": {EXIT_MEANINGS[code]}" if code in EXIT_MEANINGS else "")


def stderr_tail(text: str, lines: int = 15) -> str:
    """The end of stderr without ExecuTorch's 'I 00:00...' info lines."""
    kept = [ln for ln in text.splitlines() if not ln.startswith("I ")]
    return "\n".join(kept[-lines:])


def run_runner(cmd: Sequence[str], *, what: str, timeout_s: float, env: dict[str, str] | None = None,
               cores: tuple[int, ...] | None = None, hint: str | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd``, pinned to ``cores`` (``sched_setaffinity`` in the child, like ``taskset -c``).

    The child is the runner (or QEMU) itself, not a wrapper, so the time limit kills the
    process that does the work. Non-zero exits and timeouts raise DeviceError with the
    runner's own message; ExecuTorch's info lines on stderr are shown only on failure.
    """
    preexec = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout_s,
                              preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{what} did not finish within {timeout_s:.0f} s (killed)",
                          hint="use fewer sessions / passes, or raise the time limit") from None
    except OSError as e:
        raise DeviceError(f"{what} could not start: {e}") from e
    if proc.returncode != 0:
        raise DeviceError(f"{what} failed ({describe_exit(proc.returncode)}):\n{stderr_tail(proc.stderr)}",
                          hint=hint)
    return proc
