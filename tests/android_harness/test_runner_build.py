"""Runner build cache: built once per (arch, executorch version, source hash)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from android_harness import runner_build
from android_harness.runner_build import RunnerSpec, ensure_runner, runner_tag, source_hash


@pytest.fixture
def fake_compile(monkeypatch):
    builds: list[str] = []

    def compile_runner(spec, out_dir, *, source_dir, jobs=2):
        builds.append(spec.executorch_version)
        (out_dir / "odt_runner").write_text(f"runner for {spec.executorch_version}")
        (out_dir / "lib").mkdir()

    monkeypatch.setattr(runner_build, "compile_runner", compile_runner)
    return builds


def test_rebuilds_only_when_version_or_sources_change(tmp_path, fake_compile):
    src = tmp_path / "src"
    shutil.copytree(runner_build.SOURCE_DIR, src)
    cache = tmp_path / "cache"
    spec = RunnerSpec("x86_64", Path("/et"), "1.5.1+cpu")
    first = ensure_runner(spec, cache, source_dir=src)
    assert ensure_runner(spec, cache, source_dir=src) == first and fake_compile == ["1.5.1+cpu"]
    assert first.parent.name == f"x86_64-1.5.1+cpu-{source_hash(src)[:12]}"
    assert (first.parent / "build.json").is_file()

    newer = ensure_runner(RunnerSpec("x86_64", Path("/et"), "1.6.0"), cache, source_dir=src)
    assert fake_compile == ["1.5.1+cpu", "1.6.0"] and newer != first
    assert not first.parent.exists()  # the stale build of the same arch is removed

    (src / "runner.cpp").write_text((src / "runner.cpp").read_text() + "\n// edited\n")
    edited = ensure_runner(RunnerSpec("x86_64", Path("/et"), "1.6.0"), cache, source_dir=src)
    assert len(fake_compile) == 3 and edited != newer
    ensure_runner(RunnerSpec("aarch64", Path("/et"), "1.6.0"), cache, source_dir=src)
    assert edited.is_file()  # other architectures are kept
    (src / "README.md").write_text("docs do not change the key")
    assert runner_tag(RunnerSpec("x86_64", Path("/et"), "1.6.0"), src) == edited.parent.name


def test_force_rebuilds(tmp_path, fake_compile):
    spec = RunnerSpec("x86_64", Path("/et"), "1.5.1")
    ensure_runner(spec, tmp_path)
    ensure_runner(spec, tmp_path, force=True)
    assert len(fake_compile) == 2


def test_host_spec_reads_the_installed_wheel():
    spec = runner_build.host_spec()
    assert (spec.executorch_root / "lib" / "libexecutorch.so").is_file()
    assert spec.executorch_version.startswith("1.") and not spec.cross
