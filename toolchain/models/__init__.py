"""Session recommenders behind one interface (see :mod:`toolchain.models.base`)."""
