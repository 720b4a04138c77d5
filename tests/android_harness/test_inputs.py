"""The ODTSESS session file: byte layout, round trip, validation."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from android_harness.inputs import Sessions, read_sessions, write_sessions
from toolchain.errors import DataFormatError, UsageError

ITEMS = np.array([[5, 7, 0, 0], [1, 2, 3, 4], [9, 0, 0, 0]], dtype=np.int64)
LENGTHS = np.array([2, 4, 1], dtype=np.int64)


def test_bytes_match_the_documented_layout(tmp_path):
    path = write_sessions(tmp_path / "s.bin", ITEMS, LENGTHS)
    expected = struct.pack("<8sIIII", b"ODTSESS\0", 1, 3, 4, 0) + ITEMS.astype("<i8").tobytes() \
        + LENGTHS.astype("<i8").tobytes()
    assert path.read_bytes() == expected
    assert path.stat().st_size == 24 + 8 * 3 * (4 + 1)


def test_round_trip_from_numpy_and_torch(tmp_path):
    for items, lengths in ((ITEMS, LENGTHS), (torch.from_numpy(ITEMS), torch.from_numpy(LENGTHS))):
        s = read_sessions(write_sessions(tmp_path / "s.bin", items, lengths))
        np.testing.assert_array_equal(s.items, ITEMS)
        np.testing.assert_array_equal(s.lengths, LENGTHS)
        assert (s.n, s.max_len) == (3, 4)


def test_from_sequences_keeps_the_most_recent_items():
    s = Sessions.from_sequences([[1, 2, 3, 4, 5, 6], [7]], max_len=4)
    np.testing.assert_array_equal(s.items, [[3, 4, 5, 6], [7, 0, 0, 0]])
    np.testing.assert_array_equal(s.lengths, [4, 1])


@pytest.mark.parametrize("items, lengths, message", [
    (ITEMS, np.array([2, 5, 1]), "session 1 has length 5 outside"),
    (ITEMS, np.array([0, 4, 1]), "session 0 has length 0"),
    (np.array([[5, 7, 8, 0]]), np.array([2]), "non-zero items past its length"),
    (np.array([[-1, 0]]), np.array([1]), "negative item id"),
    (np.array([[1.0, 0.0]]), np.array([1]), "must be integers"),
])
def test_invalid_sessions_are_refused(tmp_path, items, lengths, message):
    with pytest.raises(UsageError, match=message):
        write_sessions(tmp_path / "s.bin", items, lengths)
    assert not (tmp_path / "s.bin").exists()


def test_reader_names_the_problem(tmp_path):
    good = write_sessions(tmp_path / "good.bin", ITEMS, LENGTHS).read_bytes()
    cases = {
        "magic": (b"NOTSESS\0" + good[8:], "bad magic"),
        "version": (good[:8] + struct.pack("<I", 2) + good[12:], "version 2 is not supported"),
        "size": (good[:-8], "size 136 != 144"),
        "short": (good[:10], "too short"),
    }
    for name, (raw, message) in cases.items():
        p = tmp_path / f"{name}.bin"
        p.write_bytes(raw)
        with pytest.raises(DataFormatError, match=message) as e:
            read_sessions(p)
        assert str(p) in str(e.value)
    bad_len = bytearray(good)
    bad_len[-8:] = struct.pack("<q", 9)
    (tmp_path / "len.bin").write_bytes(bytes(bad_len))
    with pytest.raises(DataFormatError, match="session 2 has length 9"):
        read_sessions(tmp_path / "len.bin")
