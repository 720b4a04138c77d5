"""The ``odtool`` command line (Typer)."""
