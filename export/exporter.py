"""The exporter interface and registry: one module per format registers itself here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from export.graphs.base import InferenceGraph

if TYPE_CHECKING:
    from export.contract import InputContract
from toolchain.registry import Registry


class LoadedModel(ABC):
    """An exported file loaded in its real runtime, callable like the eager graph."""

    @abstractmethod
    def __call__(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(scores [k], indices [k]) for one padded session."""


class ContractModel(LoadedModel):
    """A loaded export that refuses what its contract refuses, the same way in every format."""

    def __init__(self, inner: LoadedModel, contract: "InputContract") -> None:
        self.inner, self.contract = inner, contract

    def __call__(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        return self.inner(*self.contract.prepare(items, lengths))


class Exporter(ABC):
    """Base export format: write an inference graph to a file, load it back behind its contract."""
    name: str = ""
    suffix: str = ""
    #: whether the graph may use odtool's custom kernels (only ExecuTorch can)
    supports_odtool_kernels: bool = False

    @abstractmethod
    def export(self, graph: InferenceGraph, out: Path) -> bool:
        """Write ``graph`` to ``out`` (atomically); True when the session length is dynamic."""

    def load(self, path: Path, contract: "InputContract | None" = None) -> LoadedModel:
        """Load ``path`` in the format's runtime, behind the inference contract (export.graphs.base).

        Without ``contract`` the file is first verified against the sha256 in its
        ``.report.json`` (a mismatch raises ArtifactError; no report: a warning) and the
        contract is the one the file declares (else its report's). ``contract`` is given
        for a file just written, before it has a report (the export's parity check).
        Every call checks its session (UsageError before the runtime runs) and pads it
        to [1, max_len] for a static export."""
        from export.contract import contract_of, verify_export

        path = Path(path)
        if contract is None:
            contract = contract_of(path, verify_export(path))
        return ContractModel(self._load(path), contract)

    @abstractmethod
    def _load(self, path: Path) -> LoadedModel:
        """Load ``path`` in the format's runtime (no checks)."""

    @abstractmethod
    def runtime_versions(self) -> dict[str, str]:
        """Versions of the libraries the export and its check used."""


EXPORTERS: Registry[type[Exporter]] = Registry("export format")


def length_dim(graph: InferenceGraph):
    """torch.export's dynamic dimension for the items' length (1..max_len)."""
    from torch.export import Dim

    return Dim("session_length", min=1, max=graph.options.max_len)

