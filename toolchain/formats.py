"""The export formats, defined once: name and file suffix.

Each layer registers what it does with a format against this one definition: ``export``
its exporter (``export.exporter.EXPORTERS``), ``android_harness`` how each device runs it,
the CLI its choices. Nothing else lists format names or suffixes.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from toolchain.errors import UsageError


class Format(str, Enum):
    """An on-device format odtool exports to and runs."""

    executorch = "executorch"
    torchscript = "torchscript"
    onnx = "onnx"

    @property
    def suffix(self) -> str:
        """The file suffix of an export in this format."""
        return _SUFFIX[self]

    @classmethod
    def of_path(cls, path: str | Path) -> "Format":
        """The format of an export file, from its suffix (UsageError for any other file)."""
        suffix = Path(path).suffix.lower()
        for fmt, s in _SUFFIX.items():
            if s == suffix:
                return fmt
        raise UsageError(f"{path}: unknown artifact type '{suffix}'; valid: {', '.join(sorted(SUFFIXES))}")

    @classmethod
    def parse(cls, name: str) -> "Format":
        """A format from its name (UsageError naming the valid ones)."""
        try:
            return cls(name)
        except ValueError:
            raise UsageError(f"unknown format {name!r}; valid: {', '.join(f.value for f in cls)}") from None


_SUFFIX = {Format.executorch: ".pte", Format.torchscript: ".ptl", Format.onnx: ".onnx"}
#: every export suffix, for callers that sort files by type
SUFFIXES = tuple(_SUFFIX.values())
