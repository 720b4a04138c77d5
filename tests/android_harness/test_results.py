"""Runner JSON -> RunResult: fields, derived numbers, errors that name the field."""

from __future__ import annotations

import json

import pytest

from android_harness.results import load_result, parse_result
from runner_samples import runner_json
from toolchain.errors import DataFormatError


def test_parse_runner_json(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(runner_json()))
    r = load_result(path, device={"device": "emulator"})
    assert (r.runtime, r.runtime_version, r.arch, r.n_sessions) == ("executorch", "1.5.1+cpu", "aarch64", 2)
    assert r.latency.p50 == 48.0 and r.latency.n == 4
    assert r.threads_used == 1 and r.cpu["clusters"] == 2 and r.peak_rss_kb == 20480
    assert r.sessions[1].indices == (10, 11, 12) and r.sessions[1].scores[0] == 1.0
    # mean pass 200 us over 2 sessions -> 100 sessions take 10,000 us
    assert r.seconds_per_100_sessions == pytest.approx(0.01)
    d = r.to_dict()
    assert d["device"] == {"device": "emulator"} and d["seconds_per_100_sessions"] == pytest.approx(0.01)


def test_python_runner_shape_is_accepted():
    data = runner_json(runtime="onnxruntime")
    data["executorch_version"] = None
    data["runtime_version"] = "1.32.0"
    data["cpu"]["performant_cores"] = None
    r = parse_result(data)
    assert r.runtime == "onnxruntime" and r.runtime_version == "1.32.0"


def test_old_runner_json_without_runtime_is_executorch():
    data = runner_json()
    del data["runtime"], data["runtime_version"]
    assert parse_result(data).runtime_version == "1.5.1+cpu"


@pytest.mark.parametrize("mutate, field, message", [
    (lambda d: d.pop("load_ms"), "load_ms", "expected a number, missing"),
    (lambda d: d["latency_us"].pop("p90"), "latency_us.p90", "expected a number"),
    (lambda d: d["threads"].update(used="1"), "threads.used", "expected an integer"),
    (lambda d: d.update(n_sessions=3), "sessions", "2 session results for n_sessions=3"),
    (lambda d: d["sessions"][0].update(indices=[1.5]), "sessions[0].indices", "list of integers"),
    (lambda d: d["sessions"][1].update(scores=[0.1]), "sessions[1].scores", "as long as indices"),
    (lambda d: d.update(pass_total_us=[]), "pass_total_us", "non-empty list"),
    (lambda d: d.update(deterministic="yes"), "deterministic", "expected bool"),
])
def test_bad_fields_are_named(mutate, field, message):
    data = runner_json()
    mutate(data)
    with pytest.raises(DataFormatError) as e:
        parse_result(data, source="out.json")
    assert f"field '{field}'" in str(e.value) and message in str(e.value) and "out.json" in str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(DataFormatError, match="does not exist"):
        load_result(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        load_result(tmp_path / "bad.json")
