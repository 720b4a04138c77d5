"""odtool bench: plans, per-cell failures, the Table 5 report, host and emulator runs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from android_harness.bench.plan import BenchPlan, Row
from android_harness.bench.report import markdown, speedup, write_report
from android_harness.bench.run import Cell, run_plan
from odtool.cli.main import app
from toolchain.errors import UsageError

runner = CliRunner()


@pytest.fixture(scope="module")
def artifacts(trained_tiny, tmp_path_factory):
    """Frozen tiny teacher and student in one directory, as `odtool bench --artifacts` reads."""
    d = tmp_path_factory.mktemp("bench-artifacts")
    for kind in ("teacher", "student"):
        r = runner.invoke(app, ["freeze", str(trained_tiny[kind]), "--out", str(d / kind), "--eval-split", "none"])
        assert r.exit_code == 0, r.output
    return d


def test_plan_lists_every_problem(tmp_path):
    with pytest.raises(UsageError) as e:
        BenchPlan(rows=[Row("x", preset="amazon"), Row("y", artifacts=tmp_path / "nope")], models=["bert"],
                  formats=["tflite"])
    msg = str(e.value)
    for word in ("bert", "tflite", "amazon", "nope"):
        assert word in msg
    with pytest.raises(UsageError, match="nothing to measure"):
        BenchPlan(rows=[])


def test_report_layout_and_speedups(tmp_path):
    cells = [Cell("tmall", "student", "executorch", ok=True, bytes=10, seconds_per_100=0.5, p50_us=1, p90_us=2,
                  load_ms=1, peak_rss_kb=2048, input="trimmed"),
             Cell("tmall", "odrec", "executorch", ok=True, bytes=20, seconds_per_100=4.0, p50_us=1, p90_us=2,
                  load_ms=1, peak_rss_kb=2048, input="trimmed"),
             Cell("tmall", "teacher", "executorch", ok=False, error="run failed: out of memory")]
    plan = BenchPlan(rows=[Row("tmall", preset="tmall")], models=["student", "odrec", "teacher"], out=tmp_path)
    assert speedup(cells, "tmall", "executorch", "odrec") == pytest.approx(8.0)
    assert speedup(cells, "tmall", "executorch", "teacher") is None
    md = markdown(plan, cells, {"device": "host"}, "odtool bench")
    assert "| dataset | Student | OD-Rec | Teacher | Student vs OD-Rec | Student vs Teacher |" in md
    assert "| tmall | 0.5000 | 4.0000 | failed (run failed: out of memory) | 8.0x | - |" in md
    assert "initialised weights" in md
    paths = write_report(plan, cells, {"device": "host"}, "odtool bench")
    data = json.loads(paths["json"].read_text())
    assert data["speedups"]["tmall/executorch"]["student_vs_odrec"] == pytest.approx(8.0)
    assert paths["chart"].stat().st_size > 1000


def test_host_bench_on_trained_artifacts_survives_a_missing_model(artifacts, tmp_path):
    plan = BenchPlan(rows=[Row("tiny", artifacts=artifacts)], models=["student", "teacher", "odrec"],
                     formats=["executorch", "onnx"], sessions=6, warmup=1, out=tmp_path, max_len=20, top_k=5)
    cells = {(c.model, c.format): c for c in run_plan(plan)}
    for kind in ("student", "teacher"):
        for fmt in ("executorch", "onnx"):
            c = cells[(kind, fmt)]
            assert c.ok and c.seconds_per_100 > 0 and c.trained and c.input == "trimmed", c
    assert not cells[("odrec", "executorch")].ok
    assert "no artifact for odrec" in cells[("odrec", "executorch")].error


def test_cli_host_run_writes_the_report(artifacts, tmp_path):
    r = runner.invoke(app, ["bench", "--device", "host", "--artifacts", str(artifacts), "--models", "student,teacher",
                            "--sessions", "4", "--warmup", "0", "--max-len", "20", "--top-k", "5",
                            "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "table5.md").is_file() and (tmp_path / "results.json").is_file()
    assert "Student vs Teacher" in r.output


@pytest.mark.emulator
def test_emulator_bench_matches_the_host(artifacts, emulator_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("ODTOOL_EMULATOR_CACHE", str(emulator_cache))
    plan = BenchPlan(device="emulator", rows=[Row("tiny", artifacts=artifacts)], models=["student"],
                     formats=["executorch", "onnx"], sessions=4, warmup=0, out=tmp_path, max_len=20, top_k=5)
    cells = run_plan(plan)
    for c in cells:
        assert c.ok and c.emulated and c.topk_ok, c
