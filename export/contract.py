"""odtool's side of the inference contract (written in :mod:`export.graphs.base`).

The rules live in :mod:`android_harness.session_contract` (shared with the runners, which
run without odtool); this module turns them into odtool errors and adds what a loader, the
parity check and a device need: the contract an export declares, input checking and the
padding of static exports, and the verification of a file against its ``.report.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from android_harness import session_contract as rules
from toolchain.errors import ArtifactError, ExportError, UsageError
from toolchain.progress import stderr_console


@dataclass(frozen=True)
class InputContract:
    """What an export accepts: items [1, L] with 1 <= L <= max_len (L == max_len when static)."""

    max_len: int
    dynamic: bool

    def check(self, items: Any, lengths: Any) -> None:
        """Raise UsageError unless (items, lengths) is a session this export accepts (before padding)."""
        try:
            rules.check_input(items, lengths, self.max_len)
        except rules.ContractError as e:
            raise UsageError(f"session input refused: {e}") from None

    def prepare(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The checked session as the export takes it: right-padded to [1, max_len] when static."""
        self.check(items, lengths)
        if not self.dynamic and items.shape[1] < self.max_len:
            items = torch.nn.functional.pad(items, (0, self.max_len - items.shape[1]))
        return items, lengths


def session_tensors(sequence: list[int], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """items [1, len] and lengths [1] for a ragged session, keeping its most recent max_len items."""
    tail = rules.trim_recent(sequence, max_len)
    return torch.tensor([tail], dtype=torch.long), torch.tensor([len(tail)], dtype=torch.long)


def contract_of(path: Path, report: dict | None = None) -> InputContract:
    """The contract ``path`` declares (embedded since the contract was written), else its report's."""
    declared = rules.declared_contract(path)
    if declared is not None:
        return InputContract(*declared)
    graph = (report or {}).get("graph") or {}
    if "max_len" in graph:
        return InputContract(int(graph["max_len"]), bool(graph.get("dynamic_length", False)))
    raise ExportError(f"{path} declares no input contract (max length) and has no {Path(rules.report_path(path)).name}",
                      hint="re-export it with `odtool export`")


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
