"""odtool's side of the inference contract (written in :mod:`export.graphs.base`).

The rules live in :mod:`toolchain.session_contract` (shared with the runners, which run
without odtool); this module turns them into odtool errors and adds what a loader, the
parity check and a device need: the contract an export declares, input checking and the
padding of static exports. The verification of a file against its ``.report.json``
(:func:`verify_export`) is :mod:`toolchain.contract`'s, re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from toolchain import session_contract as rules
from toolchain.contract import verify_export
from toolchain.errors import ExportError, UsageError

__all__ = ["InputContract", "contract_of", "session_tensors", "verify_export"]


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
