"""The paper's Table 5 on our devices: prediction time per 100 sessions, every model, both presets.

Runs ``odtool bench`` (the same code) on the host and on the Pixel 2 emulator, for the Tmall
and RetailRocket presets (models built at the paper's scale with initialised weights:
timing does not depend on their values), and writes per device ``table5_<device>.md``,
``.json`` and ``.png`` plus ``table5_summary.md`` with the paper's claims checked: the student
at least 8x (Tmall) and 6x (RetailRocket) faster than OD-Rec in the emulator, and faster than
every classic baseline. Emulated times are QEMU's, not a phone's: the ratios are the result.

    python benchmarks/table5.py                          # host + emulator, ~40 min on 2 cores
    python benchmarks/table5.py --devices host --sessions 50
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, command_line, header  # noqa: E402

BASELINES = ("gru4rec", "narm", "stamp", "srgnn")
CLAIMS = {"tmall": 8.0, "retailrocket": 6.0}  # the paper's student-vs-OD-Rec speed-ups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", default="host,emulator")
    ap.add_argument("--presets", default="tmall,retailrocket")
    ap.add_argument("--models", default="student,paper-student,odrec,teacher,gru4rec,narm,stamp,srgnn")
    ap.add_argument("--formats", default="executorch,onnx")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--core", type=int, default=1, help="host CPU the runners (and QEMU) are pinned to")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from android_harness.bench.plan import BenchPlan, Row
    from android_harness.bench.report import speedup, write_report
    from android_harness.bench.run import run_plan

    summary = header("Table 5 on our devices: the paper's claims checked")
    for device in args.devices.split(","):
        with tempfile.TemporaryDirectory(prefix=f"odt-table5-{device}-") as tmp:
            plan = BenchPlan(device=device, rows=[Row(p, preset=p) for p in args.presets.split(",")],
                             models=args.models.split(","), formats=args.formats.split(","),
                             sessions=args.sessions, warmup=3, repeat=1 if device == "emulator" else 3,
                             cores=(args.core,), out=Path(tmp), check_host=True)
            cells = run_plan(plan)
            paths = write_report(plan, cells, {"device": device, "emulated": device == "emulator"}, command_line())
            args.out.mkdir(parents=True, exist_ok=True)
            for kind, path in paths.items():
                shutil.copy(path, args.out / f"table5_{device}{path.suffix}")
        summary += [f"## {device}" + (" (emulated Pixel 2)" if device == "emulator" else ""), "",
                    "| preset | format | student vs OD-Rec (claim) | slowest baseline / student | "
                    "fastest baseline / student | student faster than every baseline? |",
                    "|---|---|---:|---:|---:|---|"]
        for preset in args.presets.split(","):
            for fmt in args.formats.split(","):
                so = speedup(cells, preset, fmt, "odrec")
                base = [speedup(cells, preset, fmt, b) for b in BASELINES if b in args.models]
                base = [b for b in base if b is not None]
                claim = CLAIMS.get(preset)
                verdict = "-" if not base else ("yes" if min(base) > 1 else "no")
                summary.append(f"| {preset} | {fmt} | {_x(so)} ({'>=' + _x(claim) if claim else '-'}: "
                               f"{'met' if so and claim and so >= claim else 'not met'}) | "
                               f"{_x(max(base) if base else None)} | {_x(min(base) if base else None)} | {verdict} |")
        summary.append("")
    (args.out / "table5_summary.md").write_text("\n".join(summary) + "\n")
    print("\n".join(summary))


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}x"


if __name__ == "__main__":
    main()
