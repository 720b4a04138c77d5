"""One bench as ``odtool bench`` makes it: run the plan, write the report, then show it in ``plan.out``.

Exports, sessions and the report are written in a private staging directory that is renamed to
``plan.out`` when complete (:mod:`toolchain.outputs`: a bench report is replaced only with
``overwrite``; the plan's artifact directories and dataset are inputs, never outputs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from android_harness.bench.plan import BenchPlan
from android_harness.bench.report import write_report
from android_harness.bench.run import Cell, run_plan
from android_harness.devices import DEVICES
from toolchain.atomic import atomic_dir
from toolchain.outputs import mark, writing


@dataclass
class BenchOutcome:
    """The cells of a bench and the report files written for them (under ``plan.out``)."""

    plan: BenchPlan
    cells: list[Cell]
    paths: dict[str, Path]  # "json", "markdown" and, when drawn, "chart"

    @property
    def all_failed(self) -> bool:
        """True when there were cells and none of them ran."""
        return bool(self.cells) and not any(c.ok for c in self.cells)


def bench(plan: BenchPlan, *, command: str, overwrite: bool = False) -> BenchOutcome:
    """Measure ``plan`` on its device and write results.json, table5.md and table5.png to ``plan.out``;
    ``command`` is the command line the report records."""
    inputs = [*(r.artifacts for r in plan.rows if r.artifacts is not None), plan.data]
    with writing(plan.out, "bench", overwrite=overwrite, inputs=inputs), atomic_dir(plan.out) as staged:
        cells = run_plan(dataclasses.replace(plan, out=staged))
        dev = DEVICES.get(plan.device)
        describe = {"device": plan.device, "profile": plan.profile if plan.device != "host" else None,
                    "emulated": getattr(dev, "emulated", False)}
        written = write_report(plan, cells, describe, command, into=staged)
        mark(staged, "bench")
    return BenchOutcome(plan, cells, {k: plan.out / p.relative_to(staged) for k, p in written.items()})
