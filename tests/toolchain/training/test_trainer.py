"""The trainer on tiny data: every model learns, run layout, resume, determinism, checkpoint errors."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch

from toolchain.training.lifecycle import train_run
from toolchain.training.build import Deploy

PAPER = Deploy("paper")
from toolchain.errors import CheckpointError
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.popularity import PopularityRecommender
from toolchain.models.sasrec import SASRec, SASRecConfig
from toolchain.training.build import load_trained
from toolchain.training.checkpoint import load_state, load_weights
from toolchain.training.run_dir import RunDir
from toolchain.training.tasks import DistillTask

EPOCHS = {"train": {"epochs": 2}}


def losses(run: RunDir, term: str) -> list[float]:
    return [r["train"][term] for r in run.read_metrics() if "train" in r]


def test_teacher_run_layout(tiny_teacher):
    run = RunDir(tiny_teacher)
    for f in (run.config, run.latest, run.model, run.best, run.metrics, run.summary):
        assert f.is_file(), f
    records = run.read_metrics()
    assert [r["epoch"] for r in records if "phase" in r] == [1, 2, 3, 4]
    assert {"train", "valid", "epoch_seconds", "eval_seconds"} <= set(records[0])
    assert "test" in records[-1]
    summary = json.loads(run.summary.read_text())
    assert summary["best_epoch"] == json.loads(run.best.read_text())["epoch"]
    assert run.read_config()["kind"] == "teacher"
    # keep_checkpoints = 2: only the last two epochs stay on disk.
    assert sorted(p.name for p in run.checkpoints.glob("*.safetensors")) == [
        "epoch-0003.safetensors", "epoch-0004.safetensors"]
    load_state(run.checkpoint_files(4)[1])  # plain tensors: loads with weights_only=True


def test_tiny_teacher_beats_popularity(tiny_data, tiny_teacher):
    ds, _ = tiny_data
    _, model = load_trained(tiny_teacher, ds.n_items)
    teacher = evaluate(model, ds.test)
    floor = evaluate(PopularityRecommender.fit(ds), ds.test)
    assert teacher["NDCG@10"] > floor["NDCG@10"] + 0.05, (teacher, floor)
    assert teacher["P@10"] > floor["P@10"] + 0.05


@pytest.mark.parametrize("kind", ["teacher", "student", "odrec", "gru4rec", "narm", "stamp", "srgnn"])
def test_every_model_trains_and_its_loss_falls(kind, tiny_data, tiny_teacher, tmp_path):
    _, data = tiny_data
    teacher = tiny_teacher if kind in ("student", "odrec") else None
    summary = train_run(kind, tmp_path / kind, data=data, preset="tiny", flags=EPOCHS, teacher=teacher)
    rec = losses(RunDir(tmp_path / kind), "rec")
    assert rec[-1] < rec[0], rec
    assert all(0 <= summary["test"][m] <= 1 for m in ("P@10", "NDCG@10"))


def test_student_records_every_term_and_hard_codes(tiny_data, tiny_teacher, tmp_path):
    _, data = tiny_data
    train_run("student", tmp_path / "s", data=data, preset="tiny", flags=EPOCHS, teacher=tiny_teacher,
              deploy=PAPER)
    run = RunDir(tmp_path / "s")
    phases = [r["phase"] for r in run.read_metrics() if "phase" in r]
    assert phases == ["pretrain", "distill", "distill"]
    assert set(run.read_metrics()[-2]["train"]) == {"loss", "rec", "mse", "rec_teacher", "con", "soft"}
    assert run.teacher.is_file()  # the co-trained teacher
    _, model = load_trained(run.root)
    codes = model.items.hard_codes()
    assert codes.dtype == torch.int64 and codes.min() >= 0 and codes.max() < model.items.config.k


def test_sampled_codes_student_learns(tiny_data, tiny_teacher, tmp_path):
    _, data = tiny_data
    flags = {**EPOCHS, "item_table": {"sampled": True, "sample_rows": 16, "refresh_every": 5}}
    summary = train_run("student", tmp_path / "s", data=data, preset="tiny", flags=flags, teacher=tiny_teacher,
                        deploy=PAPER)
    run = RunDir(tmp_path / "s")
    assert run.read_config()["item_table"]["sampled"] is True
    rec = losses(run, "rec")
    assert rec[-1] < rec[0], rec
    assert all(0 <= summary["test"][m] <= 1 for m in ("P@10", "NDCG@10"))


class Killed(Exception):
    pass


def kill_at(monkeypatch, where: str, epoch: int, batches: int, step: int = 3) -> None:
    """Raise ``Killed`` mid-epoch (``where='step'``) or between a checkpoint's files and its commit."""
    from toolchain.training import trainer as trainer_mod

    if where == "step":
        original = DistillTask.before_step
        count = {"n": 0}

        def before_step(self, phase):
            count["n"] += 1
            if count["n"] == step + (epoch - 1) * batches:
                raise Killed
            return original(self, phase)

        monkeypatch.setattr(DistillTask, "before_step", before_step)
    else:
        original_commit = trainer_mod.RunDir.commit_checkpoint

        def commit(self, e, keep):
            if e == epoch:
                raise Killed
            return original_commit(self, e, keep)

        monkeypatch.setattr(trainer_mod.RunDir, "commit_checkpoint", commit)


def final_tensors(run: RunDir) -> dict[str, torch.Tensor]:
    epoch, weights, _ = run.latest_checkpoint()
    return safetensors.torch.load(weights.read_bytes())


@pytest.mark.parametrize("where,sampled,recipe", [("step", False, "paper"), ("commit", False, "paper"),
                                                  ("step", True, "paper"), ("step", False, "deployable"),
                                                  ("step", False, "elastic")])
def test_resume_ends_with_the_same_weights(where, sampled, recipe, tiny_data, tiny_teacher, tmp_path, monkeypatch):
    _, data = tiny_data
    flags = {"train": {"epochs": 2}, "model": {"dropout": 0.2}}  # dropout and Gumbel noise draw RNG
    if sampled:  # the cached codes' refresh schedule must survive the interruption too
        flags["item_table"] = {"sampled": True, "sample_rows": 8, "refresh_every": 2}
    deploy = Deploy(recipe)
    if recipe == "deployable":  # a decaying rate is set from the epoch number: a resumed run keeps it
        flags["train"]["lr_decay"] = 0.5
    if recipe == "elastic":  # every step draws its cut: the draws must survive the interruption too
        deploy = Deploy(elastic=True, budget=1 << 30)
        flags["item_table"] = {"m": 6, "k": 8, "subspaces": 2, "cut_rotations": True}
    kill_epoch = 3 if recipe == "paper" else 2  # the paper's tiny students pretrain for one epoch first
    train_run("student", tmp_path / "full", data=data, preset="tiny", flags=flags, teacher=tiny_teacher,
              deploy=deploy)
    with monkeypatch.context() as m:
        kill_at(m, where, epoch=kill_epoch, batches=-(-len(tiny_data[0].train) // 32))  # tiny batch size
        with pytest.raises(Killed):
            train_run("student", tmp_path / "cut", data=data, preset="tiny", flags=flags, teacher=tiny_teacher,
                      deploy=deploy)
    cut = RunDir(tmp_path / "cut")
    assert cut.latest_checkpoint()[0] == kill_epoch - 1  # at most one epoch lost
    train_run("student", tmp_path / "cut", resume=True)
    full = RunDir(tmp_path / "full")
    a, b = final_tensors(full), final_tensors(cut)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert full.model.read_bytes() == cut.model.read_bytes()
    strip = lambda rs: [{k: v for k, v in r.items() if "seconds" not in k} for r in rs]  # noqa: E731
    assert strip(full.read_metrics()) == strip(cut.read_metrics())


def test_same_seed_same_weights(tiny_data, tmp_path):
    _, data = tiny_data
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_run("teacher", tmp_path / name, data=data, preset="tiny",
                  flags={"train": {"epochs": 1, "seed": seed}})
        runs[name] = RunDir(tmp_path / name).model.read_bytes()
    assert runs["a"] == runs["b"] and runs["a"] != runs["c"]


def test_lr_decay_lowers_each_epochs_rate(tiny_data, tmp_path):
    _, data = tiny_data
    weights = {}
    for name, decay in (("constant", 1.0), ("decayed", 0.25)):
        train_run("teacher", tmp_path / name, data=data, preset="tiny",
                  flags={"train": {"epochs": 2, "lr": 1e-2, "lr_decay": decay}})
        run = RunDir(tmp_path / name)
        epoch, weights[name], state = run.latest_checkpoint()
        assert epoch == 2
        assert load_state(state)["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-2 * decay)
    assert weights["constant"].read_bytes() != weights["decayed"].read_bytes()


def test_lr_decay_outside_its_range_is_a_config_error():
    from toolchain.errors import ConfigError
    from toolchain.training.config import TrainConfig

    for bad in (1.5, 0.0):
        with pytest.raises(ConfigError, match=r"lr_decay must be in \(0, 1\]"):
            TrainConfig(lr_decay=bad)
    assert TrainConfig(lr_decay=0.5).lr_decay == 0.5


def test_early_stopping(tiny_data, tmp_path):
    _, data = tiny_data
    summary = train_run("teacher", tmp_path / "t", data=data, preset="tiny",
                        flags={"train": {"epochs": 6, "patience": 1, "lr": 1e-12}})
    assert summary["stopped_early"] and summary["epochs_run"] == 2 and summary["best_epoch"] == 1


def test_max_minutes_stops_before_an_epoch_that_would_pass_it_and_counts_resumed_time(tiny_data, tmp_path):
    _, data = tiny_data
    out = tmp_path / "t"
    flags = {"train": {"epochs": 3, "patience": 0, "max_minutes": 1e-9}}
    first = train_run("teacher", out, data=data, preset="tiny", flags=flags)
    assert first["stopped_by_time"] and first["epochs_run"] == 1  # the first epoch always runs
    assert first["train_seconds"] > 0
    rows = RunDir(out).read_metrics()
    assert rows[0]["elapsed_seconds"] >= rows[0]["epoch_seconds"] + rows[0]["eval_seconds"]
    # resumed, the time already spent counts: the budget is still used up
    again = train_run("teacher", out, resume=True)
    assert again["stopped_by_time"] and again["epochs_run"] == 1
    # the budget is a runtime setting: a resume may lift it, and the run finishes its epochs
    done = train_run("teacher", out, resume=True, flags={"train": {"max_minutes": 0.0}})
    assert not done["stopped_by_time"] and done["epochs_run"] == 3
    elapsed = [r["elapsed_seconds"] for r in RunDir(out).read_metrics() if "elapsed_seconds" in r]
    assert elapsed == sorted(elapsed) and done["train_seconds"] >= elapsed[-1]


def test_max_minutes_must_not_be_negative():
    from toolchain.errors import ConfigError
    from toolchain.training.config import TrainConfig

    with pytest.raises(ConfigError, match="max_minutes must be >= 0"):
        TrainConfig(max_minutes=-1.0)


def test_wrong_shape_names_the_file_and_the_tensor(tiny_teacher):
    path = RunDir(tiny_teacher).model
    other = SASRec(99, SASRecConfig.tiny())
    with pytest.raises(CheckpointError, match=r"items\.weight.*shape \[\d+, 16\].*\[100, 16\]") as e:
        load_weights(other, path)
    assert str(path) in str(e.value)
    before = other.state_dict()["items.weight"].clone()
    assert torch.equal(other.state_dict()["items.weight"], before)  # untouched


def test_corrupted_files_give_a_clear_error(tiny_data, tiny_teacher, tmp_path):
    import shutil

    run = RunDir(tmp_path / "copy")
    shutil.copytree(tiny_teacher, run.root)
    weights = run.checkpoint_files(4)[0]
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="epoch-0004.safetensors.*(checksum|corrupt)"):
        train_run("teacher", run.root, resume=True)
    with pytest.raises(CheckpointError, match="epoch-0004.safetensors.*not a readable safetensors"):
        load_weights(SASRec(tiny_data[0].n_items, SASRecConfig.tiny()), weights)
    state = run.checkpoint_files(4)[1]
    state.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="state.pt.*not a readable"):
        load_state(state)
