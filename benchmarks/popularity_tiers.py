"""Is popularity-aware capacity worth building? A post-training study on the validation split.

Issue "The student that ships keeps the teacher's accuracy" lists popularity-aware capacity
(more bits for the hottest items, fewer for the tail, as MGQE does) among the representations
to try. Before it is built into the table registry, freeze and the three exporters, this asks
what it can buy at the bytes where the deployable student misses its target (1/30 of the
teacher's bytes), with nothing trained:

* every item gets M score-aware product codes (K = 256), as ``--recipe deployable`` assigns
  them (:class:`toolchain.compression.quantized_codes.QuantizedCodesTable`);
* the H items with the most training clicks also get M2 more product codes (K = 256) of their
  residual in the same whitened space, so e_v = (e'_v + r'_v) R for them; the device would
  hold their codes [H, M2] as uint8, their ids [H] (uint16 below 65,536 items) and M2
  codebooks of N / M2 dimensions;
* the teacher's encoder over the table, scored on the **validation** split (this is a design
  decision: the test split is not looked at).

Two readings per point: ``P@10 (in+out)`` embeds the session's items with the refined table
too; ``P@10 (out)`` refines only the scores and embeds the session from the M base codes (what
an export can do without finding each session item's hot row on the device).

Bytes: the item representation as the device would hold it (codes, ids, codebooks and R in
``--storage``); the encoder is the same in every row and reported once.

Usage::

    python benchmarks/popularity_tiers.py DATA --teacher RUN --points 12,0,0 10,2230,16 8,7000,16
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402


def parse_point(text: str) -> tuple[int, int, int]:
    """'M,H,M2' -> (M, H, M2)."""
    try:
        m, h, m2 = (int(v) for v in text.split(","))
    except ValueError:
        raise SystemExit(f"--points {text!r}: expected M,H,M2 (base codes, hot items, extra codes per hot item)")
    if m < 1 or h < 0 or m2 < 0 or (h > 0) != (m2 > 0):
        raise SystemExit(f"--points {text!r}: need M >= 1 and H, M2 both 0 or both > 0")
    return m, h, m2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepared dataset directory")
    ap.add_argument("--teacher", required=True, help="trained teacher run")
    ap.add_argument("--points", nargs="+", required=True, help="M,H,M2 per point (see module doc)")
    ap.add_argument("--storage", default="fp16", choices=("fp32", "fp16", "int8"), help="codebooks and R")
    ap.add_argument("--name", default="dataset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    points = [parse_point(p) for p in args.points]

    import torch
    from torch import nn

    from toolchain.artifact.freeze import FreezeOptions, deployed_bytes
    from toolchain.artifact.quantize import FloatStorage
    from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
    from toolchain.data.pipeline import load_dataset
    from toolchain.evaluation.evaluate import evaluate, session_vectors
    from toolchain.models.sasrec import SASRec
    from toolchain.training.build import load_trained

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    _, teacher = load_trained(args.teacher, ds.n_items)
    teacher.eval()
    n_items, dim = ds.n_items, teacher.config.dim
    counts = torch.from_numpy(ds.item_counts.astype("float32"))
    x = teacher.items.all_embeddings().detach().clone()
    sessions = session_vectors(teacher, ds.train)
    by_clicks = torch.argsort(counts[1:], descending=True, stable=True) + 1
    click_share = counts[by_clicks].cumsum(0) / counts[1:].sum()
    teacher_valid = evaluate(teacher, ds.valid, description="validating the teacher")

    def model_over(out_table: torch.Tensor, in_table: torch.Tensor) -> SASRec:
        """The teacher's encoder; sessions embedded from ``in_table``, items scored against ``out_table``."""
        m = copy.deepcopy(teacher)
        m.items.weight.data.copy_(out_table)
        m.items.embed = lambda ids: nn.functional.embedding(ids, in_table) * (ids != 0).unsqueeze(-1)
        return m.eval()

    rows, encoder_bytes = [], None
    for m, h, m2 in points:
        t0 = time.perf_counter()
        base = QuantizedCodesTable(n_items, dim, QuantizedCodesConfig(m=m, k=256, codebook_storage=args.storage))
        base.assign_from(x, weights=counts + 1.0, sessions=sessions)
        with torch.no_grad():
            e_base = base.all_embeddings().detach()
            e_ref = e_base.clone()
            hot_bytes = 0
            if h:  # the hot items' whitened residuals, product-quantized by the same table class
                hot = by_clicks[:h]
                rot = base.stored_rotation().detach()
                resid = (x[hot] - e_base[hot]) @ torch.linalg.inv(rot)  # back in the whitened space
                extra = QuantizedCodesTable(h, dim, QuantizedCodesConfig(m=m2, k=256, metric="euclidean",
                                                                         codebook_storage=args.storage))
                extra.assign_from(torch.cat([resid.new_zeros(1, dim), resid]),
                                  weights=torch.cat([torch.ones(1), counts[hot] + 1.0]), seed=1000)
                e_ref[hot] = e_base[hot] + extra.all_embeddings().detach()[1:] @ rot
                id_bytes = 2 if n_items < 65536 else 4
                hot_bytes = extra.storage_bytes() - m2 + h * id_bytes  # its code row 0 is padding
        if encoder_bytes is None:
            probe = SASRec(n_items, teacher.config, items=base)
            probe.load_state_dict({k: v for k, v in teacher.state_dict().items() if not k.startswith("items.")},
                                  strict=False)
            encoder_bytes = deployed_bytes(probe, FreezeOptions(encoder_storage=FloatStorage.int8))["encoder"]
        both = evaluate(model_over(e_ref, e_ref), ds.valid, description=f"M={m} H={h} M2={m2}")
        out_only = both if not h else evaluate(model_over(e_ref, e_base), ds.valid, description="(out only)")
        row = {"m": m, "hot_items": h, "hot_m": m2, "table_bytes": base.storage_bytes() + hot_bytes,
               "hot_click_share": float(click_share[h - 1]) if h else 0.0,
               "P@10": both["P@10"], "NDCG@10": both["NDCG@10"],
               "P@10_out": out_only["P@10"], "NDCG@10_out": out_only["NDCG@10"],
               "seconds": time.perf_counter() - t0}
        rows.append(row)
        print(f"M={m:3d} H={h:6d} M2={m2:3d}  {row['table_bytes']:>10,} B  valid P@10 {100 * row['P@10']:.2f}"
              f" (out only {100 * row['P@10_out']:.2f})", flush=True)

    md = header(f"Popularity-aware capacity, post-training ({args.name})")
    md += [f"Validation split, full ranking over {n_items:,} items; the teacher's encoder over each table, "
           f"nothing trained. Teacher (full table): P@10 {100 * teacher_valid['P@10']:.2f}, NDCG@10 "
           f"{100 * teacher_valid['NDCG@10']:.2f}. Every row adds the same int8 encoder ({encoder_bytes:,} B) "
           f"to the table bytes; codebooks and R are {args.storage}.", "",
           "| M (all items) | H hot items | their train clicks | M2 more codes | table bytes | total bytes "
           "| P@10 (in+out) | NDCG@10 | P@10 (out) | NDCG@10 (out) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['m']} | {r['hot_items']:,} | {100 * r['hot_click_share']:.1f}% | {r['hot_m']} "
                  f"| {r['table_bytes']:,} | {r['table_bytes'] + encoder_bytes:,} | {100 * r['P@10']:.2f} "
                  f"| {100 * r['NDCG@10']:.2f} | {100 * r['P@10_out']:.2f} | {100 * r['NDCG@10_out']:.2f} |")
    write_results(f"popularity_tiers_{args.name}", md,
                  {"rows": rows, "encoder_bytes": encoder_bytes, "storage": args.storage,
                   "teacher_valid": {k: teacher_valid[k] for k in ("P@10", "NDCG@10")}}, args.out)
    print("\n".join(md))


if __name__ == "__main__":
    main()
