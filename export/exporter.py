"""The exporter interface and registry: one module per format registers itself here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch

from export.graphs.base import InferenceGraph
from toolchain.registry import Registry


class LoadedModel(ABC):
    """An exported file loaded in its real runtime, callable like the eager graph."""

    @abstractmethod
    def __call__(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(scores [k], indices [k]) for one padded session."""


class Exporter(ABC):
    name: str = ""
    suffix: str = ""
    #: whether the graph may use odtool's custom kernels (only ExecuTorch can)
    supports_odtool_kernels: bool = False

    @abstractmethod
    def export(self, graph: InferenceGraph, out: Path) -> bool:
        """Write ``graph`` to ``out`` (atomically); True when the session length is dynamic."""

    @abstractmethod
    def load(self, path: Path) -> LoadedModel:
        """Load ``path`` in the format's runtime."""

    @abstractmethod
    def runtime_versions(self) -> dict[str, str]:
        """Versions of the libraries the export and its check used."""


EXPORTERS: Registry[type[Exporter]] = Registry("export format")


def length_dim(graph: InferenceGraph):
    """torch.export's dynamic dimension for the items' length (1..max_len)."""
    from torch.export import Dim

    return Dim("session_length", min=1, max=graph.options.max_len)


def get_exporter(name: str) -> Exporter:
    import export.formats  # noqa: F401 - registers every format

    return EXPORTERS.get(name)()
