"""Storage dtypes for float parts (codebooks, encoder matrices): fp32, fp16, int8 with a
per-row scale, or (encoder matrices, codebooks) int4 with a per-row scale.

int8 is symmetric per row (a codeword vector, a weight matrix's output row):
scale = max|row| / 127, q = round(row / scale). int4 is the same rule with 7 for 127, q in
-7..7, stored as q + 8 in nibbles, two per byte (column 2j in the low nibble of byte j, 2j+1 in
the high one): a uint8 array [..., N / 2] beside its scales. Quantizing a dequantized array
again gives the same values (the row maximum maps back to 127 or 7), so freezing is idempotent.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from toolchain.compression.storage import storage_for_width


class FloatStorage(str, Enum):
    """How float parts are stored: fp32, fp16, int8 or int4 (matrices and codebooks) with a per-row scale."""
    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"
    int4 = "int4"


#: what ``odtool freeze --codebook-dtype`` may store the paper's (compositional) codebooks as (a
#: deployable student's codebooks, which may also be int4, keep the storage they trained with)
PAPER_CODEBOOK_STORAGES = (FloatStorage.fp32, FloatStorage.fp16, FloatStorage.int8)
INT4_TOP = 7


def pack_int4(q: np.ndarray) -> np.ndarray:
    """int values in -7..7 [..., N] (N even) -> uint8 [..., N / 2], two nibbles (q + 8) a byte."""
    u = (q.astype(np.int16) + 8).astype(np.uint8)
    return (u[..., 0::2] | (u[..., 1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_int4`: int8 values [..., 2 * N / 2]."""
    lo = (packed & 0x0F).astype(np.int8) - 8
    hi = (packed >> 4).astype(np.int8) - 8
    return np.stack([lo, hi], axis=-1).reshape(*packed.shape[:-1], 2 * packed.shape[-1])


def quantize(x: np.ndarray, storage: FloatStorage) -> dict[str, np.ndarray]:
    """Arrays to store for ``x`` [..., N]: {'values'} or {'values', 'scales'}."""
    x = np.asarray(x, dtype=np.float32)
    if storage == FloatStorage.fp32:
        return {"values": x}
    if storage == FloatStorage.fp16:
        return {"values": x.astype(np.float16)}
    if storage == FloatStorage.int4 and x.shape[-1] % 2:
        raise ValueError(f"int4 storage packs pairs of columns; a last dimension of {x.shape[-1]} is odd")
    top = INT4_TOP if storage == FloatStorage.int4 else 127
    amax = np.abs(x).max(axis=-1, keepdims=True)
    scales = np.where(amax > 0, amax / np.float32(top), 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scales), -top, top).astype(np.int8)
    if storage == FloatStorage.int4:
        return {"values": pack_int4(q), "scales": scales}
    return {"values": q, "scales": scales}


def dequantize(stored: dict[str, np.ndarray]) -> np.ndarray:
    """The fp32 array back from what :func:`quantize` stored (int8 values, or int4 pairs packed
    in uint8, times their row scales)."""
    values = stored["values"]
    if values.dtype == np.int8:
        return values.astype(np.float32) * stored["scales"]
    if values.dtype == np.uint8 and stored.get("scales") is not None:
        return unpack_int4(values).astype(np.float32) * stored["scales"]
    return values.astype(np.float32)


SCALE_SUFFIX = ".__scale"


def quantize_matrices(tensors: dict[str, np.ndarray], storage: FloatStorage) -> dict[str, np.ndarray]:
    """Weight-only storage of a state dict: float matrices (>= 2-D) as ``storage`` (an int8 or
    int4 one gets ``NAME.__scale`` beside it; int4 matrices of an odd width are stored int8);
    vectors, integers and scalars unchanged."""
    out: dict[str, np.ndarray] = {}
    for name, x in tensors.items():
        if storage == FloatStorage.fp32 or x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
            out[name] = x
            continue
        q = quantize(x, FloatStorage(storage_for_width(storage.value, x.shape[-1])))
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
