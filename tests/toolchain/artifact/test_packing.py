"""Code matrices: smallest dtypes and bit packing; codebook storage dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.artifact.packing import pack_codes, unpack_codes
from toolchain.compression.code_bits import bits_for, smallest_uint
from toolchain.artifact.quantize import FloatStorage, dequantize, quantize


@pytest.mark.parametrize("k,bits,dtype", [(2, 1, np.uint8), (32, 5, np.uint8), (33, 6, np.uint8),
                                          (256, 8, np.uint8), (257, 9, np.uint16), (512, 9, np.uint16)])
def test_bits_and_dtypes(k, bits, dtype):
    assert bits_for(k) == bits and smallest_uint(k) == dtype


@pytest.mark.parametrize("k", [2, 5, 32, 256, 512])
def test_pack_round_trip_and_size(k):
    rng = np.random.default_rng(k)
    codes = rng.integers(0, k, size=(101, 3))
    data = pack_codes(codes, k)
    assert len(data) == (101 * 3 * bits_for(k) + 7) // 8
    back = unpack_codes(data, k, (101, 3))
    assert back.dtype == smallest_uint(k) and np.array_equal(back, codes)


def test_pack_layout_is_little_endian_bitstream():
    # K=4 -> 2 bits: values 1,2,3,0 -> bits 10 01 11 00 (LSB first) -> byte 0b00111001
    assert pack_codes(np.array([1, 2, 3, 0]), 4) == bytes([0b00111001])


def test_unpack_rejects_wrong_length():
    with pytest.raises(ValueError, match="expected 2 bytes"):
        unpack_codes(b"\x00", 32, (3,))


def test_float_storage_errors_are_bounded():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.1, 0.1, size=(8, 64)).astype(np.float32)
    assert np.array_equal(dequantize(quantize(x, FloatStorage.fp32)), x)
    assert np.abs(dequantize(quantize(x, FloatStorage.fp16)) - x).max() < 1e-4
    q = quantize(x, FloatStorage.int8)
    assert q["values"].dtype == np.int8 and q["scales"].shape == (8, 1)
    # symmetric per-row int8: error at most half a step
    assert np.all(np.abs(dequantize(q) - x) <= q["scales"] / 2 + 1e-7)
    zero = quantize(np.zeros((2, 4), np.float32), FloatStorage.int8)
    assert np.array_equal(dequantize(zero), np.zeros((2, 4)))
