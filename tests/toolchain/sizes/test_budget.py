"""The size gate: size parsing, pyproject budgets, exit codes, largest parts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from toolchain.sizes.budget import check_sizes
from toolchain.sizes.units import parse_size
from toolchain.sizes.table1 import Table1Row
from toolchain.compression.code_bits import eq13_ratio
from odtool.cli.main import app
from toolchain.errors import ConfigError, UsageError

runner = CliRunner()


@pytest.mark.parametrize("text,n", [("2MiB", 2 * 1024**2), ("1.5 MB", 1_500_000), ("300KiB", 300 * 1024),
                                    ("4096", 4096), ("10b", 10), (123, 123)])
def test_parse_size(text, n):
    assert parse_size(text) == n


def test_parse_size_rejects_nonsense():
    with pytest.raises(UsageError, match="2MiB"):
        parse_size("two megs")


def write_pyproject(tmp_path, body: str):
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n\n[tool.odtool.size-budget]\n" + body)


def test_pyproject_budgets_first_match_wins(tmp_path):
    (tmp_path / "out").mkdir()
    big = tmp_path / "out" / "m.pte"
    big.write_bytes(b"x" * 3000)
    small = tmp_path / "out" / "m.onnx"
    small.write_bytes(b"x" * 10)
    write_pyproject(tmp_path, '"out/*.pte" = "2KB"\n"*.pte" = "1MiB"\n"*.onnx" = 100\n')
    checks = check_sizes([big, small], pyproject=tmp_path / "pyproject.toml")
    assert [c.budget for c in checks] == [2000, 100]
    assert [c.over for c in checks] == [True, False]
    assert checks[0].source == "pyproject: out/*.pte"


def test_bad_budget_value_is_reported(tmp_path):
    write_pyproject(tmp_path, '"*.pte" = "lots"\n')
    (tmp_path / "a.pte").write_bytes(b"1")
    with pytest.raises(ConfigError, match="lots"):
        check_sizes([tmp_path / "a.pte"], pyproject=tmp_path / "pyproject.toml")


def test_cli_exit_codes_and_parts(tmp_path):
    from toolchain.artifact.bundle import BundleWriter

    w = BundleWriter()
    w.add_bytes("big", "big.bin", b"x" * 5000)
    w.add_bytes("small", "small.bin", b"x" * 100)
    d = w.write(tmp_path / "art", {})
    r = runner.invoke(app, ["size-check", str(d), "--budget", "10KiB"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["size-check", str(d), "--budget", "4KB"])
    assert r.exit_code == 1
    assert "OVER" in r.output and "big.bin" in r.output and "over budget" in r.output
    r = runner.invoke(app, ["size-check", str(tmp_path / "missing.pte"), "--budget", "1MiB"])
    assert r.exit_code == 2 and "no such file" in r.output


def test_cli_uses_pyproject(tmp_path, monkeypatch):
    write_pyproject(tmp_path, '"*.bin" = "1KB"\n')
    (tmp_path / "a.bin").write_bytes(b"x" * 2000)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["size-check", "a.bin"])
    assert r.exit_code == 1 and "OVER" in r.output
    r = runner.invoke(app, ["size-check", "a.bin", "--json"])
    assert r.exit_code == 1 and '"budget_source": "pyproject: *.bin"' in r.output


def test_table1_reproduces_the_paper():
    # The paper's Table 1: |V| = 20,000, N = 100. Its rates are rounded inconsistently
    # (7.6 -> 8 but 3.5 -> 3), and its (8, 8) row says 185,600 where Eq. 13 gives 166,400.
    expected = {(2, 8): (41600, 48), (2, 128): (65600, 30), (2, 512): (142400, 14),
                (4, 8): (83200, 24), (4, 128): (131200, 15), (4, 512): (284800, 7),
                (8, 128): (262400, 8), (8, 512): (569600, 3)}
    for (m, k), (size, rate) in expected.items():
        row = Table1Row(20000, 100, m, k)
        assert row.compressed_units == size and abs(row.rate - rate) < 1
    # Table 4's CR = 29 for Tmall, M = 4, K = 32
    assert round(eq13_ratio(40728, 128, 4, 32)) == 29
    r = runner.invoke(app, ["size-report", "--items", "40728", "--dim", "128", "--M", "4", "--K", "32", "--json"])
    assert r.exit_code == 0 and '"compressed_units": 179296' in r.output
