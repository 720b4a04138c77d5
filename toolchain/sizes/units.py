"""Sizes as people write them ("2MiB", "1.5 MB", "300KiB") and as odtool prints them."""

from __future__ import annotations

import re

from toolchain.errors import UsageError

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Bytes from '2MiB', '1.5 MB', '300KiB', '4096' (KiB/MiB binary, KB/MB decimal)."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise UsageError(f"cannot read the size {text!r}",
                         hint="write it like 2MiB, 512KiB, 1.5MB or a plain byte count")
    return int(float(m.group(1)) * _UNITS[unit])


def human(n: float) -> str:
    """Format a byte count in binary units: "512 B", "1.50 KiB", ... up to GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"
