"""Deterministic, pickle-free ``.npz`` files.

``numpy.savez`` stamps each member with the current time, so the same arrays give
different bytes. Here members carry a fixed date and are written in the given order, so
the same arrays always give the same file. Reading refuses object arrays (no pickle).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from toolchain.atomic import atomic_path
from toolchain.errors import DataFormatError

_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` atomically; object dtypes are rejected."""
    with atomic_path(path, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, arr in arrays.items():
                arr = np.ascontiguousarray(arr)
                if arr.dtype.hasobject:
                    raise TypeError(f"array '{name}' has an object dtype; refusing to pickle")
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, arr, allow_pickle=False)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` written by :func:`save_npz` (or numpy), no pickle."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataFormatError(path, f"not a readable .npz file ({e})") from e
