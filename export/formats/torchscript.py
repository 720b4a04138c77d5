"""TorchScript-lite ``.ptl`` for the PyTorch Mobile lite interpreter (what the paper deployed).

``optimize_for_mobile`` needs a torch built with XNNPACK; the CPU wheel used here lacks it
and the pass fails, so the export falls back to the unoptimized module with a warning.

Determinism: the same model gives the same bytes from one process to the next. Within one
process a second trace differs (TorchScript numbers traced classes ``___torch_mangle_<n>``
and serialization ids with process-wide counters).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from toolchain.session_contract import PTL_EXTRA
from export.exporter import EXPORTERS, Exporter, LoadedModel
from export.graphs.base import InferenceGraph
from toolchain.atomic import atomic_named_path
from toolchain.errors import ExportError
from toolchain.progress import info
from toolchain.formats import Format


class _LiteModel(LoadedModel):
    def __init__(self, path: Path) -> None:
        from torch.jit.mobile import _load_for_lite_interpreter

        try:
            self.module = _load_for_lite_interpreter(str(path))
        except Exception as e:
            raise ExportError(f"{path}: the lite interpreter cannot load this module ({e})") from e

    def __call__(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            values, indices = self.module(items, lengths)
        return values.detach().numpy(), indices.numpy()


def try_optimize_for_mobile(module: torch.jit.ScriptModule) -> tuple[torch.jit.ScriptModule, str | None]:
    """(optimized module, None) or (the module unchanged, why it could not be optimized)."""
    is_enabled = getattr(torch._C, "_is_xnnpack_enabled", None)
    if is_enabled is not None and not is_enabled():
        return module, "this torch build has no XNNPACK, so optimize_for_mobile is unavailable"
    try:
        from torch.utils.mobile_optimizer import optimize_for_mobile

        return optimize_for_mobile(module), None
    except Exception as e:  # the pass fails in builds without mobile support
        return module, f"optimize_for_mobile failed ({type(e).__name__}: {str(e)[:200]})"


@EXPORTERS.register(Format.torchscript.value)
class TorchScriptExporter(Exporter):
    """Export a traced, mobile-optimised TorchScript module for the lite interpreter (.ptl)."""
    name = Format.torchscript.value
    suffix = Format.torchscript.suffix
    last_warning: str | None = None

    def export(self, graph: InferenceGraph, out: Path) -> bool:
        """Traced for [1, max_len]: TorchScript-lite graphs take padded sessions."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                traced = torch.jit.trace(graph, graph.example_inputs(), check_trace=False)
            # No torch.jit.freeze: it would fold OD-Rec's tensor-train reconstruction into a
            # 20 MB constant, turning it into a different (uncompressed) model.
            traced = traced.eval()
        except Exception as e:
            raise ExportError(f"TorchScript tracing failed: {type(e).__name__}: {e}") from e
        traced, why = try_optimize_for_mobile(traced)
        self.last_warning = why
        if why:
            info(f"[yellow]warning:[/] {why}; exporting the unoptimized module")
        with atomic_named_path(out) as tmp:
            # the inference contract, declared in the archive (extra/odtool_contract.json)
            contract = json.dumps({"max_len": graph.options.max_len, "dynamic_length": False})
            traced._save_for_lite_interpreter(str(tmp), _extra_files={PTL_EXTRA: contract})
        return False

    def _load(self, path: Path) -> LoadedModel:
        return _LiteModel(path)

    def runtime_versions(self) -> dict[str, str]:
        is_enabled = getattr(torch._C, "_is_xnnpack_enabled", lambda: False)
        return {"torch": torch.__version__, "xnnpack": str(bool(is_enabled()))}
