"""The bench report: results.json, the paper's Table 5 layout in Markdown, and a PNG chart.

Table 5 layout: one row per dataset (preset or artifact directory), one column per model,
seconds per 100 sessions; then the student's speed-up against OD-Rec and against the
teacher, measured in the same run. Emulated times are labelled as such: their ratios are
the headline, their absolute values are not a phone's.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from android_harness.bench.plan import BenchPlan
from android_harness.bench.run import Cell
from toolchain.atomic import atomic_write_json, atomic_write_text

NAMES = {"gru4rec": "GRU4Rec", "narm": "NARM", "stamp": "STAMP", "srgnn": "SR-GNN", "odrec": "OD-Rec",
         "teacher": "Teacher", "student": "Student", "paper-student": "Paper student"}


def _cell(cells: list[Cell], row: str, model: str, fmt: str) -> Cell | None:
    return next((c for c in cells if (c.row, c.model, c.format) == (row, model, fmt)), None)


def speedup(cells: list[Cell], row: str, fmt: str, other: str) -> float | None:
    """How many times faster the student ran than ``other`` for this row and format; None if either failed."""
    s, o = _cell(cells, row, "student", fmt), _cell(cells, row, other, fmt)
    if s and o and s.ok and o.ok and s.seconds_per_100:
        return o.seconds_per_100 / s.seconds_per_100
    return None


def markdown(plan: BenchPlan, cells: list[Cell], device: dict, command: str) -> str:
    """The bench report in Markdown: Table 5 per format, then sizes, memory, host agreement, failures."""
    rows = [r.label for r in plan.rows]
    emulated = any(c.emulated for c in cells)
    lines = [f"# odtool bench: {plan.device}" + (f" ({plan.profile}, emulated)" if emulated else ""), "",
             f"- command: `{command}`", f"- date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
             f"- device: {json.dumps(device, sort_keys=True)}",
             f"- {plan.sessions} sessions, {plan.threads} thread(s), {plan.warmup} warm-up + {plan.repeat} timed "
             f"pass(es), max length {plan.max_len}, top-{plan.top_k}, student kernels: {plan.kernels}"]
    for r in plan.rows:
        lines.append(f"- row {r.label}: " + (f"trained artifacts in {r.artifacts}" if r.trained else
                                              f"models built at {r.preset} scale with initialised weights "
                                              "(timing does not depend on weight values)"))
    for fmt in plan.formats:
        unit = "emulated seconds" if emulated else "seconds"
        lines += ["", f"## Prediction time per 100 sessions ({unit}), {fmt}", "",
                  "| dataset | " + " | ".join(NAMES.get(m, m) for m in plan.models)
                  + " | Student vs OD-Rec | Student vs Teacher |",
                  "|---|" + "---:|" * (len(plan.models) + 2)]
        for row in rows:
            vals = []
            for m in plan.models:
                c = _cell(cells, row, m, fmt)
                vals.append(f"{c.seconds_per_100:.4f}" if c and c.ok else f"failed ({_short(c.error) if c else '-'})")
            so, st = speedup(cells, row, fmt, "odrec"), speedup(cells, row, fmt, "teacher")
            lines.append(f"| {row} | " + " | ".join(vals) + f" | {_x(so)} | {_x(st)} |")
    lines += ["", "## Sizes, memory, agreement with the host", "",
              "Input: *trimmed* = the session as [1, len] (the model was exported with a dynamic length), "
              "*padded* = [1, max length] (the export needs a fixed length, e.g. nn.GRU, or TorchScript).", "",
              "| dataset | model | format | input | file bytes | p50 µs | p90 µs | load ms | peak RSS MB | top-k vs host |",
              "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for c in cells:
        if c.ok:
            lines.append(f"| {c.row} | {c.model} | {c.format} | {c.input} | {c.bytes:,} | {c.p50_us:.1f} | {c.p90_us:.1f} | "
                         f"{c.load_ms:.1f} | {c.peak_rss_kb / 1024:.1f} | {c.topk_vs_host or '-'} |")
    failed = [c for c in cells if not c.ok]
    if failed:
        lines += ["", "## Failed cells", ""] + [f"- {c.row} / {c.model} / {c.format}: {c.error}" for c in failed]
    return "\n".join(lines) + "\n"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}x"


def _short(text: str | None, n: int = 60) -> str:
    text = (text or "").splitlines()[0] if text else ""
    return text if len(text) <= n else text[: n - 1] + "…"


def chart(plan: BenchPlan, cells: list[Cell], path: Path) -> Path | None:
    """Grouped bars: one group per dataset, one bar per model (log scale), first format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fmt = plan.formats[0]
    rows = [r.label for r in plan.rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(plan.models) * len(rows)), 4))
    width = 0.8 / max(1, len(plan.models))
    any_bar = False
    for j, m in enumerate(plan.models):
        xs, ys = [], []
        for i, row in enumerate(rows):
            c = _cell(cells, row, m, fmt)
            if c and c.ok and c.seconds_per_100 and c.seconds_per_100 > 0:
                xs.append(i + (j - (len(plan.models) - 1) / 2) * width)
                ys.append(c.seconds_per_100)
        if xs:
            any_bar = True
            ax.bar(xs, ys, width, label=NAMES.get(m, m))
    if not any_bar:
        plt.close(fig)
        return None
    ax.set_xticks(range(len(rows)), rows)
    ax.set_yscale("log")
    emulated = any(c.emulated for c in cells)
    ax.set_ylabel(("emulated " if emulated else "") + "seconds per 100 sessions (log)")
    ax.set_title(f"Prediction time, {fmt}, {plan.device}" + (f" ({plan.profile})" if emulated else ""))
    ax.legend(fontsize=8, ncol=min(4, len(plan.models)))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(plan: BenchPlan, cells: list[Cell], device: dict, command: str,
                 into: Path | None = None) -> dict[str, Path]:
    """results.json, table5.md and table5.png in ``into`` (default ``plan.out``; the bench stages
    its output elsewhere and renames it to ``plan.out`` when complete)."""
    out = into or plan.out
    results = {"command": command, "plan": plan.to_dict(), "device": device,
               "cells": [c.to_dict() for c in cells],
               "speedups": {f"{row.label}/{fmt}": {"student_vs_odrec": speedup(cells, row.label, fmt, "odrec"),
                                                   "student_vs_teacher": speedup(cells, row.label, fmt, "teacher")}
                            for row in plan.rows for fmt in plan.formats}}
    atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=_nan_safe)))
    atomic_write_text(out / "table5.md", markdown(plan, cells, device, command))
    paths = {"json": out / "results.json", "markdown": out / "table5.md"}
    png = chart(plan, cells, out / "table5.png")
    if png:
        paths["chart"] = png
    return paths


def _nan_safe(o):
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)
