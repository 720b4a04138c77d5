"""Readers for the session-data formats of the field, registered by name.

Importing this package registers every reader in :data:`READERS`.
"""

from toolchain.data.readers.base import READERS, ReadOptions, Reader, detect_format
from toolchain.data.readers import (  # noqa: F401 - imported for registration
    diginetica,
    plain_text,
    retailrocket,
    srgnn_pickle,
    tmall,
    yoochoose,
)

__all__ = ["READERS", "ReadOptions", "Reader", "detect_format"]
