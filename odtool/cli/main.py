"""The ``odtool`` entry point: one Typer app with a group per stage of the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from odtool import __version__
from odtool.cli import bench as bench_cli
from odtool.cli import data as data_cli
from odtool.cli import emulator as emulator_cli
from odtool.cli import export as export_cli
from odtool.cli import freeze as freeze_cli
from odtool.cli import size as size_cli
from odtool.cli import train as train_cli
from odtool.cli.common import new_app, stdout
from odtool.cli.evaluate import eval_command
from toolchain.progress import set_quiet

app = new_app(
    "odtool: train, compress, freeze, export and benchmark on-device session recommenders "
    "(EODRec compositional-code students).\n\n"
    "Pipeline: data -> train -> eval -> freeze -> export -> bench -> size-check.\n\n"
    "Quick start: odtool demo"
)

app.add_typer(data_cli.app, name="data", help="Prepare datasets: prepare | synth | stats.")
app.command("eval")(eval_command)

app.add_typer(train_cli.app, name="train",
              help="Train: teacher | student | odrec | gru4rec | narm | stamp | srgnn.")

app.add_typer(emulator_cli.app, name="emulator", help="Pixel 2 emulator: setup | status.")


app.command("freeze")(freeze_cli.freeze_command)
app.command("export")(export_cli.export_command)


app.command("size-check")(size_cli.size_check)
app.command("size-report")(size_cli.size_report)


app.command("bench")(bench_cli.bench_command)


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Where the demo writes everything."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the outputs of an earlier demo in --out."),
) -> None:
    """Run the whole pipeline on the synthetic default: data -> train -> freeze -> export -> bench.

    Example: odtool demo --out demo-out --overwrite
    """
    from odtool.cli.demo import run_demo  # imports the other command modules, never this one

    run_demo(out, overwrite=overwrite)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"odtool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    set_quiet(quiet)


def main() -> None:
    """The ``odtool`` console script."""
    app(prog_name="odtool")


if __name__ == "__main__":
    main()
