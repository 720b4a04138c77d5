"""``odtool data``: prepare real session logs, generate the synthetic default, print stats."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from odtool import api
from odtool.cli.common import kv_table, new_app, print_json, stdout
from toolchain.data.dataset import SessionDataset
from toolchain.data.preprocess import PrepareOptions
from toolchain.data.readers import READERS, ReadOptions
from toolchain.data.stats import TABLE2_COLUMNS, table2_row
from toolchain.data.synth import SynthConfig, default_dataset_dir

app = new_app(
    "Prepare session data into the canonical dataset every command reads.\n\n"
    "Examples:\n\n"
    "  odtool data prepare ../shared/data/diginetica-srgnn --out data/diginetica\n\n"
    "  odtool data synth --out data/synth --items 3000 --sessions 20000\n\n"
    "  odtool data stats data/diginetica"
)

DataFormat = Enum("DataFormat", {n.replace("-", "_"): n for n in ["auto", *READERS.names()]}, type=str)


class SplitMethod(str, Enum):
    """How to split sessions into train/test: by last item (paper) or by time (SR-GNN)."""
    last_item = "last-item"
    time = "time"


def show_stats(ds: SessionDataset, where: Path | None, as_json: bool = False) -> None:
    """A dataset's Table 2 columns, as ``odtool data`` prints them (a table, or JSON)."""
    row = table2_row(ds)
    if as_json:
        print_json({"dataset": str(where) if where else None, "stats": row,
                    "source": ds.manifest.get("source", {}), "filters": ds.manifest.get("filters", [])})
        return
    rows = [(label, row[key]) for key, label in TABLE2_COLUMNS]
    stdout.print(kv_table(f"dataset {where}" if where else "dataset", rows))


@app.command()
def prepare(
    input: Path = typer.Argument(..., help="Raw file, or a directory with SR-GNN train.txt/test.txt."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the dataset to."),
    format: DataFormat = typer.Option("auto", "--format", "-f", help="Input format; auto detects it."),
    split: SplitMethod = typer.Option(SplitMethod.last_item, help="last-item (paper) or time (SR-GNN)."),
    test_days: float = typer.Option(7.0, help="Time split: days at the end that form the test set."),
    min_item_count: int = typer.Option(5, help="Drop items seen fewer times than this."),
    min_session_length: int = typer.Option(2, help="Drop sessions shorter than this."),
    valid_fraction: float = typer.Option(0.1, help="Share of training sessions used for validation."),
    seed: int = typer.Option(0, help="Seed of the validation split."),
    skip_bad_rows: bool = typer.Option(False, help="Skip malformed rows (reported) instead of failing."),
    session_gap_minutes: float = typer.Option(30.0, help="RetailRocket events.csv: inactivity cutting sessions."),
    event_types: str = typer.Option("view", help="RetailRocket events.csv: comma-separated events to keep."),
    string_ids: bool = typer.Option(False, "--string-ids", help="text: item ids may be any token, not only "
                                    "integers."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the dataset already in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the stats as JSON."),
) -> None:
    """Read a raw session log and write the canonical dataset (filtered, split, augmented).

    Formats: srgnn (SR-GNN/DHCN pickles, restricted loader), diginetica, yoochoose,
    retailrocket (Kaggle events.csv), retailrocket-tsv, tmall (IJCAI-15), text (one session
    per line, comma-separated ids).

    Example: odtool data prepare yoochoose-clicks.dat --out data/yoochoose --split time --test-days 1
    """
    opts = PrepareOptions(min_item_count=min_item_count, min_session_length=min_session_length,
                          split=split.value, test_days=test_days, valid_fraction=valid_fraction, seed=seed)
    read_opts = ReadOptions(skip_bad_rows=skip_bad_rows, session_gap_minutes=session_gap_minutes,
                            event_types=tuple(e.strip() for e in event_types.split(",") if e.strip()),
                            string_ids=string_ids)
    ds = api.prepare(input, out, fmt=format.value, prepare_opts=opts, read_opts=read_opts, overwrite=overwrite)
    show_stats(ds, out, as_json)


@app.command()
def synth(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Directory (default: the cached default)."),
    items: int = typer.Option(SynthConfig.n_items, help="Number of items before filtering."),
    sessions: int = typer.Option(SynthConfig.n_sessions, help="Number of sessions to draw."),
    seed: int = typer.Option(SynthConfig.seed, help="Random seed (same seed, same dataset)."),
    zipf: float = typer.Option(SynthConfig.zipf_exponent, help="Zipf exponent of item popularity."),
    mean_length: float = typer.Option(SynthConfig.mean_length, help="Mean session length."),
    p_follow: float = typer.Option(SynthConfig.p_follow, help="Probability of a learnable transition."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the dataset already in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the stats as JSON."),
) -> None:
    """Generate the synthetic dataset (Zipf popularity, latent interests, learnable transitions).

    Every command falls back to the default synthetic dataset when no --data is given.

    Example: odtool data synth --out data/synth --items 5000 --sessions 50000 --seed 1
    """
    cfg = SynthConfig(n_items=items, n_sessions=sessions, seed=seed, zipf_exponent=zipf,
                      mean_length=mean_length, p_follow=p_follow)
    out = out or default_dataset_dir()
    ds = api.synth(out, cfg, overwrite=overwrite)
    show_stats(ds, out, as_json)


@app.command()
def stats(
    data: Optional[Path] = typer.Argument(None, help="Dataset directory (default: the synthetic default)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print the paper's Table 2 columns and the popularity skew of a dataset.

    Example: odtool data stats data/diginetica --json
    """
    ds = api.load(data)
    show_stats(ds, data or default_dataset_dir(), as_json)
