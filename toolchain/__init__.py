"""odtool: on-device session-based recommendation toolchain (EODRec)."""

import logging as _logging

__version__ = "0.1.0"

# executorch imports torchao, which logs a warning for every optional CUDA extension it
# cannot load on a CPU-only machine, and torch's pytree logs a deprecation for one of
# torchao's enums. Neither concerns an odtool user; real errors still surface.
for _name in ("torchao", "torch.utils._pytree"):
    _logging.getLogger(_name).setLevel(_logging.ERROR)
