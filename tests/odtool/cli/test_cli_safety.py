"""Issue 11 as a user meets it: outputs never destroy what odtool did not write, one writer at a
time, mismatched or unfinished inputs are refused, and mistakes are messages, not tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from odtool.cli.main import app

runner = CliRunner()


def invoke(*args) -> "object":
    return runner.invoke(app, [str(a) for a in args])


def refused(result, message: str) -> None:
    assert result.exit_code in (1, 2), result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def tiny(trained_tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    art = root / "art"
    r = invoke("freeze", trained_tiny["deployable"], "--out", art, "--eval-split", "none")
    assert r.exit_code == 0, r.output
    return {**trained_tiny, "root": root, "artifact": art}


# --------------------------------------------------------------------------- 1. outputs
def test_prepare_refuses_foreign_directories_and_its_input(tiny, tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("".join(f"{i % 7 + 1},{i % 5 + 1},{i % 3 + 1}\n" for i in range(60)))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    refused(invoke("data", "prepare", raw, "--out", mine, "--min-item-count", "1"), "did not write")
    assert (mine / "thesis.tex").read_text() == "precious"
    refused(invoke("data", "prepare", raw, "--out", tmp_path, "--min-item-count", "1"), "contains an input")
    assert raw.is_file()
    out = tmp_path / "ds"
    assert invoke("data", "prepare", raw, "--out", out, "--min-item-count", "1").exit_code == 0
    refused(invoke("data", "prepare", raw, "--out", out, "--min-item-count", "1"), "already holds a dataset")
    assert invoke("data", "prepare", raw, "--out", out, "--min-item-count", "1", "--overwrite").exit_code == 0
    refused(invoke("data", "synth", "--out", tiny["teacher"], "--overwrite"), "holds an odtool run")
    assert (tiny["teacher"] / "config.json").is_file()


def test_freeze_refuses_a_run_and_needs_overwrite(tiny):
    refused(invoke("freeze", tiny["deployable"], "--out", tiny["teacher"], "--overwrite"), "holds an odtool run")
    assert (tiny["teacher"] / "model.safetensors").is_file()
    refused(invoke("freeze", tiny["deployable"], "--out", tiny["artifact"]), "already holds an artifact")
    refused(invoke("freeze", tiny["deployable"], "--out", tiny["deployable"], "--overwrite"), "is an input")


def test_export_needs_overwrite_for_existing_files_and_reports_the_manifest_sha(tiny, tmp_path):
    from toolchain.checksum import sha256_file

    out = tmp_path / "exp"
    r = invoke("export", tiny["artifact"], "--format", "onnx", "--out", out, "--sessions", "4")
    assert r.exit_code == 0, r.output
    report = json.loads((out / "art.onnx.report.json").read_text())
    assert report["model"]["manifest_sha256"] == sha256_file(tiny["artifact"] / "manifest.json")
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]
    refused(invoke("export", tiny["artifact"], "--format", "onnx", "--out", out, "--sessions", "4"),
            "already exists")
    assert invoke("export", tiny["artifact"], "--format", "onnx", "--out", out, "--sessions", "4",
                  "--overwrite").exit_code == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "a.txt").write_text("x")
    refused(invoke("export", tiny["artifact"], "--format", "onnx", "--out", foreign), "did not write")


@pytest.mark.parametrize("n", ["0", "-1"])
def test_parity_is_never_skipped(tiny, tmp_path, n):
    r = invoke("export", tiny["artifact"], "--format", "onnx", "--out", tmp_path / "e", "--sessions", n)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert not (tmp_path / "e").exists()


# --------------------------------------------------------------------------- 3. one writer
HOLD = """
import sys, time
from toolchain.outputs import lock
with lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_run_being_written_is_refused_to_a_second_writer(tiny):
    run = tiny["teacher"]
    before = (run / "config.json").read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        for args in (("--resume",), ("--overwrite",)):
            r = invoke("train", "teacher", "--data", tiny["data"], "--out", run, "--preset", "tiny", *args)
            refused(r, f"pid {proc.pid}")
        refused(invoke("freeze", tiny["deployable"], "--out", run), f"pid {proc.pid}")
    finally:
        proc.kill()
        proc.wait()
    assert (run / "config.json").read_bytes() == before


# --------------------------------------------------------------------------- 5. mismatches
def test_a_teacher_or_eval_on_another_dataset_is_refused(tiny, tmp_path):
    other = tmp_path / "other"
    r = invoke("data", "synth", "--out", other, "--items", "120", "--sessions", "600", "--seed", "7")
    assert r.exit_code == 0, r.output
    r = invoke("train", "student", "--data", other, "--teacher", tiny["teacher"], "--out", tmp_path / "s",
               "--preset", "tiny", "--epochs", "1")
    refused(r, "trained on another dataset")
    assert not (tmp_path / "s").exists()
    refused(invoke("eval", tiny["teacher"], "--data", other), "trained on another dataset")


def test_unfinished_runs_are_refused_unless_allowed(tiny, tmp_path):
    run = tmp_path / "killed"
    shutil.copytree(tiny["teacher"], run)
    (run / "summary.json").unlink()  # killed before the end
    for args in (("freeze", run, "--out", tmp_path / "a"), ("eval", run),
                 ("train", "student", "--teacher", run, "--out", tmp_path / "s", "--preset", "tiny")):
        refused(invoke(*args), "did not finish training: it stopped after 2 of 2 epochs")
        assert "--allow-incomplete" in invoke(*args).output
    r = invoke("eval", run, "--allow-incomplete")
    assert r.exit_code == 0, r.output


def test_a_failed_student_leaves_nothing_that_blocks_a_retry(tiny, tmp_path):
    out = tmp_path / "s"
    teacher = tmp_path / "teacher"
    shutil.copytree(tiny["teacher"], teacher)
    (teacher / "model.safetensors").write_bytes(b"{}")  # fails when the task is built, after config.json
    r = invoke("train", "student", "--teacher", teacher, "--out", out, "--preset", "tiny", "--epochs", "1")
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    assert not out.exists(), list(out.iterdir())
    shutil.copy(tiny["teacher"] / "model.safetensors", teacher / "model.safetensors")
    r = invoke("train", "student", "--teacher", teacher, "--out", out, "--preset", "tiny", "--epochs", "1")
    assert r.exit_code == 0, r.output  # the plain retry works
    bad = tmp_path / "bad"
    r = invoke("train", "teacher", "--data", tiny["data"], "--out", bad, "--preset", "tiny",
               "--set", "model.dim=abc")
    refused(r, "dim must be int (64-bit), got 'abc'")
    assert not bad.exists()


# --------------------------------------------------------------------------- 6. messages
def test_size_check_hint_names_the_pyproject_section(tiny, tmp_path):
    pte = tmp_path / "m.onnx"
    pte.write_bytes(b"0" * 100)
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    r = invoke("size-check", pte, "--pyproject", tmp_path / "pyproject.toml")
    assert "[tool.odtool.size-budget]" in r.output, r.output
