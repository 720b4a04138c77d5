"""Item representations behind one interface: full table, compositional codes, tensor trains."""

# Importing the table modules registers them in ITEM_TABLES.
from toolchain.compression import codes, tensor_train  # noqa: E402,F401
