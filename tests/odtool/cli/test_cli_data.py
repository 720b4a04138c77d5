"""The CLI as a user types it: help, version, data commands, clean errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from toolchain import __version__
from odtool.cli.main import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_help_lists_every_command_group():
    out = invoke("--help").output
    for group in ("data", "train", "eval", "freeze", "export", "bench", "size-check", "emulator", "demo"):
        assert group in out


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and __version__ in r.output


def test_data_synth_stats_prepare_round_trip(tmp_path):
    r = invoke("data", "synth", "--out", str(tmp_path / "s"), "--items", "80", "--sessions", "400", "--json")
    assert r.exit_code == 0, r.output
    stats = json.loads(r.output)["stats"]
    assert stats["items"] > 10 and stats["test_sequences"] > 0
    r = invoke("data", "stats", str(tmp_path / "s"))
    assert r.exit_code == 0 and "#train sequences" in r.output

    raw = tmp_path / "sessions.txt"
    raw.write_text("\n".join(",".join(str(i % 6 + 1 + k) for k in range(4)) for i in range(30)) + "\n")
    r = invoke("data", "prepare", str(raw), "--out", str(tmp_path / "p"), "--min-item-count", "1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["source"]["format"] == "text"


def test_bad_input_gives_message_not_traceback(tmp_path):
    bad = tmp_path / "v.csv"
    bad.write_text("session_id;user_id;item_id;timeframe;eventdate\n1;NA;x;1;2016-01-01\n")
    r = invoke("data", "prepare", str(bad), "--out", str(tmp_path / "o"))
    assert r.exit_code == 1
    assert "line 2" in r.output and "item_id" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_unknown_format_choice_is_rejected_by_typer(tmp_path):
    r = invoke("data", "prepare", str(tmp_path), "--out", str(tmp_path / "o"), "--format", "csv")
    assert r.exit_code == 2 and "diginetica" in r.output


def test_eval_popularity(tmp_path):
    invoke("data", "synth", "--out", str(tmp_path / "s"), "--items", "80", "--sessions", "400")
    r = invoke("eval", "popularity", "--data", str(tmp_path / "s"), "--json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)["metrics"]["popularity"]
    assert 0 < m["P@20"] <= 1 and m["NDCG@10"] <= m["P@10"]
