"""Every reader on small fixtures written here, including malformed input."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from toolchain.data.raw import RawPairs, RawSessions
from toolchain.data.readers import READERS, ReadOptions, detect_format
from toolchain.errors import DataFormatError, UsageError


def read(fmt: str, path: Path, **opts) -> RawSessions | RawPairs:
    return READERS.get(fmt).read(path, ReadOptions(**opts))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ----------------------------------------------------------------------------- diginetica
DIGI = """session_id;user_id;item_id;timeframe;eventdate
1;NA;81766;526309;2016-05-09
1;NA;31331;1031018;2016-05-09
1;NA;32118;243569;2016-05-09
2;5;9654;75848;2016-05-10
2;5;1111;10;2016-05-10
"""


def test_diginetica_orders_clicks_by_timeframe_and_sessions_by_date(tmp_path):
    raw = read("diginetica", write(tmp_path, "v.csv", DIGI))
    assert raw.sessions == [["32118", "81766", "31331"], ["1111", "9654"]]
    assert raw.end_times[0] < raw.end_times[1]
    assert raw.source["events"] == 5


def test_diginetica_bad_item_names_file_line_field(tmp_path):
    p = write(tmp_path, "v.csv", DIGI + "3;NA;abc;5;2016-05-11\n")
    with pytest.raises(DataFormatError) as e:
        read("diginetica", p)
    msg = str(e.value)
    assert "v.csv" in msg and "line 7" in msg and "item_id" in msg and "'abc'" in msg


def test_diginetica_bad_date_and_wrong_field_count(tmp_path):
    p = write(tmp_path, "v.csv", DIGI + "3;NA;5;5;09/05/2016\n")
    with pytest.raises(DataFormatError, match="eventdate"):
        read("diginetica", p)
    p = write(tmp_path, "w.csv", DIGI + "3;NA;5\n")
    with pytest.raises(DataFormatError, match=r"line 7.*expected 5"):
        read("diginetica", p)


def test_skip_bad_rows_counts_and_keeps_good_ones(tmp_path):
    p = write(tmp_path, "v.csv", DIGI + "3;NA;abc;5;2016-05-11\n3;NA;77;5;2016-05-11\n")
    opts = ReadOptions(skip_bad_rows=True)
    raw = READERS.get("diginetica").read(p, opts)
    assert opts.n_bad_rows == 1 and "line 7" in opts.bad_rows[0]
    assert ["77"] in raw.sessions


def test_wrong_header_is_rejected(tmp_path):
    p = write(tmp_path, "v.csv", "sid;uid;item;t;d\n1;1;1;1;2016-01-01\n")
    with pytest.raises(DataFormatError, match="unexpected header"):
        read("diginetica", p)


# ----------------------------------------------------------------------------- yoochoose
YOO = """832,2014-04-06T20:21:58.444Z,214717095,0
833,2014-04-02T17:51:44.743Z,214821285,0
833,2014-04-02T17:51:21.363Z,214826803,0
832,2014-04-06T20:21:59.677Z,214717095,0
"""


def test_yoochoose_sorts_by_timestamp_and_keeps_repeats(tmp_path):
    raw = read("yoochoose", write(tmp_path, "c.dat", YOO))
    assert raw.sessions == [["214826803", "214821285"], ["214717095", "214717095"]]


def test_yoochoose_bad_timestamp(tmp_path):
    p = write(tmp_path, "c.dat", YOO + "834,yesterday,1,0\n")
    with pytest.raises(DataFormatError) as e:
        read("yoochoose", p)
    assert "line 5" in str(e.value) and "timestamp" in str(e.value)


# ----------------------------------------------------------------------------- retailrocket
RR_KAGGLE = """timestamp,visitorid,event,itemid,transactionid
1000000,7,view,10,
1060000,7,view,11,
1120000,7,addtocart,11,
9000000,7,view,12,
9060000,7,view,13,
1000000,8,view,10,
"""


def test_retailrocket_kaggle_cuts_sessions_by_inactivity_and_filters_events(tmp_path):
    raw = read("retailrocket", write(tmp_path, "events.csv", RR_KAGGLE))
    # visitor 7: gap of ~2.2 h between 1120 s and 9000 s -> two sessions; the cart event is ignored
    assert sorted(raw.sessions) == sorted([["10", "11"], ["12", "13"], ["10"]])
    raw = read("retailrocket", write(tmp_path, "events.csv", RR_KAGGLE), session_gap_minutes=600)
    assert ["10", "11", "12", "13"] in raw.sessions
    raw = read("retailrocket", write(tmp_path, "events.csv", RR_KAGGLE), event_types=("view", "addtocart"))
    assert ["10", "11", "11"] in raw.sessions


def test_retailrocket_tsv(tmp_path):
    text = "timestamp\tuser_id\titem_id\tsession_id\n5\t0\t3\t0\n4\t0\t2\t0\n9\t1\t3\t1\n"
    raw = read("retailrocket-tsv", write(tmp_path, "rr.tsv", text))
    assert raw.sessions == [["2", "3"], ["3"]]
    with pytest.raises(DataFormatError, match="line 2.*timestamp"):
        read("retailrocket-tsv", write(tmp_path, "bad.tsv", "timestamp\tuser_id\titem_id\tsession_id\nx\t0\t3\t0\n"))


# ----------------------------------------------------------------------------- tmall
TMALL = """user_id,item_id,cat_id,seller_id,brand_id,time_stamp,action_type
1,100,5,6,7,0829,0
1,101,5,6,,0829,0
1,102,5,6,7,0829,2
1,103,5,6,7,0830,0
2,100,5,6,7,1111,0
"""


def test_tmall_sessions_are_user_days_of_clicks(tmp_path):
    raw = read("tmall", write(tmp_path, "user_log_format1.csv", TMALL))
    assert raw.sessions == [["100", "101"], ["103"], ["100"]]
    with pytest.raises(DataFormatError, match="time_stamp"):
        read("tmall", write(tmp_path, "bad.csv", TMALL + "3,1,1,1,1,1340,0\n"))


# ----------------------------------------------------------------------------- plain text
def test_plain_text(tmp_path):
    raw = read("text", write(tmp_path, "s.txt", "1,2,3\n\n# comment\n7, 8\n"))
    assert raw.sessions == [["1", "2", "3"], ["7", "8"]] and raw.end_times is None
    named = write(tmp_path, "names.txt", "a,b,c\n7,x3\n")
    with pytest.raises(DataFormatError, match=r"line 1, field 'items'.*'a', not an integer id") as e:
        read("text", named)
    assert "--string-ids" in str(e.value)
    raw = READERS.get("text").read(named, ReadOptions(string_ids=True))
    assert raw.sessions == [["a", "b", "c"], ["7", "x3"]]
    with pytest.raises(DataFormatError, match="line 2"):
        read("text", write(tmp_path, "bad.txt", "1,2\n1,,2\n"))


# ----------------------------------------------------------------------------- srgnn pickles
def test_srgnn_pairs_taken_as_given(tmp_path):
    (tmp_path / "train.txt").write_bytes(pickle.dumps(([[1, 2], [1], [3, 4, 5]], [3, 2, 6])))
    (tmp_path / "test.txt").write_bytes(pickle.dumps(([[2]], [7])))
    raw = read("srgnn", tmp_path)
    assert isinstance(raw, RawPairs)
    assert raw.train_sequences == [[1, 2], [1], [3, 4, 5]] and raw.train_targets == [3, 2, 6]
    assert raw.test_sequences == [[2]] and raw.test_targets == [7]


def test_srgnn_missing_test_file(tmp_path):
    (tmp_path / "train.txt").write_bytes(pickle.dumps(([[1]], [2])))
    with pytest.raises(DataFormatError, match="test.txt"):
        read("srgnn", tmp_path)


def test_srgnn_structure_errors(tmp_path):
    (tmp_path / "test.txt").write_bytes(pickle.dumps(([[2]], [7])))
    (tmp_path / "train.txt").write_bytes(pickle.dumps(([[1], [2]], [3])))
    with pytest.raises(DataFormatError, match="2 sequences but 1 targets"):
        read("srgnn", tmp_path)
    (tmp_path / "train.txt").write_bytes(pickle.dumps(([[0, 1]], [3])))
    with pytest.raises(DataFormatError, match="0 is padding"):
        read("srgnn", tmp_path)
    (tmp_path / "train.txt").write_bytes(pickle.dumps(([[1, [2]], [3]], [4, 5])))  # nested lists
    with pytest.raises(DataFormatError, match=r"sequence 0 holds \[2\] \(list\)"):
        read("srgnn", tmp_path)
    (tmp_path / "train.txt").write_bytes(pickle.dumps(([[1, 2]], [[3]])))
    with pytest.raises(DataFormatError, match="flat list of int targets"):
        read("srgnn", tmp_path)


# ----------------------------------------------------------------------------- detection
def test_detect_format(tmp_path):
    assert detect_format(write(tmp_path, "a.csv", DIGI)) == "diginetica"
    assert detect_format(write(tmp_path, "b.dat", YOO)) == "yoochoose"
    assert detect_format(write(tmp_path, "c.csv", RR_KAGGLE)) == "retailrocket"
    assert detect_format(write(tmp_path, "d.csv", TMALL)) == "tmall"
    assert detect_format(write(tmp_path, "e.txt", "1,2,3\n")) == "text"
    d = tmp_path / "sr"
    d.mkdir()
    (d / "train.txt").write_bytes(pickle.dumps(([[1]], [2])))
    (d / "test.txt").write_bytes(pickle.dumps(([[1]], [2])))
    assert detect_format(d) == "srgnn"
    with pytest.raises(UsageError, match="--format"):
        detect_format(write(tmp_path, "f.tsv", "x\ty\n"))
