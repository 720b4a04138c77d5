"""Storage dtypes for float parts (codebooks, encoder matrices): fp32, fp16, or int8 with a
per-row scale.

int8 is symmetric per row (a codeword vector, a weight matrix's output row):
scale = max|row| / 127, q = round(row / scale). Quantizing a dequantized array again gives
the same values (the row maximum maps back to 127), so freezing is idempotent.
"""

from __future__ import annotations

from enum import Enum

import numpy as np


class FloatStorage(str, Enum):
    """How float parts are stored: fp32, fp16, or int8 with a per-row scale."""
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
    """The fp32 array back from what :func:`quantize` stored (int8 values times their row scales)."""
    values = stored["values"]
    if values.dtype == np.int8:
        return values.astype(np.float32) * stored["scales"]
    return values.astype(np.float32)


SCALE_SUFFIX = ".__scale"


def quantize_matrices(tensors: dict[str, np.ndarray], storage: FloatStorage) -> dict[str, np.ndarray]:
    """Weight-only storage of a state dict: float matrices (>= 2-D) as ``storage`` (an int8
    one gets ``NAME.__scale`` beside it); vectors, integers and scalars unchanged."""
    out: dict[str, np.ndarray] = {}
    for name, x in tensors.items():
        if storage == FloatStorage.fp32 or x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
            out[name] = x
            continue
        q = quantize(x, storage)
        out[name] = q["values"]
        if "scales" in q:
            out[name + SCALE_SUFFIX] = q["scales"]
    return out


def dequantize_matrices(stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`quantize_matrices`: every float tensor back as fp32."""
    out: dict[str, np.ndarray] = {}
    for name, x in stored.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scales = stored.get(name + SCALE_SUFFIX)
        if scales is not None:
            out[name] = dequantize({"values": x, "scales": scales})
        elif np.issubdtype(x.dtype, np.floating):
            out[name] = x.astype(np.float32)
        else:
            out[name] = x
    return out
