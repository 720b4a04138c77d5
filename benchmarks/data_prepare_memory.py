"""Peak memory and time of ``odtool data prepare`` against the size of the input.

GitHub issue 11: sequence-splitting augmentation used to store every prefix in full, so one
long session cost O(length^2) (a 2M-item line drove ``data prepare`` to 23 GB). This writes
plain-text session files (one session per line, comma-separated ids) of increasing size in
two shapes:

* ``long``: the whole input is one session of N clicks (ids drawn from a 1,000-id vocabulary);
* ``many``: sessions of 2 + Poisson(8) clicks, N clicks in all;

runs ``odtool data prepare FILE --out DIR`` on each in its own subprocess (one thread), and
records the child's peak RSS (``VmHWM``, read by the child at exit), its wall time and the size of
the dataset it wrote. Linear memory shows as a steady increment of RSS per added click (the
"slope" column: RSS growth from the previous size over the clicks added); the interpreter and
its imports are the fixed part. Writes ``data_prepare_memory.md`` / ``.json`` in
benchmarks/results.

    python benchmarks/data_prepare_memory.py
    python benchmarks/data_prepare_memory.py --sizes 10000,100000 --shapes long --baseline-root /tmp/old
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (10_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000)
VOCAB = 1000


def write_input(path: Path, shape: str, n: int, seed: int = 0) -> int:
    """Write ``n`` clicks as plain text; returns the number of bytes."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 100_000, size=VOCAB)
    clicks = ids[rng.integers(0, VOCAB, size=n)].astype(str)
    if shape == "long":
        lines = [",".join(clicks.tolist())]
    else:
        lengths = 2 + rng.poisson(8, size=n // 2)
        cuts = np.cumsum(lengths)
        cuts = cuts[cuts < n]
        lines = [",".join(chunk.tolist()) for chunk in np.split(clicks, cuts)]
    path.write_text("\n".join(lines) + "\n")
    return path.stat().st_size


# The child reports its own VmHWM (peak RSS of this process image) at exit. The rusage that
# os.wait4 / RUSAGE_CHILDREN give is not usable here: Linux carries the parent's high-water mark
# over into a forked child's ru_maxrss, and this parent (numpy, torch, the generated input) is
# bigger than the small runs.
LAUNCH = """import atexit, os, sys
def _peak():
    with open('/proc/self/status') as f:
        hwm = next(line for line in f if line.startswith('VmHWM:'))
    with open(os.environ['ODTOOL_BENCH_PEAK'], 'w') as f:
        f.write(hwm.split()[1])
atexit.register(_peak)
sys.argv = ['odtool'] + sys.argv[1:]
from odtool.cli.main import main
main()
"""


def measure(raw: Path, out: Path, code_root: Path) -> dict:
    """One ``data prepare`` in a fresh process: its peak RSS (VmHWM) and wall time."""
    peak_file = out.parent / f"{out.name}.peak"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(code_root),
               ODTOOL_BENCH_PEAK=str(peak_file))
    cmd = [sys.executable, "-c", LAUNCH, "data", "prepare", str(raw), "--out", str(out), "--format", "text",
           "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=code_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"data prepare {raw.name} failed ({proc.returncode}):\n"
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    peak_kib = int(peak_file.read_text())
    peak_file.unlink()
    return {"peak_rss_bytes": peak_kib * 1024, "wall_s": round(wall, 3),
            "dataset_bytes": (out / "arrays.npz").stat().st_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="clicks per input, comma-separated")
    ap.add_argument("--shapes", default="long,many", help="long (one session) and/or many (short sessions)")
    ap.add_argument("--code-root", type=Path, default=ROOT, help="odtool checkout to run (default: this one)")
    ap.add_argument("--baseline-root", type=Path, default=None,
                    help="an older checkout to measure too (e.g. `git archive` of the commit before the fix)")
    ap.add_argument("--baseline-label", default="baseline", help="what the baseline is, for the report")
    ap.add_argument("--baseline-sizes", default="4000,8000,16000",
                    help="sizes for the baseline (its cost is quadratic: keep them small)")
    ap.add_argument("--stem", default="data_prepare_memory")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = [s.strip() for s in args.shapes.split(",")]
    runs = [("current", args.code_root, shape, n) for shape in shapes for n in sizes]
    if args.baseline_root:
        runs += [(args.baseline_label, args.baseline_root, "long", int(n)) for n in args.baseline_sizes.split(",")]

    rows = []
    with tempfile.TemporaryDirectory(prefix="odtool-prepare-mem-") as tmp:
        tmp = Path(tmp)
        for code, root, shape, n in runs:
            raw = tmp / f"{shape}-{n}.txt"
            nbytes = write_input(raw, shape, n)
            out = tmp / f"out-{code}-{shape}-{n}"
            r = measure(raw, out, root)
            row = {"code": code, "shape": shape, "clicks": n, "input_bytes": nbytes, **r,
                   "rss_bytes_per_click": r["peak_rss_bytes"] / n, "dataset_bytes_per_click": r["dataset_bytes"] / n}
            prev = [p for p in rows if p["code"] == code and p["shape"] == shape]
            if prev:
                p = prev[-1]
                row["slope_rss_bytes_per_added_click"] = (r["peak_rss_bytes"] - p["peak_rss_bytes"]) / (n - p["clicks"])
            rows.append(row)
            print(f"{code:8s} {shape:5s} {n:>9,} clicks {nbytes / 1e6:7.2f} MB in: peak RSS "
                  f"{r['peak_rss_bytes'] / 2**20:8.1f} MiB, {r['wall_s']:6.2f} s, dataset "
                  f"{r['dataset_bytes'] / 1e6:7.2f} MB ({row['dataset_bytes_per_click']:.1f} B/click)", flush=True)
            for f in out.iterdir():
                f.unlink()
            raw.unlink()

    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        cpu = "unknown"
    md = header("`odtool data prepare`: peak memory and time against input size")
    md += [f"- `lscpu | grep 'Model name'`: {cpu}; ids drawn from {VOCAB:,} random 1-5 digit ids", ""]
    md += ["Plain-text input (`--format text`), default options (last-item split, min item count 5, "
           "10% validation). Each run is a fresh `python -m odtool.cli.main data prepare` process "
           "with `OMP_NUM_THREADS=1`; peak RSS is that child's `VmHWM` (read from /proc at exit), so it "
           "includes the interpreter and the imports (the fixed part). *slope* is the RSS added per "
           "click added since the previous size: constant slope = linear memory. `long` is one "
           "session holding every click; `many` is sessions of 2 + Poisson(8) clicks.", ""]
    md += ["| code | shape | clicks | input MB | peak RSS MiB | RSS B/click | slope B/click | wall s "
           "| dataset MB | dataset B/click |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        slope = r.get("slope_rss_bytes_per_added_click")
        md.append(f"| {r['code']} | {r['shape']} | {r['clicks']:,} | {r['input_bytes'] / 1e6:.2f} "
                  f"| {r['peak_rss_bytes'] / 2**20:.1f} | {r['rss_bytes_per_click']:.0f} "
                  f"| {'' if slope is None else f'{slope:.0f}'} | {r['wall_s']:.2f} "
                  f"| {r['dataset_bytes'] / 1e6:.2f} | {r['dataset_bytes_per_click']:.1f} |")
    fits = {}
    for code, shape in dict.fromkeys((r["code"], r["shape"]) for r in rows):
        pts = [(r["clicks"], r["peak_rss_bytes"]) for r in rows if r["code"] == code and r["shape"] == shape]
        if len(pts) >= 3:
            x, y = np.array(pts, dtype=np.float64).T
            slope, intercept = np.polyfit(x, y, 1)
            worst = float(np.max(np.abs(y - (slope * x + intercept)) / y))
            fits[f"{code}/{shape}"] = {"bytes_per_click": slope, "fixed_bytes": intercept, "max_rel_residual": worst}
    if fits:
        md += ["", "Least-squares line through each series, peak RSS = fixed + slope x clicks:", ""]
        md += [f"- {k}: {f['fixed_bytes'] / 2**20:.0f} MiB + {f['bytes_per_click']:.0f} B/click "
               f"(largest deviation from the line {100 * f['max_rel_residual']:.1f}%)" for k, f in fits.items()]
    md_path, js_path = write_results(args.stem, md, {"rows": rows, "vocab": VOCAB, "fits": fits, "lscpu_model": cpu})
    print(f"wrote {md_path} and {js_path}")


if __name__ == "__main__":
    main()
