"""Pieces every CLI module shares: the error-handling group, output helpers."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from toolchain.errors import NotBuiltYetError, OdtoolError

stdout = Console()
stderr = Console(stderr=True)


class OdtoolGroup(TyperGroup):
    """Shows :class:`OdtoolError` as a one-paragraph message (no traceback) and exits."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OdtoolError as e:
            # messages quote user input and TOML sections ("[tool.odtool.size-budget]"): never markup
            stderr.print(f"[bold red]error:[/] {escape(e.message)}", highlight=False, soft_wrap=True)
            if e.hint:
                stderr.print(f"[bold]hint:[/] {escape(e.hint)}", highlight=False, soft_wrap=True)
            raise SystemExit(e.exit_code) from None
        except KeyboardInterrupt:
            stderr.print("[yellow]interrupted[/]")
            raise SystemExit(130) from None


def new_app(help_text: str, **kw) -> typer.Typer:
    """A Typer app with odtool's error-handling group, -h/--help, and no shell completion."""
    return typer.Typer(cls=OdtoolGroup, help=help_text, no_args_is_help=True,
                       rich_markup_mode="rich", pretty_exceptions_enable=False, add_completion=False,
                       context_settings={"help_option_names": ["-h", "--help"]}, **kw)


def not_built(command: str, issue: int, what: str) -> None:
    """Raise NotBuiltYetError saying which issue brings ``odtool <command>``."""
    raise NotBuiltYetError(f"`odtool {command}` is not built yet: it arrives with issue #{issue} ({what}).")


def print_json(obj: Any) -> None:
    """Write ``obj`` to stdout as indented, key-sorted JSON (numpy scalars as numbers, others as str)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def kv_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    """A two-column rich Table of key / formatted value rows, without a header."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, fmt(v))
    return table


def fmt(v: Any) -> str:
    """A value for a table: floats to 4 decimals (2, with separators, from 10), ints with separators."""
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
