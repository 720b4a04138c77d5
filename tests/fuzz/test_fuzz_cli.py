"""Command-line arguments, random and hostile: every command ends in success or a message (exit
1 or 2), never a traceback, and a command that fails leaves no output behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from odtool.cli.main import app

runner = CliRunner()

#: numbers where a count, a size or a fraction is expected, and things that are not numbers.
_number = st.one_of(st.integers(-3, 40).map(str), st.sampled_from(["0", "-1", "1e9", "nan", "inf", "", "abc",
                                                                    "0.5", "1.5", "99999999999999999999"]))
_word = st.one_of(st.text(min_size=0, max_size=8), st.sampled_from(["auto", "text", "srgnn", "time", "last-item",
                                                                   "all", "onnx", "executorch", "torchscript"]))
_value = st.one_of(_number, _word)


def _options(table: dict[str, st.SearchStrategy]) -> st.SearchStrategy[list[str]]:
    """Some of ``table``'s flags, each with a drawn value (None: a boolean flag)."""
    flag = st.sampled_from(sorted(table))
    return st.lists(flag, max_size=4, unique=True).flatmap(
        lambda flags: st.tuples(*(table[f] for f in flags)).map(
            lambda values: [x for f, v in zip(flags, values) for x in ((f,) if v is None else (f, v))]))


def _check(result, out: Path | None = None) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code != 0:
        assert "error" in result.output.lower() or "usage" in result.output.lower(), result.output
        if out is not None:
            assert not out.exists() or not any(out.iterdir()), f"partial output in {out}: {list(out.iterdir())}"


PREPARE = {"--format": _word, "--split": _word, "--test-days": _number, "--min-item-count": _number,
           "--min-session-length": _number, "--valid-fraction": _number, "--seed": _number,
           "--skip-bad-rows": st.none(), "--string-ids": st.none(), "--session-gap-minutes": _number,
           "--event-types": _word}


@given(opts=_options(PREPARE))
def test_data_prepare_options(opts):
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.txt"
        raw.write_text("".join(f"{i % 9 + 1},{i % 5 + 1},{i % 4 + 1}\n" for i in range(80)))
        out = Path(tmp) / "ds"
        _check(runner.invoke(app, ["data", "prepare", str(raw), "--out", str(out), *opts]), out)


SYNTH = {"--items": st.one_of(st.integers(-2, 300).map(str), _word), "--sessions": st.one_of(
    st.integers(-2, 300).map(str), _word), "--seed": _number, "--zipf": _number, "--mean-length": _number,
    "--p-follow": _number}


@given(opts=_options(SYNTH))
def test_data_synth_options(opts):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        _check(runner.invoke(app, ["data", "synth", "--out", str(out), *opts]), out)


_set = st.tuples(st.sampled_from(["model", "train", "item_table", "distill", "nope"]),
                 st.sampled_from(["dim", "layers", "heads", "dropout", "epochs", "lr", "batch_size", "max_len",
                                  "m", "k", "seed", "threads", "device", "x"]),
                 st.one_of(_value, st.sampled_from(["[1,2]", "{}", "null", "true", "-0.0"]))).map(
    lambda t: f"{t[0]}.{t[1]}={t[2]}")
TRAIN = {"--set": _set, "--epochs": st.sampled_from(["0", "-1", "1", "x", "1.5"]),
         "--lr": _number, "--batch-size": _number, "--max-len": st.sampled_from(["0", "-3", "1", "4", "x"]),
         "--dim": st.sampled_from(["0", "-8", "8", "x", "7.5"]), "--dropout": _number, "--patience": _number,
         "--threads": st.sampled_from(["0", "-1", "1", "x"]), "--device": _word}


@settings(max_examples=15)
@given(opts=_options(TRAIN))
def test_train_options(trained_tiny, opts):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        r = runner.invoke(app, ["train", "teacher", "--data", str(trained_tiny["data"]), "--out", str(out),
                                "--preset", "tiny", "--epochs", "1", *opts])
        _check(r, out)


@pytest.fixture(scope="module")
def artifact(trained_tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz-cli") / "art"
    r = runner.invoke(app, ["freeze", str(trained_tiny["deployable"]), "--out", str(out), "--eval-split", "none"])
    assert r.exit_code == 0, r.output
    return out


EXPORT = {"--format": _word, "--max-len": st.sampled_from(["0", "-1", "1", "3", "x", "100000000000"]),
          "--top-k": st.sampled_from(["0", "-1", "1", "5", "100000", "x"]),
          "--sessions": st.sampled_from(["0", "-1", "1", "2", "x"]), "--name": _word,
          "--kernels": _word}


@settings(max_examples=10)
@given(opts=_options(EXPORT))
def test_export_options(artifact, opts):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "exp"
        _check(runner.invoke(app, ["export", str(artifact), "--out", str(out), "--format", "onnx",
                                   "--sessions", "2", *opts]))
        if out.exists():
            assert all(p.name.endswith((".report.json", ".json")) or (p.parent / (p.name + ".report.json")).is_file()
                       for p in out.iterdir() if not p.name.startswith(".")), list(out.iterdir())


@given(budget=_word | _number | st.sampled_from(["1KiB", "2MB", "-1KiB", "1.5GiB", "KiB", "0"]))
def test_size_check_budgets(artifact, budget):
    _check(runner.invoke(app, ["size-check", str(artifact), "--budget", budget]))


EVAL = {"--split": _word, "--batch-size": _number}


@settings(max_examples=10)
@given(opts=_options(EVAL))
def test_eval_options(trained_tiny, opts):
    _check(runner.invoke(app, ["eval", str(trained_tiny["teacher"]), *opts]))
