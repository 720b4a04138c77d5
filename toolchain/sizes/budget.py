"""Size budgets: parse "2MiB"-style sizes, find budgets in pyproject.toml, check files.

``pyproject.toml``::

    [tool.odtool.size-budget]
    "demo-out/export/*.pte" = "1MiB"     # glob, relative to the pyproject's directory
    "*.onnx" = "2MiB"                     # or matched against the file name alone

The first matching pattern (in file order) gives a file its budget.

Before a path is measured it is verified, and a path that fails is refused (ArtifactError):

* an artifact directory must load (:meth:`toolchain.artifact.bundle.Bundle.load`: the
  manifest parses, every part is present with its size and sha256); its size is the
  manifest plus its parts, nothing else in the directory (not ``.tmp-*`` / ``.staging``
  leftovers, not the ``export/`` directory ``odtool export`` writes there by default);
* an export (``.pte`` / ``.ptl`` / ``.onnx``) must match the sha256 in its
  ``<file>.report.json``; one without a report is measured and flagged ``unverified``.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from toolchain.sizes.parts import file_size, largest_parts
from toolchain.sizes.units import human, parse_size
from toolchain.errors import BudgetExceededError, ConfigError, UsageError
from toolchain.formats import SUFFIXES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or its parents, or None."""
    for d in [start.resolve(), *start.resolve().parents]:
        if (d / "pyproject.toml").is_file():
            return d / "pyproject.toml"
    return None


def load_budgets(pyproject: Path) -> list[tuple[str, int]]:
    """(pattern, bytes) from ``[tool.odtool.size-budget]``, in file order."""
    try:
        data = tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{pyproject}: invalid TOML ({e})") from e
    table = data.get("tool", {}).get("odtool", {}).get("size-budget", {})
    problems, out = [], []
    for pattern, value in table.items():
        try:
            out.append((pattern, parse_size(value)))
        except UsageError as e:
            problems.append(f"[tool.odtool.size-budget] {pattern!r}: {e.message}")
    if problems:
        raise ConfigError(problems, source=str(pyproject))
    return out


EXPORT_SUFFIXES = SUFFIXES


@dataclass
class SizeCheck:
    """One file's size check: its ``path``, ``size``, ``budget`` (None: none), the budget's
    ``source`` and how the file was ``verified``."""
    path: Path
    size: int
    budget: int | None
    source: str  # where the budget came from
    verified: str = "-"  # "manifest ok", "sha256 ok", "unverified (no report)" or "-" (other files)

    @property
    def over(self) -> bool:
        return self.budget is not None and self.size > self.budget

    @property
    def headroom(self) -> int | None:
        return None if self.budget is None else self.budget - self.size

    def largest_parts(self, top: int = 5) -> list[tuple[str, int]]:
        return largest_parts(self.path, top)


def check_sizes(paths: list[Path], budget: int | None = None, pyproject: Path | None = None,
                source: str = "--budget") -> list[SizeCheck]:
    """Size and budget of every path; ``budget`` (from ``source``: --budget, a profile) overrides pyproject's."""
    rules: list[tuple[str, int]] = []
    root = Path.cwd()
    if budget is None:
        pyproject = pyproject or find_pyproject(Path.cwd())
        if pyproject is not None:
            rules = load_budgets(pyproject)
            root = pyproject.parent
    out = []
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
        size, verified = verified_size(p)
        if budget is not None:
            out.append(SizeCheck(p, size, budget, source, verified))
            continue
        rel = _relative(p, root)
        match = next(((pat, b) for pat, b in rules
                      if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(p.name, pat)), None)
        out.append(SizeCheck(p, size, match[1] if match else None,
                             f"pyproject: {match[0]}" if match else "no budget", verified))
    return out


def require_within_budget(checks: list[SizeCheck]) -> None:
    """The size gate: BudgetExceededError naming every path over its budget; UsageError when
    no budget applied to any path."""
    over = [c for c in checks if c.over]
    if over:
        names = ", ".join(f"{c.path} ({human(c.size)} > {human(c.budget)})" for c in over)
        raise BudgetExceededError(f"{len(over)} artifact(s) over budget: {names}")
    if all(c.budget is None for c in checks):
        raise UsageError("no budget applies to any of these files",
                         hint="pass --budget 2MiB or add [tool.odtool.size-budget] to pyproject.toml")


def verified_size(path: Path) -> tuple[int, str]:
    """(bytes, how it was verified) of an artifact directory or a file; ArtifactError if it fails."""
    if path.is_dir():
        from toolchain.artifact.bundle import Bundle

        bundle = Bundle.load(path)  # the manifest parses; every part present, with its size and sha256
        size = (path / "manifest.json").stat().st_size + sum(int(p["bytes"]) for p in bundle.parts.values())
        return size, "manifest ok"
    if path.suffix.lower() in EXPORT_SUFFIXES:
        from toolchain.contract import verify_export

        report = verify_export(path)
        return path.stat().st_size, "sha256 ok" if report is not None else "unverified (no report)"
    return path.stat().st_size, "-"


def _relative(p: Path, root: Path) -> str:
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.as_posix()
