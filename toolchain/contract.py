"""The inference contract's file checks as odtool errors, below every package that reads an export.

The rules live in :mod:`toolchain.session_contract` (shared with the runners, which run
without odtool); this module turns the check of a file against its ``.report.json`` into an
:class:`ArtifactError`, for the size gate (:mod:`toolchain.sizes.budget`), the exporters
and the devices. :mod:`export.contract` adds what needs torch: input checking and padding.
"""

from __future__ import annotations

from pathlib import Path

from toolchain import session_contract as rules
from toolchain.errors import ArtifactError
from toolchain.progress import stderr_console


def verify_export(path: str | Path, *, require_report: bool = False) -> dict | None:
    """Check ``path`` against the sha256 in its ``.report.json``; return the report.

    A mismatch raises ArtifactError naming the file and the fix. A file without a report
    cannot be verified: a warning (or ArtifactError with ``require_report``); returns None."""
    path = Path(path)
    try:
        report = rules.read_report(path)
    except rules.ContractError as e:
        raise ArtifactError(str(e)) from None
    if report is None:
        msg = f"{path} has no {path.name}{rules.REPORT_SUFFIX}, so its integrity cannot be verified"
        if require_report:
            raise ArtifactError(msg, hint="re-export it with `odtool export`, which writes the report")
        stderr_console.print(f"[yellow]warning:[/] {msg}", highlight=False)  # not muted by --quiet
        return None
    problem = rules.file_problem(path, report["sha256"])
    if problem:
        raise ArtifactError(problem)
    return report
