"""Error types.

Two kinds of failure, kept apart on purpose:

* :class:`OdtoolError` and its subclasses are *user* errors: a bad file, a bad flag, a
  missing device. Their message says what is wrong and how to fix it; the CLI prints it
  without a traceback and exits with status 1.
* Anything else (``InternalError``, ``RuntimeError`` from a library, ...) is a broken
  internal assumption and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class OdtoolError(Exception):
    """A user-facing error: the message names the problem and the fix."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(OdtoolError):
    """A flag or argument combination that cannot work."""

    exit_code = 2


class ConfigError(OdtoolError):
    """One or more invalid configuration values (all problems are listed together)."""

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:
            message = f"invalid configuration{where}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"invalid configuration{where} ({len(self.problems)} problems):\n{lines}"
        super().__init__(message)


class DataFormatError(OdtoolError):
    """Malformed input data: names the file, and where known the line and the field."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path + (f", line {line}" if line is not None else "")
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}", hint=hint)


class EmptyDatasetError(OdtoolError):
    """Filtering removed everything; the message says which filter did it."""


class UnsafeFileError(OdtoolError):
    """A file asks for something we refuse to do (e.g. a pickle that builds objects)."""


class CheckpointError(OdtoolError):
    """A checkpoint or run directory that cannot be used (missing, corrupt, wrong shapes)."""


class ArtifactError(OdtoolError):
    """A frozen artifact that fails verification (checksum, schema, missing part)."""


class ExportError(OdtoolError):
    """An export that failed or did not match the eager model."""


class DeviceError(OdtoolError):
    """A device that is missing, unreachable or not provisioned."""


class BudgetExceededError(OdtoolError):
    """An artifact is larger than its size budget."""


class NotBuiltYetError(UsageError):
    """A command the project plans but has not built yet."""


class InternalError(RuntimeError):
    """A broken internal assumption: a bug in odtool, not a user mistake."""
