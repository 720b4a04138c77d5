"""How few bits can the encoder keep? A post-training study on the validation split.

At 1/100 of the teacher's deployed bytes (Diginetica: 225,645 B) the int8 encoder alone takes
two thirds of the budget (150,820 B), so no student with a useful item table fits (issue "One
student for every memory budget"). Before a lower-bit encoder is built into freeze and the
three exporters, this asks what it would cost in accuracy, with nothing trained:

* the teacher itself (its full item table, so only the encoder changes);
* every linear layer's weight and the position table quantized per output row,
  symmetric, to b bits (q in [-(2^(b-1) - 1), 2^(b-1) - 1], one fp32 scale per row), as the
  int8 encoder is stored (:mod:`export.graphs.stored_weights`); biases and LayerNorms stay fp32;
* scored on the **validation** split (a design decision: the test split is not looked at).

Bytes: the int8 encoder's deployed bytes (:func:`toolchain.artifact.freeze.deployed_bytes`)
less (8 - b) / 8 of a byte per quantized weight: b-bit values packed, the rest unchanged.

Usage::

    python benchmarks/encoder_bits.py DATA --teacher RUN --bits 8,6,4,3,2
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402


def quantize_rows(w, bits: int):
    """w [O, I] -> the same values rounded to b-bit integers times one scale per row."""
    import torch

    top = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / top
    return torch.round(w / scale).clamp(-top, top) * scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepared dataset directory")
    ap.add_argument("--teacher", required=True, help="trained teacher run")
    ap.add_argument("--bits", default="8,6,4,3,2", help="comma-separated bit widths")
    ap.add_argument("--ratio", type=float, default=100.0, help="the budget reported beside: 1/x of the teacher")
    ap.add_argument("--name", default="dataset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    try:
        bits = [int(b) for b in args.bits.split(",")]
    except ValueError:
        raise SystemExit(f"--bits {args.bits!r}: expected comma-separated integers, e.g. 8,4,3")
    if any(not 2 <= b <= 8 for b in bits):
        raise SystemExit(f"--bits {args.bits!r}: each width must be 2..8")

    import torch
    from torch import nn

    from toolchain.artifact.freeze import FreezeOptions, deployed_bytes
    from toolchain.artifact.quantize import FloatStorage
    from toolchain.data.pipeline import load_dataset
    from toolchain.evaluation.evaluate import evaluate
    from toolchain.training.build import load_trained

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    _, teacher = load_trained(args.teacher, ds.n_items)
    teacher.eval()
    parts = deployed_bytes(teacher, FreezeOptions(encoder_storage=FloatStorage.int8))
    int8_encoder, teacher_bytes = parts["encoder"], deployed_bytes(teacher, FreezeOptions())["total"]
    budget = int(teacher_bytes / args.ratio)

    def targets(model: nn.Module) -> list[torch.Tensor]:
        """The weights the int8 encoder stores as integers: linear layers and the position table."""
        out = [mod.weight for name, mod in model.named_modules()
               if isinstance(mod, nn.Linear) and not name.startswith("items")]
        if hasattr(model, "positions"):
            out.append(model.positions.weight)
        return out

    n_weights = sum(w.numel() for w in targets(teacher))
    rows = []
    t0 = time.perf_counter()
    ref = evaluate(teacher, ds.valid, description="validating the teacher (fp32)")
    rows.append({"bits": 32, "encoder_bytes": None, "P@10": ref["P@10"], "NDCG@10": ref["NDCG@10"],
                 "seconds": time.perf_counter() - t0})
    for b in bits:
        t0 = time.perf_counter()
        m = copy.deepcopy(teacher).eval()
        with torch.no_grad():
            for w in targets(m):
                w.copy_(quantize_rows(w, b))
        got = evaluate(m, ds.valid, description=f"encoder at {b} bits")
        enc = int8_encoder - (n_weights * (8 - b)) // 8
        rows.append({"bits": b, "encoder_bytes": enc, "P@10": got["P@10"], "NDCG@10": got["NDCG@10"],
                     "seconds": time.perf_counter() - t0})
        print(f"{b} bits: encoder {enc:,} B, valid P@10 {100 * got['P@10']:.2f} NDCG@10 {100 * got['NDCG@10']:.2f}",
              flush=True)

    md = header(f"Encoder bit width, post-training ({args.name})")
    md += [f"Validation split, full ranking over {ds.n_items:,} items; the teacher with its full item table, "
           f"only its encoder's {n_weights:,} integer-stored weights rounded per row to b bits (nothing trained). "
           f"1/{args.ratio:g} of the teacher's {teacher_bytes:,} deployed bytes is {budget:,} B.", "",
           "| encoder | encoder bytes | left for items at 1/%g | P@10 | %% | NDCG@10 | %% |" % args.ratio,
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        label = "fp32 (teacher)" if r["bits"] == 32 else f"{r['bits']}-bit"
        enc = f"{r['encoder_bytes']:,}" if r["encoder_bytes"] else "-"
        left = f"{budget - r['encoder_bytes']:,}" if r["encoder_bytes"] else "-"
        md.append(f"| {label} | {enc} | {left} | {100 * r['P@10']:.2f} | {100 * r['P@10'] / ref['P@10']:.1f} "
                  f"| {100 * r['NDCG@10']:.2f} | {100 * r['NDCG@10'] / ref['NDCG@10']:.1f} |")
    write_results(f"encoder_bits_{args.name}", md,
                  {"rows": rows, "budget_bytes": budget, "teacher_bytes": teacher_bytes,
                   "int8_encoder_bytes": int8_encoder, "quantized_weights": n_weights}, args.out)
    print("\n".join(md))


if __name__ == "__main__":
    main()
