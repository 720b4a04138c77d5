"""Artifact families: one elastic run frozen at several budgets (``odtool freeze --budgets``).

A family is a directory holding one normal artifact per budget (``FAMILY/<label>/``, each
checksummed, exportable and size-gated on its own) and ``family.json``, which lists them with
their budget, bytes, cut and validation metrics (``odtool export FAMILY --profile NAME`` exports
the largest member that fits the profile's budget).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolchain.atomic import atomic_write_json
from toolchain.errors import ArtifactError
from toolchain.versioned import stamped, version_problem

FAMILY_FILE = "family.json"
SCHEMA = "odtool.family"
VERSION = 1


@dataclass(frozen=True)
class Member:
    """One artifact of a family."""

    name: str
    path: Path
    budget_bytes: int
    deployed_bytes: int
    cut: dict[str, Any] | None


def is_family(path: str | Path) -> bool:
    """Whether ``path`` is a family directory (it holds ``family.json``)."""
    return (Path(path) / FAMILY_FILE).is_file()


def write_family(directory: Path, content: dict[str, Any]) -> None:
    """Write ``family.json`` into ``directory`` (atomically)."""
    atomic_write_json(directory / FAMILY_FILE, stamped(SCHEMA, VERSION, content))


def read_family(path: str | Path) -> list[Member]:
    """The members of the family at ``path``, smallest first; a clear error if the file is not one."""
    path = Path(path)
    f = path / FAMILY_FILE
    try:
        doc = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{f}: not a readable artifact family ({e})",
                            hint="write it again with odtool freeze RUN --budgets ...") from None
    problem = version_problem(doc, SCHEMA, "artifact family", VERSION)
    if problem:
        raise ArtifactError(f"{f}: {problem}", hint="write it again with this odtool: odtool freeze RUN --budgets ...")
    try:
        members = [Member(str(m["name"]), path / str(m["name"]), int(m["budget_bytes"]), int(m["deployed_bytes"]),
                          m.get("cut")) for m in doc["members"]]
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"{f}: a member entry is malformed ({type(e).__name__}: {e})") from None
    return sorted(members, key=lambda m: (m.deployed_bytes, m.name))
