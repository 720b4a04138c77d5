"""How many bits an integer code needs: ceil(log2 K), and the smallest unsigned dtype holding it."""

from __future__ import annotations

import math

import numpy as np

from toolchain.errors import InternalError


def bits_for(k: int) -> int:
    """Bits needed for values in [0, k): ceil(log2 k), at least 1."""
    if k < 1:
        raise InternalError(f"K must be >= 1, got {k}")
    return max(1, math.ceil(math.log2(k)))


def smallest_uint(k: int) -> np.dtype:
    """The smallest unsigned dtype holding values in [0, k)."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if k - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise InternalError(f"K={k} does not fit in 32 bits")


def eq13_ratio(n_items: int, dim: int, m: int, k: int) -> float:
    """EODRec Eq. (13), the paper's compression rate counting every stored number as one unit:
    |V| N / (M K N + M |V|)."""
    return n_items * dim / (m * k * dim + m * n_items)
