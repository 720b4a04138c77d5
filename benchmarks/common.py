"""Shared pieces of the benchmark scripts: machine description, result files, session draws."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import executorch.version
    import onnxruntime

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "executorch": executorch.version.__version__, "onnxruntime": onnxruntime.__version__,
            "platform": platform.platform()}


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])


def header(title: str) -> list[str]:
    m = machine()
    return [f"# {title}", "",
            f"- command: `{command_line()}`",
            f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
            f"- machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, torch {m['torch']}, "
            f"executorch {m['executorch']}, onnxruntime {m['onnxruntime']}", ""]


def write_results(stem: str, markdown: list[str], data: dict, out: Path = RESULTS) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    md.write_text("\n".join(markdown) + "\n")
    js.write_text(json.dumps({"command": command_line(), "machine": machine(), **data}, indent=2, sort_keys=True) + "\n")
    return md, js


def parse_cell(cell: str) -> tuple[int, int, bool]:
    """An M x K grid cell, "4x32" or "4x256:sampled" -> (M, K, sampled); ValueError says why not."""
    mk, _, how = cell.strip().lower().partition(":")
    try:
        m, k = (int(v) for v in mk.split("x"))
    except ValueError:
        raise ValueError(f"{cell!r} is not MxK (e.g. 4x32, or 4x256:sampled)") from None
    if how not in ("", "sampled"):
        raise ValueError(f"{cell!r}: the only cell option is ':sampled'")
    return m, k, how == "sampled"
