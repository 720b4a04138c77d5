"""The deployable recipe: trains the table it freezes, sized to a budget, better than its start."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from toolchain.artifact.load import load_artifact
from odtool.cli.main import app
from toolchain.data.pipeline import load_dataset
from toolchain.evaluation.evaluate import evaluate
from toolchain.training.build import build_task, load_trained
from toolchain.training.run_dir import RunDir
from toolchain.training.spec import RunSpec

runner = CliRunner()
TINY = ("--preset", "tiny")


def _freeze(run, out):
    r = runner.invoke(app, ["freeze", str(run), "--out", str(out), "--eval-split", "none"])
    assert r.exit_code == 0, r.output
    return load_artifact(out)


def test_the_final_training_table_is_exactly_the_frozen_one(trained_tiny, tmp_path):
    spec, trained = load_trained(trained_tiny["deployable"])
    assert spec.item_table.KIND == "quantized" and spec.deploy["recipe"] == "deployable"
    bundle, _, frozen = _freeze(trained_tiny["deployable"], tmp_path / "a")
    assert torch.equal(trained.items.all_embeddings(), frozen.items.all_embeddings())
    assert torch.equal(trained.items.codes, frozen.items.codes)
    assert bundle.manifest["freeze"]["encoder_storage"] == "int8"  # the recipe's default
    assert bundle.parts["encoder"]["tensors"]["readout.w1.weight"]["dtype"] == "int8"


def test_the_encoder_starts_as_the_teachers_and_codes_never_move(trained_tiny):
    run = RunDir(trained_tiny["deployable"])
    spec = RunSpec.from_dict(run.read_config(), source="test")
    ds = load_dataset(trained_tiny["data"])
    task = build_task(spec, ds)
    task.prepare()
    student, teacher = task.pair.student, task.pair.teacher
    assert torch.equal(student.readout.w1.weight, teacher.readout.w1.weight)
    _, trained = load_trained(run.root)
    assert torch.equal(task.model.items.codes, trained.items.codes)  # assigned once, kept


def test_a_tiny_fine_tune_beats_its_post_training_start(trained_tiny, tmp_path):
    out = tmp_path / "s"
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out", str(out),
                            "--M", "2", "--K", "8", "--epochs", "3", *TINY])
    assert r.exit_code == 0, r.output
    spec = RunSpec.from_dict(RunDir(out).read_config(), source="test")
    ds = load_dataset(trained_tiny["data"])
    task = build_task(spec, ds)
    task.prepare()  # the post-training-quantized start: teacher encoder over k-means codes
    start = evaluate(task.model.eval(), ds.valid)["NDCG@10"]
    best = json.loads((out / "best.json").read_text())["valid"]["NDCG@10"]
    assert best > start, (start, best)  # measured: 26.1 -> 27.2 NDCG@10 (%)


def test_budget_and_ratio_size_the_student_and_the_artifact_fits(trained_tiny, tmp_path):
    out = tmp_path / "s"
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out", str(out),
                            "--ratio", "2.5", "--epochs", "1", *TINY])
    assert r.exit_code == 0, r.output
    deploy = json.loads((out / "config.json").read_text())["deploy"]
    bundle, _, _ = _freeze(out, tmp_path / "a")
    on_disk = sum(p.stat().st_size for p in (tmp_path / "a").iterdir() if p.name not in ("manifest.json", "vocab.json"))
    assert bundle.manifest["deployed_bytes"] == on_disk <= deploy["budget_bytes"]
    m = json.loads((out / "config.json").read_text())["item_table"]["m"]
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out",
                            str(tmp_path / "b"), "--budget", str(on_disk - 1), "--epochs", "1", *TINY])
    assert r.exit_code == 0, r.output  # one byte less: one code fewer per item
    assert json.loads((tmp_path / "b" / "config.json").read_text())["item_table"]["m"] == m - 1


def test_an_unmeetable_budget_names_the_smallest_one(trained_tiny, tmp_path):
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out",
                            str(tmp_path / "s"), "--budget", "1KiB", *TINY])
    assert r.exit_code != 0
    assert "below the smallest student" in r.output and "raise the budget to at least" in r.output
    assert "Traceback" not in r.output


def test_paper_recipe_flags_and_mixups(trained_tiny, tmp_path):
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out",
                            str(tmp_path / "s"), "--eta", "0.5", *TINY])
    assert r.exit_code != 0 and "--recipe paper" in r.output
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out",
                            str(tmp_path / "p"), "--recipe", "paper", "--eta", "0.5", "--epochs", "1", *TINY])
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())
    assert cfg["item_table"]["kind"] == "codes" and cfg["item_table"]["eta"] == 0.5
    assert cfg["deploy"]["recipe"] == "paper" and cfg["deploy"]["encoder_storage"] == "fp32"
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out",
                            str(tmp_path / "q"), "--recipe", "paper", "--ratio", "30", *TINY])
    assert r.exit_code != 0 and "deployable" in r.output


def test_the_start_is_a_candidate_so_training_never_ships_worse(trained_tiny, tmp_path):
    out = tmp_path / "s"  # a learning rate that wrecks the model: the untrained start must win
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out", str(out),
                            "--epochs", "1", "--lr", "5", *TINY])
    assert r.exit_code == 0, r.output
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["epoch"] == 0 and records[0]["phase"] == "start"
    best = json.loads((out / "best.json").read_text())
    assert best["epoch"] == 0 and best["valid"] == records[0]["valid"]
    assert json.loads((out / "summary.json").read_text())["epochs_run"] == 1


def test_table_only_fine_tuning_keeps_the_teachers_encoder(trained_tiny, tmp_path):
    out = tmp_path / "s"
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out", str(out),
                            "--epochs", "2", "--set", "distill.train_encoder=false", "--lr", "0.05", *TINY])
    assert r.exit_code == 0, r.output
    _, teacher = load_trained(trained_tiny["teacher"])
    spec, student = load_trained(out)
    best = json.loads((out / "best.json").read_text())["epoch"]
    assert torch.equal(student.readout.w1.weight, teacher.readout.w1.weight)
    assert torch.equal(student.blocks[0].att.qkv.weight, teacher.blocks[0].att.qkv.weight)
    task = build_task(spec, load_dataset(trained_tiny["data"]))
    task.prepare()
    moved = not torch.equal(task.model.items.codebooks, student.items.codebooks)
    assert moved or best == 0  # the table trained (unless the start stayed best)


def test_deployable_students_train_with_at_most_the_recipes_dropout(trained_tiny, tmp_path):
    from toolchain.training.build import DEPLOYABLE_DROPOUT, DEPLOYABLE_LR_DECAY, Deploy, new_spec

    ds = load_dataset(trained_tiny["data"])
    config = json.loads((trained_tiny["teacher"] / "config.json").read_text())
    teachers = {}
    for dropout in (0.5, 0.0):  # a teacher regularised more than the recipe wants, and one less
        run = tmp_path / f"teacher-{dropout}"
        run.mkdir()
        config["model"]["dropout"] = dropout
        (run / "config.json").write_text(json.dumps(config))
        teachers[dropout] = run

    def spec(teacher, recipe="deployable", flags=None):
        return new_spec("student", ds, trained_tiny["data"], preset="tiny", teacher_run=teacher, flags=flags,
                        deploy=Deploy(recipe=recipe))

    deployable = spec(teachers[0.5])
    assert deployable.model.dropout == DEPLOYABLE_DROPOUT < 0.5
    assert deployable.train.lr_decay == DEPLOYABLE_LR_DECAY
    assert spec(teachers[0.0]).model.dropout == 0.0  # never more than the teacher's
    assert spec(teachers[0.5], flags={"model": {"dropout": 0.4}}).model.dropout == 0.4  # --dropout wins
    paper = spec(teachers[0.5], recipe="paper")
    assert paper.model.dropout == 0.5 and paper.train.lr_decay == 1.0  # the paper's recipe is unchanged


def test_an_elastic_runs_first_stage_spans_two_subspaces_unless_told_otherwise(trained_tiny):
    from toolchain.training.build import Deploy, new_spec

    ds = load_dataset(trained_tiny["data"])

    def table(**item_table):
        return new_spec("student", ds, trained_tiny["data"], preset="tiny", teacher_run=trained_tiny["teacher"],
                        flags={"item_table": item_table}, deploy=Deploy(elastic=True, budget=1 << 30)).item_table

    assert (table().subspaces, table().lead) == (4, 2)
    assert table(subspaces=6).lead == 3
    assert table(subspaces=5).lead == 5  # odd: S columns of one subspace, the plain nested table
    assert table(lead=1).lead == 1 and table(lead=4).lead == 4  # a given lead wins
    plain = new_spec("student", ds, trained_tiny["data"], preset="tiny", teacher_run=trained_tiny["teacher"],
                     deploy=Deploy(budget=1 << 30)).item_table
    assert plain.lead == 0  # not elastic: no nesting, no lead


def test_validation_scores_the_encoder_as_freeze_stores_it(trained_tiny, tmp_path):
    """The best epoch is chosen on the model the artifact holds: an int4 encoder's validation
    metrics during training are the frozen artifact's, to the last digit."""
    out = tmp_path / "s4"
    r = runner.invoke(app, ["train", "student", "--teacher", str(trained_tiny["teacher"]), "--out", str(out),
                            "--encoder-dtype", "int4", "--epochs", "1", *TINY])
    assert r.exit_code == 0, r.output
    best = json.loads((out / "best.json").read_text())
    r = runner.invoke(app, ["freeze", str(out), "--out", str(tmp_path / "a"), "--eval-split", "valid"])
    assert r.exit_code == 0, r.output
    bundle = load_artifact(tmp_path / "a")[0]
    assert bundle.manifest["freeze"]["encoder_storage"] == "int4"
    for m in ("P@10", "NDCG@10", "MRR@20"):
        assert bundle.manifest["metrics"][m] == best["valid"][m], m
    # and the trained weights themselves stay fp32 (the rounding is only seen, not kept)
    _, trained = load_trained(out)
    w = trained.blocks[0].att.qkv.weight
    levels = w / (w.abs().amax(1, keepdim=True) / 7)
    assert not torch.allclose(levels, levels.round(), atol=1e-3)
