"""odtool freeze: parts, determinism, the round trip, and clear errors for damaged artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from toolchain.artifact.load import load_artifact
from odtool.cli.main import app
from toolchain.compression.frozen_codes import FrozenCodesTable
from toolchain.data.batching import pad_batch
from toolchain.data.dataset import SessionDataset
from toolchain.errors import ArtifactError
from toolchain.training.build import load_trained

runner = CliRunner()


def freeze(run, out, *extra):
    r = runner.invoke(app, ["freeze", str(run), "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    return json.loads((out / "manifest.json").read_text())


def test_student_artifact_holds_codes_codebooks_encoder_vocab(trained_tiny, tmp_path):
    m = freeze(trained_tiny["student"], tmp_path / "a")
    parts = m["parts"]
    assert set(parts) == {"codes", "codebooks", "encoder", "vocab"}
    ds = SessionDataset.load(trained_tiny["data"])
    assert parts["codes"]["dtype"] == "uint8" and parts["codes"]["shape"] == [ds.n_items + 1, 2]
    assert parts["codes"]["bytes"] == (ds.n_items + 1) * 2
    assert m["metrics"]["split"] == "test" and 0 < m["metrics"]["P@20"] <= 1
    # nothing training-only is frozen: no code learner, no teacher copy
    enc = load_artifact(tmp_path / "a")[0].tensors("encoder")
    assert not any(k.startswith("items.") for k in enc)


def test_frozen_model_scores_like_the_trained_one(trained_tiny, tmp_path):
    freeze(trained_tiny["student"], tmp_path / "a")
    _, _, frozen = load_artifact(tmp_path / "a")
    _, trained = load_trained(trained_tiny["student"])
    assert isinstance(frozen.items, FrozenCodesTable)
    ds = SessionDataset.load(trained_tiny["data"])
    items, lengths = pad_batch(ds.test, np.arange(20), 50)
    assert torch.allclose(frozen.score(items, lengths), trained.score(items, lengths), atol=1e-5)


def test_same_run_same_bytes_and_options_shrink(trained_tiny, tmp_path):
    a = freeze(trained_tiny["student"], tmp_path / "a")
    b = freeze(trained_tiny["student"], tmp_path / "b")
    for name, part in a["parts"].items():
        assert (tmp_path / "a" / part["file"]).read_bytes() == (tmp_path / "b" / part["file"]).read_bytes(), name
    assert (tmp_path / "a" / "manifest.json").read_text() == (tmp_path / "b" / "manifest.json").read_text().replace(
        str(tmp_path / "b"), str(tmp_path / "a"))
    small = freeze(trained_tiny["student"], tmp_path / "c", "--packed", "--codebook-dtype", "int8")
    assert small["parts"]["codes"]["encoding"] == "bitpacked" and small["parts"]["codes"]["bits"] == 3
    assert small["parts"]["codes"]["bytes"] < a["parts"]["codes"]["bytes"]
    assert small["parts"]["codebooks"]["bytes"] < a["parts"]["codebooks"]["bytes"]
    _, _, packed = load_artifact(tmp_path / "c")
    _, _, plain = load_artifact(tmp_path / "a")
    assert torch.equal(packed.items.codes_t, plain.items.codes_t)


def test_teacher_freezes_its_full_table(trained_tiny, tmp_path):
    m = freeze(trained_tiny["teacher"], tmp_path / "t")
    assert set(m["parts"]) == {"items", "encoder", "vocab"} and m["model"]["kind"] == "teacher"


@pytest.mark.parametrize("damage,part", [("truncate", "codes"), ("flip", "encoder")])
def test_damaged_artifact_names_the_part(trained_tiny, tmp_path, damage, part):
    m = freeze(trained_tiny["student"], tmp_path / "a")
    f = tmp_path / "a" / m["parts"][part]["file"]
    data = f.read_bytes()
    f.write_bytes(data[:-3] if damage == "truncate" else data[:10] + bytes([data[10] ^ 1]) + data[11:])
    with pytest.raises(ArtifactError, match=f"part '{part}'"):
        load_artifact(tmp_path / "a")
    r = runner.invoke(app, ["export", str(tmp_path / "a"), "--format", "onnx"])
    assert r.exit_code == 1 and f"part '{part}'" in r.output and "Traceback" not in r.output


def test_newer_schema_is_refused(trained_tiny, tmp_path):
    freeze(trained_tiny["student"], tmp_path / "a")
    mp = tmp_path / "a" / "manifest.json"
    m = json.loads(mp.read_text())
    m["version"] = 2
    mp.write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="newer than this odtool"):
        load_artifact(tmp_path / "a")


def test_int4_encoder_halves_int8_and_scores_like_its_stored_weights(trained_tiny, tmp_path):
    i8 = freeze(trained_tiny["student"], tmp_path / "a", "--encoder-dtype", "int8")
    i4 = freeze(trained_tiny["student"], tmp_path / "b", "--encoder-dtype", "int4")
    assert i4["freeze"]["encoder_storage"] == "int4"
    enc8, enc4 = (load_artifact(tmp_path / d)[0].tensors("encoder") for d in ("a", "b"))
    for name, q in enc8.items():  # every int8 matrix is a uint8 one of half the columns, same rows
        if q.dtype == np.int8:
            assert enc4[name].dtype == np.uint8 and enc4[name].shape == (q.shape[0], q.shape[1] // 2), name
    weights = [name for name, q in enc8.items() if q.dtype == np.int8]
    assert weights and sum(enc8[n].nbytes for n in weights) == 2 * sum(enc4[n].nbytes for n in weights)
    saved = i8["parts"]["encoder"]["bytes"] - i4["parts"]["encoder"]["bytes"]
    assert abs(saved - sum(enc4[n].nbytes for n in weights)) <= 8 * len(weights)  # the file header aligns to 8 B
    # the loaded weights are the nibbles times their row scales: at most 7 levels a side per row
    _, _, model = load_artifact(tmp_path / "b")
    w = model.blocks[0].att.qkv.weight.detach()
    levels = w / (w.abs().amax(1, keepdim=True) / 7)
    assert torch.allclose(levels, levels.round(), atol=1e-4) and levels.abs().max() <= 7 + 1e-4
    r = runner.invoke(app, ["freeze", str(trained_tiny["student"]), "--out", str(tmp_path / "c"),
                            "--codebook-dtype", "int4"])
    said = " ".join(r.output.split())
    assert r.exit_code != 0 and "freeze stores the paper's codebooks as fp32, fp16, int8" in said
    assert "train student --codebook-dtype int4" in said and "Traceback" not in r.output
    assert not (tmp_path / "c").exists()
