"""``odtool size-check`` (the CI size gate) and ``odtool size-report`` (Table 1, real part sizes)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from odtool import api
from odtool.cli.common import print_json, stdout
from toolchain.sizes.budget import SizeCheck
from toolchain.sizes.units import human
from toolchain.sizes.parts import file_size, largest_parts
from toolchain.sizes.table1 import table1
from toolchain.errors import UsageError


def size_check(
    paths: List[Path] = typer.Argument(..., help="Artifact files (.pte/.ptl/.onnx) or artifact directories."),
    budget: Optional[str] = typer.Option(None, "--budget", "-b",
                                         help="Budget for every path, e.g. 2MiB (overrides pyproject)."),
    pyproject: Optional[Path] = typer.Option(None, help="pyproject.toml with [tool.odtool.size-budget] "
                                             "(default: the nearest one above the current directory)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Gate against this device profile's "
                                          "model_budget (name or .json), e.g. go-phone."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Check artifact sizes against budgets; exit 1 when any artifact is over.

    Each path is verified first, and one that fails is refused: an artifact directory must
    load (manifest parses, every part present with its sha256) and counts only its manifest
    and parts; an export must match the sha256 in its <file>.report.json (one without a
    report is flagged unverified).

    Budgets come from --budget or from pyproject.toml:

      [tool.odtool.size-budget]

      "demo-out/export/*.pte" = "1MiB"

    Examples:

      odtool size-check demo-out/export/student.pte --budget 1MiB

      odtool size-check demo-out/export/*.pte demo-out/export/*.onnx

      odtool size-check exports/student.pte --profile go-phone
    """
    checks = api.size_check(paths, budget, pyproject, profile=profile)
    show_checks(checks, as_json)
    api.require_within_budget(checks)


def show_checks(checks: list[SizeCheck], as_json: bool = False) -> None:
    """What ``odtool size-check`` prints: a row per path, then the largest parts of those over (or JSON)."""
    over = [c for c in checks if c.over]
    if as_json:
        print_json([{"path": str(c.path), "bytes": c.size, "budget": c.budget, "headroom": c.headroom,
                     "over": c.over, "budget_source": c.source, "verified": c.verified,
                     "largest_parts": c.largest_parts() if c.over else []} for c in checks])
    else:
        table = Table(title="artifact sizes", title_justify="left")
        for col in ("file", "size", "budget", "headroom", "verified", "status"):
            table.add_column(col, justify="left" if col == "file" else "right")
        for c in checks:
            status = "[red]OVER[/]" if c.over else ("[green]ok[/]" if c.budget is not None else "[dim]no budget[/]")
            table.add_row(str(c.path), human(c.size), human(c.budget) if c.budget is not None else "-",
                          human(c.headroom) if c.headroom is not None else "-",
                          c.verified if not c.verified.startswith("unverified") else f"[yellow]{c.verified}[/]",
                          status)
        stdout.print(table)
        for c in over:
            stdout.print(f"largest parts of {c.path} (shrink these first):")
            for name, n in c.largest_parts():
                stdout.print(f"  {human(n):>12}  {name}")


def _int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--{name} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise UsageError(f"--{name} needs positive integers, got {text!r}")
    return values


def size_report(
    artifact: Optional[Path] = typer.Argument(None, help="Optional artifact (directory or file) to break down."),
    items: int = typer.Option(20000, "--items", help="|V|, the number of items."),
    dim: int = typer.Option(100, "--dim", help="N, the embedding dimension."),
    m: str = typer.Option("2,4,8", "--M", help="Codebook counts, comma-separated."),
    k: str = typer.Option("8,128,512", "--K", help="Codebook sizes, comma-separated."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the paper's Table 1 (sizes before/after, compression ratio) and an artifact's real parts.

    The defaults reproduce the paper's Table 1 (|V| = 20,000, N = 100).

    Examples:

      odtool size-report

      odtool size-report --items 40728 --dim 128 --M 4 --K 32

      odtool size-report demo-out/artifacts/student
    """
    rows = table1(items, dim, _int_list(m, "M"), _int_list(k, "K"))
    parts = largest_parts(artifact, top=50) if artifact else []
    if artifact is not None and not artifact.exists():
        raise UsageError(f"{artifact}: no such file or directory")
    if as_json:
        print_json({"table1": [r.to_dict() for r in rows],
                    "artifact": {"path": str(artifact), "bytes": file_size(artifact),
                                 "parts": [{"name": n, "bytes": b} for n, b in parts]} if artifact else None})
        return
    t = Table(title=f"Table 1: |V| = {items:,}, N = {dim}", title_justify="left")
    # Columns: the paper's (units = stored numbers), then real bytes (fp32 table vs packed codes).
    for col in ("size", "M", "K", "after", "rate", "fp32", "packed", "x bytes"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(f"{r.original_units:,}", str(r.m), str(r.k), f"{r.compressed_units:,}", f"{r.rate:.0f}",
                  human(r.original_bytes), human(r.compressed_bytes(True)),
                  f"{r.original_bytes / r.compressed_bytes(True):.0f}")
    stdout.print(t)
    if artifact:
        total = file_size(artifact)
        pt = Table(title=f"{artifact}: {human(total)}", title_justify="left")
        for col in ("part", "bytes", "share"):
            pt.add_column(col, justify="left" if col == "part" else "right")
        for name, n in parts:
            pt.add_row(name, f"{n:,}", f"{100 * n / max(total, 1):.1f}%")
        stdout.print(pt)
        manifest = artifact / "manifest.json" if artifact.is_dir() else None
        if manifest is not None and manifest.is_file():
            import json

            m = json.loads(manifest.read_text())
            if "deployed_bytes" in m:
                vocab = m.get("parts", {}).get("vocab", {}).get("bytes", 0)
                stdout.print(f"deployed bytes (what the device holds, as `odtool train --budget` and `odtool eval` "
                             f"count them): {m['deployed_bytes']:,}; vocabulary {vocab:,} bytes beside it, not counted")
