"""Binary and low-bit per-row item tables against product codes at the same bits per item.

Issue "The student that ships keeps the teacher's accuracy" lists binary codes with a per-item
scale and low-bit per-row quantization among the item representations to try. Before either
is built into the table registry, freeze and the three exporters, this asks whether either
would ever be on the accuracy-vs-bytes front, with nothing trained:

* ``sign``: e_v = s_v sign(x_v), s_v = mean |x_v| (the L2-optimal scale): N bits + an fp16
  scale per item;
* ``intB``: each row rounded to 2^B levels between its min and max (one fp16 offset and one
  fp16 step per row): B N + 32 bits per item;
* ``product:M``: the deployable student's starting point, M score-aware product codes with
  K = 256 (:class:`toolchain.compression.quantized_codes.QuantizedCodesTable`), 8 M bits per
  item plus int8 codebooks and R; M chosen to match the bits of the rows above;
* the teacher's encoder over each table (sessions embedded and items scored from it), scored on
  the **validation** split (a design decision: the test split is not looked at).

Usage::

    python benchmarks/row_quantization.py DATA --teacher RUN --points sign,int2,int4,product:18,product:36
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402


def parse_point(text: str) -> tuple[str, int]:
    """'sign' | 'intB' | 'product:M' -> (kind, B or M)."""
    t = text.strip()
    if t == "sign":
        return "sign", 1
    if t.startswith("int") and t[3:].isdigit() and 2 <= int(t[3:]) <= 8:
        return "int", int(t[3:])
    if t.startswith("product:") and t[8:].isdigit() and int(t[8:]) >= 1:
        return "product", int(t[8:])
    raise SystemExit(f"--points {text!r}: expected sign, int2..int8 or product:M")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepared dataset directory")
    ap.add_argument("--teacher", required=True, help="trained teacher run")
    ap.add_argument("--points", default="sign,int2,int4,product:18,product:36,product:68")
    ap.add_argument("--name", default="dataset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    points = [parse_point(p) for p in args.points.split(",") if p.strip()]

    import torch
    from torch import nn

    from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
    from toolchain.data.pipeline import load_dataset
    from toolchain.evaluation.evaluate import evaluate, session_vectors
    from toolchain.training.build import load_trained

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    _, teacher = load_trained(args.teacher, ds.n_items)
    teacher.eval()
    n_items, dim = ds.n_items, teacher.config.dim
    counts = torch.from_numpy(ds.item_counts.astype("float32"))
    x = teacher.items.all_embeddings().detach().clone()
    ref = evaluate(teacher, ds.valid, description="validating the teacher")

    def model_over(table: torch.Tensor):
        m = copy.deepcopy(teacher)
        m.items.weight.data.copy_(table)
        m.items.embed = lambda ids: nn.functional.embedding(ids, table) * (ids != 0).unsqueeze(-1)
        return m.eval()

    sessions = None
    rows = []
    for kind, b in points:
        t0 = time.perf_counter()
        with torch.no_grad():
            if kind == "sign":
                scale = x.abs().mean(dim=1, keepdim=True)
                table, bits, name = scale * torch.sign(x), dim + 16, "sign + fp16 scale"
                table_bytes = n_items * bits // 8
            elif kind == "int":
                lo, hi = x.amin(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)
                step = ((hi - lo) / (2 ** b - 1)).clamp_min(1e-12)
                table = torch.round((x - lo) / step) * step + lo
                bits, name = b * dim + 32, f"int{b} per row (min + step, fp16)"
                table_bytes = n_items * bits // 8
            else:
                if sessions is None:
                    sessions = session_vectors(teacher, ds.train)
                q = QuantizedCodesTable(n_items, dim, QuantizedCodesConfig(m=b, k=256, codebook_storage="int8"))
                q.assign_from(x, weights=counts + 1.0, sessions=sessions)
                table, bits, name = q.all_embeddings().detach(), 8 * b, f"product {b} x 256 (score-aware)"
                table_bytes = q.storage_bytes()
            table = table.clone()
            table[0] = 0.0
        got = evaluate(model_over(table), ds.valid, description=name)
        rows.append({"point": name, "bits_per_item": bits, "table_bytes": int(table_bytes),
                     "P@10": got["P@10"], "NDCG@10": got["NDCG@10"], "seconds": time.perf_counter() - t0})
        print(f"{name:32s} {bits:4d} bits  {table_bytes:>10,} B  valid P@10 {100 * got['P@10']:.2f}", flush=True)

    md = header(f"Binary and low-bit per-row item tables, post-training ({args.name})")
    md += [f"Validation split, full ranking over {n_items:,} items; the teacher's encoder over each table, "
           f"nothing trained. Teacher (full table): P@10 {100 * ref['P@10']:.2f}, NDCG@10 {100 * ref['NDCG@10']:.2f}. "
           "Table bytes as a device would hold them (product: codes + int8 codebooks + R).", "",
           "| item table | bits / item | table bytes | P@10 | % | NDCG@10 | % |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: r["table_bytes"]):
        md.append(f"| {r['point']} | {r['bits_per_item']} | {r['table_bytes']:,} | {100 * r['P@10']:.2f} "
                  f"| {100 * r['P@10'] / ref['P@10']:.1f} | {100 * r['NDCG@10']:.2f} "
                  f"| {100 * r['NDCG@10'] / ref['NDCG@10']:.1f} |")
    write_results(f"row_quantization_{args.name}", md,
                  {"rows": rows, "teacher_valid": {k: ref[k] for k in ("P@10", "NDCG@10")}}, args.out)
    print("\n".join(md))


if __name__ == "__main__":
    main()
