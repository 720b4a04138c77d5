"""Cost of one training step of the compositional-code table: the paper's path against --sampled-codes.

The paper's code learner (Eqs. 15-17) runs over every item at every step, so the table's part of
a step grows with |V| M K; the sampled path (``item_table.sampled``) runs it on the batch's items
and on ``sample_rows`` random items for L_mse, and ranks against the cached hard codes,
refreshed every ``refresh_every`` steps. This times the table's part of a training step (embed
a batch of sessions, score it against every item, cross-entropy + L_mse, backward, Adam step;
no encoder) on a teacher-like table X, one thread, for each M x K cell, and writes
``code_step_<name>.md`` / ``.json``. The sampled times include the refresh, amortised.

    python benchmarks/code_step.py --items 42979 --grid 2x32,4x32,2x256,4x256 --core 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, header, parse_cell, write_results  # noqa: E402


def step_seconds(n_items: int, dim: int, m: int, k: int, sampled: bool, steps: int, batch: int,
                 length: int) -> dict:
    import torch

    from toolchain.compression.codes import CodesConfig, CodesTable

    torch.manual_seed(0)
    x = torch.randn(n_items + 1, dim) * 0.1
    x[0] = 0
    table = CodesTable(n_items, dim, CodesConfig(m=m, k=k, sampled=sampled), x).train()
    opt = torch.optim.Adam(table.parameters(), lr=1e-3)
    items = torch.randint(1, n_items + 1, (batch, length))
    targets = torch.randint(1, n_items + 1, (batch,))
    query = torch.randn(batch, dim)

    def step() -> None:
        theta = query + table.embed(items).mean(1)  # stands in for the encoder
        loss = torch.nn.functional.cross_entropy(table.score(theta), targets) + table.auxiliary_losses()["mse"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    out = {"step_s": statistics.median(times), "refresh_s": 0.0}
    if sampled:
        start = time.perf_counter()
        table.refresh_codes()
        out["refresh_s"] = time.perf_counter() - start
    out["amortised_s"] = out["step_s"] + out["refresh_s"] / table.config.refresh_every
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=42979, help="|V| (default: the Diginetica set's)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--grid", default="2x32,4x32,2x256,4x256", help="MxK cells")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per cell and path (median)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--length", type=int, default=5, help="items per session in the batch")
    ap.add_argument("--core", type=int, default=None, help="pin to this core (Linux)")
    ap.add_argument("--name", default="diginetica")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    if args.core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    try:
        cells = [parse_cell(c)[:2] for c in args.grid.split(",") if c]
    except ValueError as e:
        ap.error(f"--grid: {e}")
    rows = []
    for m, k in cells:
        full = step_seconds(args.items, args.dim, m, k, False, args.steps, args.batch, args.length)
        sampled = step_seconds(args.items, args.dim, m, k, True, args.steps, args.batch, args.length)
        rows.append({"m": m, "k": k, "all_items": full, "sampled": sampled,
                     "speedup": full["step_s"] / sampled["amortised_s"]})
        print(f"M={m} K={k}: all items {1000 * full['step_s']:.0f} ms, sampled "
              f"{1000 * sampled['amortised_s']:.0f} ms ({rows[-1]['speedup']:.1f}x)", flush=True)
    md = header(f"Code-table training step, all items vs sampled (|V| = {args.items:,}, N = {args.dim})")
    md += [f"Table part of one training step (batch {args.batch} x {args.length} items, full-softmax "
           f"ranking over every item, L_mse, backward, Adam), one thread, median of {args.steps} steps. "
           "Sampled: including the hard codes' refresh, amortised over refresh_every = 50 steps.", "",
           "| M | K | all items (paper) ms | sampled ms | refresh ms | all / sampled |",
           "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['m']} | {r['k']} | {1000 * r['all_items']['step_s']:.0f} | "
                  f"{1000 * r['sampled']['amortised_s']:.0f} | {1000 * r['sampled']['refresh_s']:.0f} | "
                  f"{r['speedup']:.1f}x |")
    settings = vars(args) | {"out": str(args.out)}
    md_path, _ = write_results(f"code_step_{args.name}", md, {"settings": settings, "rows": rows}, args.out)
    print("\n".join(md))
    print(f"wrote {md_path}")


if __name__ == "__main__":
    main()
