"""Data entry points used by the CLI and the other commands: read -> prepare -> save."""

from __future__ import annotations

from pathlib import Path

from toolchain.data.dataset import SessionDataset
from toolchain.data.preprocess import PrepareOptions, prepare
from toolchain.data.raw import RawPairs, RawSessions
from toolchain.data.readers import READERS, ReadOptions, detect_format
from toolchain.data.synth import SynthConfig, default_dataset_dir, synthesize
from toolchain.errors import DataFormatError
from toolchain.outputs import writing
from toolchain.progress import info


def read_raw(path: str | Path, fmt: str = "auto", opts: ReadOptions | None = None) -> RawSessions | RawPairs:
    """Read a raw session file with its format's reader (detected if ``auto``); report bad rows."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, "no such file or directory")
    opts = opts or ReadOptions()
    name = detect_format(path) if fmt == "auto" else fmt
    raw = READERS.get(name).read(path, opts)
    if opts.n_bad_rows:
        raw.source["skipped_bad_rows"] = opts.n_bad_rows
        info(f"[yellow]skipped {opts.n_bad_rows} malformed rows[/], e.g.:")
        for msg in opts.bad_rows:
            info(f"  {msg}")
    return raw


def prepare_dataset(path: str | Path, out: str | Path, *, fmt: str = "auto",
                    prepare_opts: PrepareOptions | None = None,
                    read_opts: ReadOptions | None = None, overwrite: bool = False) -> SessionDataset:
    """Read a raw log, prepare it and save the dataset in ``out`` (see :mod:`toolchain.outputs`)."""
    with writing(out, "dataset", overwrite=overwrite, inputs=[path]):
        raw = read_raw(path, fmt, read_opts)
        ds = prepare(raw, prepare_opts or PrepareOptions())
        ds.save(out)
    return ds


def synth_dataset(cfg: SynthConfig, out: str | Path,
                  prepare_opts: PrepareOptions | None = None, overwrite: bool = False) -> SessionDataset:
    """Generate the synthetic dataset ``cfg`` and save it in ``out``."""
    with writing(out, "dataset", overwrite=overwrite):
        ds = prepare(synthesize(cfg), prepare_opts or PrepareOptions())
        ds.save(out)
    return ds


def load_dataset(path: str | Path | None) -> SessionDataset:
    """Load a prepared dataset; ``None`` means the synthetic default (built on first use)."""
    if path is not None:
        return SessionDataset.load(path)
    default = default_dataset_dir()
    if not (default / "manifest.json").is_file():
        info(f"no --data given: building the synthetic default dataset in {default}")
        return synth_dataset(SynthConfig(), default)
    return SessionDataset.load(default)
