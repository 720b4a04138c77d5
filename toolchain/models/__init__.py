"""Session recommenders behind one interface (see :mod:`toolchain.models.base`)."""

# Importing the model modules registers them in MODELS.
from toolchain.models import gru4rec, narm, sasrec, srgnn, stamp  # noqa: E402,F401
