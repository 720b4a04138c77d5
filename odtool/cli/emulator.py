"""``odtool emulator setup | status``: provision and inspect the Pixel 2 emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from odtool import api
from odtool.cli.common import new_app, print_json, stdout

app = new_app(
    "Provision and inspect the emulated phone (QEMU user mode + arm64 sysroot + aarch64 wheels).\n\n"
    "Example: odtool emulator setup && odtool emulator status"
)

CACHE_HELP = "Emulator cache directory (default: $ODTOOL_EMULATOR_CACHE, else $ODTOOL_HOME/emulator)."


@app.command("setup")
def setup_command(
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
    profile: str = typer.Option("pixel2", "--profile", help="Device profile (name or .json path)."),
    with_torch: bool = typer.Option(False, "--with-torch",
                                    help="Also provision the aarch64 torch wheel (a few hundred MB) "
                                         "for TorchScript-lite."),
    torch_index_url: str = typer.Option(
        "https://download.pytorch.org/whl/cpu", "--torch-index-url",
        help="pip index for the aarch64 torch wheel (with --with-torch); PyPI's is a CUDA build."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be downloaded, then stop."),
) -> None:
    """Provision the emulator into its cache: idempotent, a second run only verifies.

    Installs missing host tools when root (else prints the apt-get command), says what it
    downloads and how big first, then fetches arm64 .debs and aarch64 wheels pinned to this
    venv's versions, builds the sysroot, the profile's CPU tree and both runners, and
    smoke-tests the result.

    Examples:

      odtool emulator setup

      odtool emulator setup --cache /data/odtool-emu --with-torch
    """
    report = api.emulator_setup(cache, profile=profile, with_torch=with_torch, torch_index_url=torch_index_url,
                                dry_run=dry_run)
    if report.dry_run:
        stdout.print(f"dry run: {len(report.planned)} file(s) to download into {report.layout.root}")
        return
    stdout.print(f"[bold green]emulator ready[/] in {report.seconds:.1f} s: {report.profile.summary()}")
    for line in report.did or ["nothing to do: everything was there, smoke test passed"]:
        stdout.print(f"  {line}")
    stdout.print("guest: " + ", ".join(f"{k} {v}" for k, v in sorted(report.versions.items())))
    stdout.print(f"cache: {report.layout.root}")


@app.command("status")
def status_command(
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
    profile: str = typer.Option("pixel2", "--profile", help="Device profile (name or .json path)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show what the emulator cache holds and what is missing (reads only).

    Exits 1 when the emulator is not ready to run.

    Example: odtool emulator status --json
    """
    layout, rows, ok = api.emulator_status(cache, profile)
    if as_json:
        print_json({"cache": str(layout.root), "ready": ok,
                    "items": [{"item": r.item, "ok": r.ok, "optional": r.optional, "detail": r.detail}
                              for r in rows]})
    else:
        table = Table(title=f"emulator cache {layout.root}", title_justify="left")
        table.add_column("component")
        table.add_column("state")
        table.add_column("detail", overflow="fold")
        for r in rows:
            state = "[green]ok[/]" if r.ok else ("[yellow]optional[/]" if r.optional else "[red]missing[/]")
            table.add_row(r.item, state, r.detail)
        stdout.print(table)
        stdout.print("[bold green]ready[/]" if ok else "[bold red]not ready[/]: run `odtool emulator setup`")
    if not ok:
        raise typer.Exit(1)
