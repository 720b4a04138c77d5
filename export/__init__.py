"""Exporters (ExecuTorch, TorchScript-lite, ONNX), inference graphs and odtool's kernels."""
