"""The restricted unpickler admits lists, tuples and ints only, and never runs code."""

from __future__ import annotations

import pickle

import pytest

from toolchain.data.safe_pickle import load_int_lists
from toolchain.errors import DataFormatError, UnsafeFileError


class _Evil:
    def __reduce__(self):
        return (open, ("/tmp/odtool-pwned-marker", "w"))


def test_plain_int_lists_load(tmp_path):
    p = tmp_path / "ok.pkl"
    for proto in (0, 2, pickle.HIGHEST_PROTOCOL):
        p.write_bytes(pickle.dumps(([[1, 2], (3,)], [4, 5]), protocol=proto))
        assert load_int_lists(p) == ([[1, 2], (3,)], [4, 5])


def test_a_pickle_that_calls_a_function_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps(([[1]], [_Evil()])).replace(b"/tmp/odtool-pwned-marker", str(marker).encode()))
    with pytest.raises(UnsafeFileError, match="builtins.open|io.open"):
        load_int_lists(p)
    assert not marker.exists()


@pytest.mark.parametrize("value", [(["a"], [1]), ([[1.5]], [1]), ({1: 2}, [1]), ([[True]], [1])])
def test_non_int_values_are_refused(tmp_path, value):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps(value))
    with pytest.raises(UnsafeFileError, match="only lists, tuples and ints"):
        load_int_lists(p)


def test_truncated_and_garbage_files(tmp_path):
    p = tmp_path / "t.pkl"
    p.write_bytes(pickle.dumps(([[1, 2]], [3]))[:-5])
    with pytest.raises(DataFormatError, match="not a readable pickle"):
        load_int_lists(p)
    p.write_bytes(b"hello world")
    with pytest.raises(DataFormatError, match="t.pkl"):
        load_int_lists(p)
