"""`odtool train` and `odtool eval RUN` as a user types them: runs, tables, JSON, clean errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from odtool.cli.main import app

runner = CliRunner()
TINY = ("--preset", "tiny", "--epochs", "1", "--quiet")


def invoke(*args: str):
    return runner.invoke(app, [a for a in args if a != "--quiet"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = root / "data"
    assert invoke("data", "synth", "--out", str(data), "--items", "60", "--sessions", "300").exit_code == 0
    r = invoke("train", "teacher", "--data", str(data), "--out", str(root / "teacher"), *TINY)
    assert r.exit_code == 0, r.output
    r = invoke("train", "student", "--data", str(data), "--teacher", str(root / "teacher"),
               "--out", str(root / "student"), "--recipe", "paper", "--M", "2", "--K", "8", "--no-contrastive", *TINY)
    assert r.exit_code == 0, r.output
    return root


def test_train_prints_valid_and_test_metrics(runs):
    config = json.loads((runs / "student" / "config.json").read_text())
    assert config["item_table"]["m"] == 2 and config["distill"]["contrastive"] is False
    assert config["teacher"]["run"].endswith("teacher")


def test_eval_table_and_json(runs):
    data = str(runs / "data")
    r = invoke("eval", str(runs / "teacher"), str(runs / "student"), "--data", data)
    assert r.exit_code == 0, r.output
    for word in ("popularity", "teacher", "student", "NDCG@20", "MRR@20", "byte"):
        assert word in r.output
    r = invoke("eval", str(runs / "student"), "--json")  # --data defaults to the run's dataset
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["metrics"]) == {"popularity", "student"}
    size = out["runs"]["student"]
    assert size["item_table"] == "codes" and size["model_bytes"] < size["teacher_bytes"]
    assert size["table_ratio"] > 1 and size["byte_ratio"] > 1


def test_odrec_matches_the_students_ratio(runs):
    r = invoke("train", "odrec", "--data", str(runs / "data"), "--teacher", str(runs / "teacher"),
               "--out", str(runs / "odrec"), "--match-student", str(runs / "student"), *TINY)
    assert r.exit_code == 0, r.output
    out = json.loads(invoke("eval", str(runs / "student"), str(runs / "odrec"), "--json").output)
    s, o = out["runs"]["student"]["table_ratio"], out["runs"]["odrec"]["table_ratio"]
    assert 0.5 < o / s < 2, (s, o)


def test_sampled_codes_flag(runs, tmp_path):
    r = invoke("train", "student", "--data", str(runs / "data"), "--teacher", str(runs / "teacher"),
               "--out", str(tmp_path / "s"), "--recipe", "paper", "--M", "2", "--K", "16", "--sampled-codes",
               "--set", "item_table.refresh_every=7", "--pretrain-epochs", "0", *TINY)
    assert r.exit_code == 0, r.output
    table = json.loads((tmp_path / "s" / "config.json").read_text())["item_table"]
    assert table["sampled"] is True and table["refresh_every"] == 7 and table["k"] == 16


def test_config_file_and_set(runs, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\ndim = 8\n[train]\nepochs = 1\n")
    r = invoke("train", "srgnn", "--data", str(runs / "data"), "--out", str(tmp_path / "g"),
               "--preset", "tiny", "--config", str(cfg), "--set", "model.steps=2")
    assert r.exit_code == 0, r.output
    model = json.loads((tmp_path / "g" / "config.json").read_text())["model"]
    assert model["dim"] == 8 and model["steps"] == 2


@pytest.mark.parametrize("args,message", [
    (("train", "student", "--out", "{tmp}/s", "--preset", "tiny"), "needs a trained teacher"),
    (("train", "teacher", "--out", "{runs}/teacher"), "already holds a run"),
    (("train", "teacher", "--out", "{runs}/teacher", "--resume", "--lr", "0.1"), "drop lr"),
    (("train", "narm", "--out", "{runs}/teacher", "--resume"), "is a teacher run"),
    (("train", "teacher", "--out", "{tmp}/t", "--config", "{tmp}/bad.json"), "unknown key(s) width"),
    (("train", "teacher", "--out", "{tmp}/t", "--set", "model=3"), "SECTION.KEY=VALUE"),
    (("eval", "{tmp}"), "not an odtool run"),
])
def test_user_errors_are_messages_not_tracebacks(runs, tmp_path, args, message):
    (tmp_path / "bad.json").write_text(json.dumps({"model": {"width": 3}}))
    args = [a.format(tmp=tmp_path, runs=runs) for a in args]
    if "--data" not in args and args[0] == "train":
        args += ["--data", str(runs / "data")]
    r = invoke(*args)
    assert r.exit_code in (1, 2), r.output
    assert message in r.output, r.output
    assert "Traceback" not in r.output


def test_help_has_an_example_for_every_train_command():
    for kind in ("teacher", "student", "odrec", "gru4rec", "narm", "stamp", "srgnn"):
        r = invoke("train", kind, "--help")
        assert r.exit_code == 0 and "Example" in r.output and f"odtool train {kind}" in r.output


def test_every_training_setting_is_one_flag_on_every_train_command():
    import dataclasses

    from odtool.cli.train_options import TRAIN_HELP
    from toolchain.training.config import TrainConfig

    assert set(TRAIN_HELP) == {f.name for f in dataclasses.fields(TrainConfig)}  # a new field needs its help
    import typer

    train = typer.main.get_command(app).commands["train"]
    want = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(TrainConfig)}
    for kind in ("teacher", "student", "odrec", "gru4rec", "narm", "stamp", "srgnn"):
        params = {o: p for p in train.commands[kind].params for o in p.opts}
        assert want <= set(params), (kind, want - set(params))
        assert "(default NDCG@10)" in params["--monitor"].help  # the default shown is TrainConfig's
        assert params["--lr"].default is None  # not given: presets and config files show through


def test_training_flags_land_in_the_runs_config(runs, tmp_path):
    r = invoke("train", "stamp", "--data", str(runs / "data"), "--out", str(tmp_path / "s"), *TINY,
               "--monitor", "P@10", "--keep-checkpoints", "1", "--device", "cpu", "--lr", "0.02")
    assert r.exit_code == 0, r.output
    train = json.loads((tmp_path / "s" / "config.json").read_text())["train"]
    assert (train["monitor"], train["keep_checkpoints"], train["device"], train["lr"]) == ("P@10", 1, "cpu", 0.02)
    assert train["epochs"] == 1
    r = invoke("train", "stamp", "--data", str(runs / "data"), "--out", str(tmp_path / "t"), *TINY, "--monitor", "AUC")
    assert r.exit_code == 2 and "AUC" in r.output
