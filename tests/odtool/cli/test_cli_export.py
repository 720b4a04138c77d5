"""odtool export on a frozen tiny student: every format, both kernel choices, parity reports."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from export.graphs.student import codebook_groups
from odtool.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def artifact(trained_tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("art") / "student"
    r = runner.invoke(app, ["freeze", str(trained_tiny["student"]), "--out", str(out), "--eval-split", "none"])
    assert r.exit_code == 0, r.output
    return out


def test_export_all_formats_with_reports(artifact, tmp_path):
    r = runner.invoke(app, ["export", str(artifact), "--format", "all", "--out", str(tmp_path), "--max-len", "20",
                            "--top-k", "10", "--sessions", "16", "--json"])
    assert r.exit_code == 0, r.output
    reports = {x["format"]: x for x in json.loads(r.stdout)}
    assert set(reports) == {"executorch", "torchscript", "onnx"}
    assert reports["executorch"]["graph"]["kernels"] == "odtool"
    assert reports["onnx"]["graph"]["kernels"] == "portable"  # only ExecuTorch runs odtool's kernel
    for fmt, rep in reports.items():
        # dynamic-length exports are also checked on the same sessions given as [1, len]
        dynamic = rep["graph"]["dynamic_length"]
        assert dynamic == (fmt != "torchscript")
        assert rep["parity"]["ok"] and rep["parity"]["sessions"] == (32 if dynamic else 16)
        saved = json.loads((tmp_path / f"student{ {'executorch': '.pte', 'torchscript': '.ptl', 'onnx': '.onnx'}[fmt]}"
                                       ".report.json").read_text())
        assert saved["sha256"] == rep["sha256"]
    assert not (tmp_path / ".staging").exists()


def test_portable_kernels_give_the_same_top_k(artifact, tmp_path):
    for kernels in ("odtool", "portable"):
        r = runner.invoke(app, ["export", str(artifact), "--out", str(tmp_path / kernels), "--kernels", kernels,
                                "--sessions", "8"])
        assert r.exit_code == 0, r.output
    assert b"odtool::code_topk" in (tmp_path / "odtool" / "student.pte").read_bytes()
    assert b"odtool::code_topk" not in (tmp_path / "portable" / "student.pte").read_bytes()


def test_bad_requests_are_clear(artifact, tmp_path):
    r = runner.invoke(app, ["export", str(artifact), "--top-k", "100000", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "top-k must be in 1.." in r.output
    r = runner.invoke(app, ["export", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert r.exit_code == 1 and "not an odtool artifact" in r.output


def test_codebook_grouping():
    assert codebook_groups(4, 32) == [[0, 1], [2, 3]]  # 1,024-entry pair tables
    assert codebook_groups(3, 256) == [[0], [1], [2]]  # 65,536 would be too large
    assert codebook_groups(5, 8) == [[0, 1, 2, 3], [4]]
