"""odtool: on-device session-based recommendation toolchain (EODRec)."""

__version__ = "0.1.0"
