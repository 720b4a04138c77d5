"""Integer code matrices as the artifact stores them: optional bit packing.

A code in [0, K) needs ceil(log2 K) bits. ``pack_codes`` writes the values row-major as
a little-endian bit stream (value i occupies bits [i*b, (i+1)*b)), padded to whole bytes.
"""

from __future__ import annotations

import numpy as np

from toolchain.compression.code_bits import bits_for, smallest_uint
from toolchain.errors import InternalError


def pack_codes(codes: np.ndarray, k: int) -> bytes:
    """Bit-pack non-negative integers < k (any shape, row-major) into bytes."""
    b = bits_for(k)
    flat = np.ascontiguousarray(codes, dtype=np.int64).reshape(-1)
    if flat.size and (flat.min() < 0 or flat.max() >= k):
        raise InternalError(f"codes outside [0, {k})")
    bits = ((flat[:, None] >> np.arange(b, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(bits.reshape(-1), bitorder="little").tobytes()


def unpack_codes(data: bytes, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`pack_codes`; returns the smallest uint dtype for k."""
    b = bits_for(k)
    n = int(np.prod(shape)) if shape else 1
    need = (n * b + 7) // 8
    if len(data) != need:
        raise ValueError(f"expected {need} bytes for {n} codes of {b} bits, found {len(data)}")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[: n * b]
    weights = (1 << np.arange(b, dtype=np.int64))
    values = bits.reshape(n, b).astype(np.int64) @ weights
    return values.astype(smallest_uint(k)).reshape(shape)
