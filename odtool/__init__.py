"""odtool's top floor: the command line (:mod:`odtool.cli`) and the public Python API (:mod:`odtool.api`).

The work is done below: ``android_harness`` (devices, the bench), ``export`` (exporters,
inference graphs) and ``toolchain`` (data, models, compression, training, artifacts).
"""

from toolchain import __version__

__all__ = ["__version__"]
