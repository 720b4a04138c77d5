"""Tampered artifacts: loading either gives the model the manifest describes or an OdtoolError,
never another exception; `odtool export` of a tampered artifact never leaves an export behind."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from toolchain.artifact.load import load_artifact
from odtool.cli.main import app
from toolchain.errors import OdtoolError

_json = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                               st.text(max_size=6)),
                     lambda inner: st.one_of(st.lists(inner, max_size=3),
                                             st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                     max_leaves=8)


@pytest.fixture(scope="module")
def artifacts(trained_tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-artifacts")
    out = {}
    for name in ("deployable", "teacher", "student"):
        r = CliRunner().invoke(app, ["freeze", str(trained_tiny[name]), "--out", str(root / name),
                                     "--eval-split", "none"])
        assert r.exit_code == 0, r.output
        out[name] = root / name
    return out


def _paths(obj, prefix=()):
    """Every (path, value) in a JSON document."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _tamper_manifest(manifest: dict, data) -> dict:
    paths = [p for p, _ in _paths(manifest) if p]
    path = data.draw(st.sampled_from(paths), label="field")
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    how = data.draw(st.sampled_from(["delete", "replace", "reorder"]), label="how")
    if how == "delete":
        del parent[path[-1]]
    elif how == "replace":
        parent[path[-1]] = data.draw(_json, label="value")
    elif isinstance(parent, dict):  # reordering keys changes nothing a reader may depend on
        items = list(parent.items())
        order = data.draw(st.permutations(range(len(items))))
        parent.clear()
        parent.update(items[i] for i in order)
    return manifest


def _tamper(art: Path, data) -> str:
    files = sorted(p for p in art.iterdir() if p.is_file())
    target = data.draw(st.sampled_from(files), label="file")
    how = data.draw(st.sampled_from(["flip", "truncate", "delete", "append", "manifest"]), label="tamper")
    if how == "manifest" or (target.name == "manifest.json" and how == "flip"):
        manifest = json.loads((art / "manifest.json").read_text())
        (art / "manifest.json").write_text(json.dumps(_tamper_manifest(manifest, data)))
        return "manifest"
    blob = bytearray(target.read_bytes())
    if how == "flip" and blob:
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "truncate":
        blob = blob[: data.draw(st.integers(0, max(0, len(blob) - 1)))]
    elif how == "append":
        blob += data.draw(st.binary(min_size=1, max_size=16))
    if how == "delete":
        target.unlink()
    else:
        target.write_bytes(bytes(blob))
    return how


@given(data=st.data(), name=st.sampled_from(["deployable", "teacher", "student"]))
def test_tampered_artifacts_load_or_fail_cleanly(artifacts, data, name):
    with tempfile.TemporaryDirectory() as tmp:
        art = Path(tmp) / name
        shutil.copytree(artifacts[name], art)
        how = _tamper(art, data)
        try:
            load_artifact(art)
        except OdtoolError as e:
            assert str(e).strip()
            return
        # what loads is an artifact whose content did not change: checksums and the seal catch the rest
        same = _content(art) == _content(artifacts[name])
        assert same or how == "manifest", f"a {how} of a part file was not caught"


def _content(art: Path) -> dict:
    manifest = json.loads((art / "manifest.json").read_text())
    manifest.pop("manifest_sha256", None)
    return {"manifest": manifest, **{p.name: p.read_bytes() for p in art.iterdir() if p.name != "manifest.json"}}


@settings(max_examples=4)
@given(data=st.data())
def test_export_of_a_tampered_artifact_leaves_no_export(artifacts, data):
    with tempfile.TemporaryDirectory() as tmp:
        art = Path(tmp) / "deployable"
        shutil.copytree(artifacts["deployable"], art)
        _tamper(art, data)
        out = Path(tmp) / "exp"
        r = CliRunner().invoke(app, ["export", str(art), "--format", "onnx", "--out", str(out), "--sessions", "2"])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        assert "Traceback" not in r.output
        if r.exit_code != 0:
            assert not any(p.suffix == ".onnx" for p in out.glob("*")), r.output


@pytest.fixture(scope="module")
def exports(artifacts, tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz-exports")
    r = CliRunner().invoke(app, ["export", str(artifacts["deployable"]), "--format", "all", "--out", str(out),
                                 "--sessions", "2"])
    assert r.exit_code == 0, r.output
    return {p.suffix: p for p in out.iterdir() if p.suffix in (".pte", ".ptl", ".onnx")}


@given(data=st.data(), suffix=st.sampled_from([".pte", ".ptl", ".onnx"]))
def test_tampered_exports_are_refused_before_they_run(exports, data, suffix):
    from export.formats import get_exporter

    fmt = {".pte": "executorch", ".ptl": "torchscript", ".onnx": "onnx"}[suffix]
    with tempfile.TemporaryDirectory() as tmp:
        src = exports[suffix]
        path = Path(tmp) / src.name
        shutil.copy(src, path)
        shutil.copy(src.with_name(src.name + ".report.json"), Path(tmp) / (src.name + ".report.json"))
        blob = bytearray(path.read_bytes())
        how = data.draw(st.sampled_from(["flip", "truncate", "append", "report"]))
        if how == "flip":
            at = data.draw(st.integers(0, len(blob) - 1))
            blob[at] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "truncate":
            blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
        elif how == "append":
            blob += data.draw(st.binary(min_size=1, max_size=16))
        else:
            report = Path(tmp) / (src.name + ".report.json")
            report.write_bytes(data.draw(st.sampled_from([b"", b"{", b"[]", b'{"sha256": 3}', b'{"sha256": "00"}'])))
        path.write_bytes(bytes(blob))
        with pytest.raises(OdtoolError):
            get_exporter(fmt).load(path)
