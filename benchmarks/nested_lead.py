"""How should a nested table's first stage be shaped? Prefix quality, post-training, on validation.

An elastic student's cuts are prefixes of its nested code columns (issue "One student for every
memory budget"). With S = 4 subspaces, a cut of fewer than 4 columns leaves subspaces without a
code, so the 1/100 cut (2 columns on Diginetica) is useless. ``lead`` = L makes the first stage
L columns, each spanning S / L subspaces (:mod:`toolchain.compression.quantized_codes`): the
first L columns then code every dimension. This asks, before an elastic run is trained with it,
what the first-stage shape does to every prefix, with nothing trained:

* the teacher's encoder (stored as ``--encoder-dtype``) over its table quantized to nested
  score-aware codes (popularity-weighted k-means, K = 256, int8 codebooks), for each L in
  ``--leads``; each prefix c in ``--cuts`` is the table's first c columns;
* scored on the **validation** split (a design decision: the test split is not looked at);
* bytes are the cut's deployed bytes (:func:`toolchain.artifact.elastic.cut_bytes`).

Usage::

    python benchmarks/nested_lead.py DATA --teacher RUN --leads 4,2,1 --cuts 1,2,3,5,7,12,20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402


def _ints(text: str, flag: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"{flag} {text!r}: expected comma-separated integers, e.g. 4,2,1") from None
    if not out or min(out) < 1:
        raise SystemExit(f"{flag} {text!r}: every value must be >= 1")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepared dataset directory")
    ap.add_argument("--teacher", required=True, help="trained teacher run")
    ap.add_argument("--subspaces", type=int, default=4, help="S of the nested table")
    ap.add_argument("--leads", default="4,2,1", help="first-stage columns to compare (each must divide S)")
    ap.add_argument("--cuts", default="1,2,3,5,7,12,20", help="prefixes scored")
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--encoder-dtype", default="int4", choices=("fp32", "fp16", "int8", "int4"))
    ap.add_argument("--name", default="dataset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    leads, cuts = _ints(args.leads, "--leads"), sorted(set(_ints(args.cuts, "--cuts")))
    if any(args.subspaces % lead for lead in leads):
        raise SystemExit(f"--leads {args.leads!r}: each must divide --subspaces {args.subspaces}")

    import torch

    from toolchain.artifact.elastic import cut_bytes
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
    teacher_bytes = deployed_bytes(teacher, FreezeOptions())["total"]
    counts = torch.from_numpy(ds.item_counts.astype("float32"))
    sessions = session_vectors(teacher, ds.train)
    options = FreezeOptions(encoder_storage=FloatStorage(args.encoder_dtype))
    ref = evaluate(teacher, ds.valid, description="validating the teacher")
    own = {k: v for k, v in teacher.state_dict().items() if not k.startswith("items.")}
    rows = []
    for lead in leads:
        cfg = QuantizedCodesConfig(m=max(cuts), k=args.k, structure="nested", subspaces=args.subspaces,
                                   lead=lead, elastic=True, codebook_storage="int8")
        model = SASRec(ds.n_items, teacher.config, items=QuantizedCodesTable(ds.n_items, teacher.config.dim, cfg))
        model.load_state_dict(own, strict=False)
        t0 = time.perf_counter()
        with torch.no_grad():
            model.items.assign_from(teacher.items.all_embeddings(), weights=counts + 1.0, sessions=sessions)
        model.eval()
        print(f"L = {lead}: codes assigned in {time.perf_counter() - t0:.0f} s", flush=True)
        for c in cuts:
            with model.items.at_cut(c):
                got = evaluate(model, ds.valid, description=f"L = {lead}, {c} columns")
            size = cut_bytes(model, c, options)
            rows.append({"lead": lead, "columns": c, "bytes": size, "P@10": got["P@10"], "NDCG@10": got["NDCG@10"]})
            print(f"L = {lead}, c = {c}: {size:,} B (1/{teacher_bytes / size:.0f}), valid P@10 "
                  f"{100 * got['P@10']:.2f} NDCG@10 {100 * got['NDCG@10']:.2f}", flush=True)

    md = header(f"Nested first-stage shape, post-training ({args.name})")
    md += [f"Validation split, full ranking over {ds.n_items:,} items. The teacher's encoder ({args.encoder_dtype}) "
           f"over nested score-aware codes, S = {args.subspaces}, K = {args.k}, int8 codebooks; nothing trained. "
           f"L: columns of the first stage, each spanning S / L subspaces (L = S: the plain nested table). "
           f"Teacher: valid P@10 {100 * ref['P@10']:.2f}, NDCG@10 {100 * ref['NDCG@10']:.2f}, "
           f"{teacher_bytes:,} deployed bytes.", "",
           "| columns | " + " | ".join(f"L = {lead}: bytes | P@10 | NDCG@10" for lead in leads) + " |",
           "|---:|" + "---:|---:|---:|" * len(leads)]
    for c in cuts:
        cells = []
        for lead in leads:
            r = next(x for x in rows if x["lead"] == lead and x["columns"] == c)
            cells.append(f"{r['bytes']:,} (1/{teacher_bytes / r['bytes']:.0f}) | {100 * r['P@10']:.2f} "
                         f"| {100 * r['NDCG@10']:.2f}")
        md.append(f"| {c} | " + " | ".join(cells) + " |")
    write_results(f"nested_lead_{args.name}", md,
                  {"rows": rows, "teacher_bytes": teacher_bytes, "teacher_valid": ref, "subspaces": args.subspaces,
                   "k": args.k, "encoder": args.encoder_dtype}, args.out)
    print("\n".join(md))


if __name__ == "__main__":
    main()
