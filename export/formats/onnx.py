"""ONNX ``.onnx`` (opset 18), validated with ``onnx.checker`` and run in onnxruntime."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from toolchain.session_contract import ONNX_DYNAMIC, ONNX_MAX_LEN
from export.exporter import EXPORTERS, Exporter, LoadedModel
from export.graphs.base import InferenceGraph
from toolchain.atomic import atomic_write_bytes
from toolchain.errors import ExportError
from toolchain.formats import Format

OPSET = 18


class _OrtModel(LoadedModel):
    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ExportError(f"{path}: onnxruntime cannot load this model ({e})") from e
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        feeds = dict(zip(self.inputs, (items.numpy(), lengths.numpy())))
        values, indices = self.session.run(None, feeds)
        return values, indices


@EXPORTERS.register(Format.onnx.value)
class OnnxExporter(Exporter):
    """Export to ONNX (TorchScript exporter), checked by onnx.checker, run with onnxruntime."""
    name = Format.onnx.value
    suffix = Format.onnx.suffix

    def export(self, graph: InferenceGraph, out: Path) -> bool:
        import onnx

        buf = io.BytesIO()
        dynamic = graph.options.dynamic_length
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(graph, graph.example_inputs(), buf, input_names=["items", "lengths"],
                                  output_names=["scores", "indices"], opset_version=OPSET, dynamo=False,
                                  # folding would widen stored int8 / uint8 constants into the file
                                  do_constant_folding=graph.fold_constants,
                                  dynamic_axes={"items": {1: "session_length"}} if dynamic else None)
        except Exception as e:
            raise ExportError(f"ONNX export failed: {type(e).__name__}: {e}") from e
        model = onnx.load_from_string(buf.getvalue())
        # the inference contract, declared in the file (dims cannot carry an upper bound)
        for key, value in ((ONNX_MAX_LEN, str(graph.options.max_len)), (ONNX_DYNAMIC, str(dynamic).lower())):
            model.metadata_props.add(key=key, value=value)
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:
            raise ExportError(f"the exported ONNX model fails onnx.checker: {e}") from e
        atomic_write_bytes(out, model.SerializeToString())
        return dynamic

    def _load(self, path: Path) -> LoadedModel:
        return _OrtModel(path)

    def runtime_versions(self) -> dict[str, str]:
        import onnx
        import onnxruntime

        return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                "opset": str(OPSET)}
