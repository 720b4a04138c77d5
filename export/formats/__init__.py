"""Export formats; importing this package registers each in ``EXPORTERS``."""

from export.formats import executorch, onnx, torchscript  # noqa: F401
