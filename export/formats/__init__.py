"""Export formats; importing this package registers each in ``EXPORTERS``."""

from export.exporter import EXPORTERS, Exporter
from export.formats import executorch, onnx, torchscript  # noqa: F401


def get_exporter(name: str) -> Exporter:
    """A fresh exporter of format ``name`` (executorch, torchscript, onnx)."""
    return EXPORTERS.get(name)()
