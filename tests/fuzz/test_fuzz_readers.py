"""Every reader, fed anything: a dataset or an OdtoolError with a message, never another exception,
never a partial dataset on disk."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from toolchain.data.dataset import SessionDataset
from toolchain.data.pipeline import prepare_dataset, read_raw
from toolchain.data.preprocess import PrepareOptions
from toolchain.data.readers import READERS
from toolchain.data.safe_pickle import load_int_lists
from toolchain.errors import OdtoolError

#: a small valid sample of each text format: mutations of these reach deep into the parsers.
SAMPLES = {
    "diginetica": "session_id;user_id;item_id;timeframe;eventdate\n"
                  "1;NA;81766;526309;2016-05-09\n1;NA;31331;1031018;2016-05-09\n2;5;9654;75848;2016-05-10\n"
                  "2;5;1111;10;2016-05-10\n",
    "yoochoose": "832,2014-04-06T20:21:58.444Z,214717095,0\n833,2014-04-02T17:51:44.743Z,214821285,0\n"
                 "833,2014-04-02T17:51:21.363Z,214826803,0\n832,2014-04-06T20:21:59.677Z,214717095,0\n",
    "retailrocket": "timestamp,visitorid,event,itemid,transactionid\n1000000,7,view,10,\n1060000,7,view,11,\n"
                    "1000000,8,view,10,\n1060000,8,view,12,\n",
    "tmall": "user_id,item_id,cat_id,seller_id,brand_id,time_stamp,action_type\n1,100,5,6,7,0829,0\n"
             "1,101,5,6,,0829,0\n2,100,5,6,7,1111,0\n2,103,5,6,7,1111,0\n",
    "text": "1,2,3\n4,5\n2,3,4\n",
}
TEXT_FORMATS = sorted(set(SAMPLES) & set(READERS.names()))
PREP = PrepareOptions(min_item_count=1, min_session_length=2)


def _outcome(path: Path, fmt: str, out: Path) -> None:
    """The property: success gives a loadable dataset, failure an OdtoolError and no output."""
    try:
        prepare_dataset(path, out, fmt=fmt, prepare_opts=PREP)
    except OdtoolError as e:
        assert str(e).strip(), "an error must say what is wrong"
        assert not out.exists(), f"partial output left after: {e}"
        return
    ds = SessionDataset.load(out)
    ds.validate(out)


def _mutate(text: str, data) -> bytes:
    raw = bytearray(text.encode())
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        what = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "field"]))
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        if what == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif what == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif what == "delete":
            del raw[at:at + data.draw(st.integers(1, 8))]
        elif what == "truncate":
            del raw[at:]
        else:  # a field replaced by something hostile
            hostile = data.draw(st.sampled_from([b"", b"-1", b"1e999", b"NaN", b"9" * 40, "\u00e9\u4e2d".encode(),
                                                  b"\x00", b";;;;", b",,,,", b"\"", b"x" * 300]))
            raw[at:at] = hostile
    return bytes(raw)


@given(data=st.data(), fmt=st.sampled_from(TEXT_FORMATS))
def test_mutated_text_inputs(data, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(_mutate(SAMPLES[fmt], data))
        _outcome(path, fmt, Path(tmp) / "out")


@given(blob=st.binary(max_size=400), fmt=st.sampled_from([*TEXT_FORMATS, "auto"]))
def test_random_bytes(blob, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.txt"
        path.write_bytes(blob)
        _outcome(path, fmt, Path(tmp) / "out")


# ------------------------------------------------------------------------- SR-GNN pickles
_leaf = st.one_of(st.integers(-3, 2**70), st.booleans(), st.none(), st.floats(allow_nan=True),
                  st.text(max_size=4), st.binary(max_size=4))
_nested = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.tuples(inner, inner),
                                                       st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                       max_leaves=30)
_pairs = st.tuples(st.lists(st.lists(st.integers(0, 50), max_size=4), max_size=6),
                   st.lists(st.integers(0, 50), max_size=6))


@given(train=st.one_of(_nested, _pairs), test=st.one_of(_nested, _pairs))
def test_srgnn_pickles_of_anything(train, test):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "raw"
        root.mkdir()
        (root / "train.txt").write_bytes(pickle.dumps(train))
        (root / "test.txt").write_bytes(pickle.dumps(test))
        _outcome(root, "srgnn", Path(tmp) / "out")


@given(depth=st.integers(1, 5000))
def test_deep_nesting_is_refused_not_a_crash(depth):
    value: object = [1]
    for _ in range(depth):
        value = [value]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deep.pkl"
        path.write_bytes(pickle.dumps(value, protocol=4) if depth < 900 else _deep_pickle(depth))
        try:
            load_int_lists(path)
        except OdtoolError:
            pass


def _deep_pickle(depth: int) -> bytes:
    """A pickle nested deeper than Python's recursion limit lets pickle.dumps write."""
    return b"\x80\x04" + b"]" * depth + b"K\x01" + b"a" * depth + b"."


@given(blob=st.binary(max_size=300))
def test_safe_pickle_on_random_bytes(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.pkl"
        path.write_bytes(b"\x80\x04" + blob)
        try:
            load_int_lists(path)
        except OdtoolError:
            pass


@given(fmt=st.sampled_from(TEXT_FORMATS), keep=st.floats(0, 1))
def test_truncated_valid_inputs(fmt, keep):
    text = SAMPLES[fmt].encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(text[: int(len(text) * keep)])
        try:
            read_raw(path, fmt)
        except OdtoolError:
            pass
