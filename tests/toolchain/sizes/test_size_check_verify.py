"""size-check verifies before it measures: artifact directories against their manifest,
exports against the sha256 in their .report.json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from toolchain.sizes.budget import check_sizes
from toolchain.artifact.bundle import BundleWriter
from toolchain.checksum import sha256_file
from odtool.cli.main import app
from toolchain.errors import ArtifactError

runner = CliRunner()


def artifact(tmp_path):
    w = BundleWriter()
    w.add_bytes("codes", "codes.bin", b"c" * 3000)
    w.add_json("config", "config.json", {"dim": 8})
    return w.write(tmp_path / "art", {"model": {"kind": "student"}})


def own_bytes(d) -> int:
    manifest = json.loads((d / "manifest.json").read_text())
    return (d / "manifest.json").stat().st_size + sum(p["bytes"] for p in manifest["parts"].values())


def test_an_artifact_counts_its_manifest_and_parts_only(tmp_path):
    d = artifact(tmp_path)
    expected = own_bytes(d)
    # staging leftovers of an interrupted writer, and the exports `odtool export` puts in the directory
    (d / ".tmp-art-1234").mkdir()
    (d / ".tmp-art-1234" / "codes.bin").write_bytes(b"x" * 50_000)
    (d / ".staging").mkdir()
    (d / ".staging" / "m.pte").write_bytes(b"x" * 50_000)
    (d / "export").mkdir()
    (d / "export" / "art.pte").write_bytes(b"x" * 80_000)
    (c,) = check_sizes([d], budget=10_000)
    assert c.size == expected and not c.over and c.verified == "manifest ok"
    r = runner.invoke(app, ["size-check", str(d), "--budget", "10KB", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["bytes"] == expected


def test_a_missing_part_is_refused(tmp_path):
    d = artifact(tmp_path)
    (d / "codes.bin").unlink()
    with pytest.raises(ArtifactError, match="part 'codes' is missing its file codes.bin"):
        check_sizes([d], budget=1 << 20)
    r = runner.invoke(app, ["size-check", str(d), "--budget", "1MiB"])
    assert r.exit_code == 1 and "missing its file codes.bin" in r.output and "ok" not in r.output.split()


def test_an_altered_part_is_refused(tmp_path):
    d = artifact(tmp_path)
    (d / "codes.bin").write_bytes(b"d" * 3000)
    with pytest.raises(ArtifactError, match="fails its sha256 check"):
        check_sizes([d], budget=1 << 20)


@pytest.mark.parametrize("manifest", ["{not json", ""])
def test_an_unparsable_manifest_is_refused(tmp_path, manifest):
    d = artifact(tmp_path)
    (d / "manifest.json").write_text(manifest)
    r = runner.invoke(app, ["size-check", str(d), "--budget", "1MiB"])
    assert r.exit_code == 1 and "invalid JSON" in r.output, r.output


def test_a_directory_that_is_not_an_artifact_is_refused(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.bin").write_bytes(b"x")
    r = runner.invoke(app, ["size-check", str(tmp_path / "junk"), "--budget", "1MiB"])
    assert r.exit_code == 1 and "not an odtool artifact" in r.output


def export_file(tmp_path, suffix):
    f = tmp_path / f"m{suffix}"
    f.write_bytes(bytes(range(256)) * 40)
    (tmp_path / f"m{suffix}.report.json").write_text(json.dumps({"sha256": sha256_file(f), "bytes": 10240}))
    return f


@pytest.mark.parametrize("suffix", [".onnx", ".pte", ".ptl"])
def test_an_export_is_checked_against_its_report(tmp_path, suffix):
    f = export_file(tmp_path, suffix)
    (c,) = check_sizes([f], budget=1 << 20)
    assert c.verified == "sha256 ok"
    data = bytearray(f.read_bytes())
    data[100] ^= 0x01  # one bit
    f.write_bytes(bytes(data))
    r = runner.invoke(app, ["size-check", str(f), "--budget", "1MiB"])
    assert r.exit_code == 1 and "fails its sha256 check" in r.output and "re-export" in r.output, r.output


def test_an_export_without_a_report_is_flagged_unverified(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"x" * 100)
    (c,) = check_sizes([f], budget=1 << 20)
    assert c.verified == "unverified (no report)"
    r = runner.invoke(app, ["size-check", str(f), "--budget", "1MiB", "--json"])
    assert r.exit_code == 0 and "integrity cannot be verified" in r.output  # the warning, on stderr
    assert json.loads(r.output[r.output.index("\n[") + 1:])[0]["verified"] == "unverified (no report)"
