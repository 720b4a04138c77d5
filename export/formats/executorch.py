"""ExecuTorch ``.pte``: torch.export -> edge -> XNNPACK partitioner -> ExecuTorch program.

Delegable ops (linear, matmul, softmax, adds...) go to XNNPACK; the rest runs on ExecuTorch's
portable / optimized kernels, or on odtool's ``code_topk`` kernel for code students built
with ``kernels=odtool``. The program runs in the Python runtime (checked here) and in the
C++ runtime the wheel ships (android_harness/runner).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from toolchain.session_contract import PTE_DYNAMIC, PTE_MAX_LEN
from export.exporter import EXPORTERS, Exporter, LoadedModel, length_dim
from export.graphs.base import InferenceGraph
from toolchain.atomic import atomic_write_bytes
from toolchain.errors import ExportError
from toolchain.formats import Format
from toolchain.native_stderr import captured_native_stderr

from export.kernels import OP_MARKER as ODTOOL_OP_MARKER


class _PteModel(LoadedModel):
    def __init__(self, path: Path) -> None:
        from executorch.runtime import Runtime

        if ODTOOL_OP_MARKER in path.read_bytes():
            from export.kernels.build import load

            load()
        self.path = path
        with captured_native_stderr() as log:
            try:
                self.method = Runtime.get().load_program(str(path)).load_method("forward")
            except Exception as e:
                raise ExportError(f"{path}: the ExecuTorch runtime cannot load this program ({e})"
                                  + _runtime_log(log())) from e

    def __call__(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with captured_native_stderr() as log:  # XNNPACK's CPU probing logs on first use
            try:
                values, indices = self.method.execute([items, lengths])
            except Exception as e:
                raise ExportError(f"{self.path}: the ExecuTorch runtime failed on a session ({e})"
                                  + _runtime_log(log())) from e
        return values.numpy(), indices.numpy()


def _runtime_log(text: str) -> str:
    lines = [ln for ln in text.splitlines() if "cpuinfo" not in ln]
    checks = [ln for ln in lines if "Check failed" in ln or "Missing operator" in ln]  # the cause
    lines = checks + [ln for ln in lines[-6:] if ln not in checks]
    return ("\n  runtime log:\n    " + "\n    ".join(lines)) if lines else ""


@EXPORTERS.register(Format.executorch.value)
class ExecuTorchExporter(Exporter):
    """Export to ExecuTorch (.pte): torch.export lowered to XNNPACK; odtool kernels allowed."""
    name = Format.executorch.value
    suffix = Format.executorch.suffix
    supports_odtool_kernels = True

    def export(self, graph: InferenceGraph, out: Path) -> bool:
        dynamic = graph.options.dynamic_length
        if dynamic:
            try:
                program = self._lower(graph, dynamic=True)
            except Exception:  # e.g. nn.GRU: torch.export unrolls it for one length
                dynamic, program = False, None
        if not dynamic:
            try:
                program = self._lower(graph, dynamic=False)
            except Exception as e:
                raise ExportError(f"ExecuTorch lowering failed: {type(e).__name__}: {e}") from e
        atomic_write_bytes(out, program.buffer)
        return dynamic

    @staticmethod
    def _lower(graph: InferenceGraph, dynamic: bool):
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower

        shapes = ({1: length_dim(graph)}, None) if dynamic else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch pytree deprecations in executorch
            warnings.filterwarnings("ignore", message="The tensor attributes .*_flat_weights")  # nn.GRU
            ep = torch.export.export(graph, graph.example_inputs(), dynamic_shapes=shapes)
            edge = to_edge_transform_and_lower(
                ep, partitioner=[XnnpackPartitioner()],
                # the inference contract, declared in the program as two constant methods
                constant_methods={PTE_MAX_LEN: graph.options.max_len, PTE_DYNAMIC: dynamic},
                # odtool::code_topk is not an ATen op, so the edge dialect check must allow it
                compile_config=EdgeCompileConfig(_check_ir_validity=not getattr(graph, "use_kernel", False)))
            return edge.to_executorch()

    def _load(self, path: Path) -> LoadedModel:
        return _PteModel(path)

    def runtime_versions(self) -> dict[str, str]:
        from executorch.version import __version__

        return {"torch": torch.__version__, "executorch": __version__}
