"""Storage dtypes for float parts (codebooks): fp32, fp16, or int8 with a per-row scale.

int8 is symmetric per row (a codeword vector): scale = max|row| / 127, q = round(row / scale).
"""

from __future__ import annotations

from enum import Enum

import numpy as np


class FloatStorage(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"


def quantize(x: np.ndarray, storage: FloatStorage) -> dict[str, np.ndarray]:
    """Arrays to store for ``x`` [..., N]: {'values'} or {'values', 'scales'}."""
    x = np.asarray(x, dtype=np.float32)
    if storage == FloatStorage.fp32:
        return {"values": x}
    if storage == FloatStorage.fp16:
        return {"values": x.astype(np.float16)}
    amax = np.abs(x).max(axis=-1, keepdims=True)
    scales = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scales), -127, 127).astype(np.int8)
    return {"values": q, "scales": scales}


def dequantize(stored: dict[str, np.ndarray]) -> np.ndarray:
    values = stored["values"]
    if values.dtype == np.int8:
        return values.astype(np.float32) * stored["scales"]
    return values.astype(np.float32)
