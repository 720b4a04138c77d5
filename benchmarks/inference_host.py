"""Host inference latency of the students, the teacher and OD-Rec in every export format.

Tmall scale by default (|V| = 40,728, N = 128, 1 layer, 1 head, max length 50, top-20; the
student is the deployable one ``--ratio 30`` gives there, M = 12, K = 256 score-aware product
codes with int8 codebooks and encoder; the paper student M = 4, K = 32), batch 1, one thread pinned to
one core, real session lengths (drawn from a dataset's test split), initialised weights
(timing does not depend on their values). Every artifact runs through the same harness: the
native ExecuTorch runner for .pte, the Python runners (onnxruntime, torch's lite
interpreter) for .onnx and .ptl, each in its own process.

Each student's .pte is exported twice: with odtool's kernels (``lut_topk`` / ``code_topk``,
``linear_w8``) and with ExecuTorch's own kernels only ("portable").

    python benchmarks/inference_host.py                     # Tmall scale, writes benchmarks/results/
    python benchmarks/inference_host.py --preset retailrocket --sessions 100
    python benchmarks/inference_host.py --models student,student-int4   # the int4 encoder beside int8

A model name ``KIND-ENC`` (e.g. ``student-int4``, ``teacher-int8``) is KIND with its encoder's
matrices stored as ENC (fp32, fp16, int8, int4) instead of its default.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from android_harness.bench.sessions import padded_sessions, session_lengths  # noqa: E402
from benchmarks.common import header, write_results  # noqa: E402

ENCODERS = ("fp32", "fp16", "int8", "int4")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tmall", choices=["tmall", "retailrocket"])
    ap.add_argument("--sessions", type=int, default=200, help="sessions per timed pass")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes over the sessions")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--core", type=int, default=1, help="host CPU to pin each runner to")
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--top-k", type=int, default=20)
    ap.add_argument("--data", default=None, help="dataset whose test split gives the session lengths")
    ap.add_argument("--formats", default="executorch,torchscript,onnx")
    ap.add_argument("--models", default="student,paper-student,teacher,odrec")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default benchmarks/results)")
    args = ap.parse_args()

    import toolchain.models  # noqa: F401
    from android_harness.devices import DEVICES
    from android_harness.inputs import write_sessions
    from export.graphs.base import GraphOptions, Kernels
    from export.parity import random_sessions as check_sessions
    from export.pipeline import export_model
    from toolchain.models.scale_presets import build_at_scale, encoder_storage_at_scale, get_scale

    scale = get_scale(args.preset)
    formats = args.formats.split(",")
    lengths = session_lengths(args.sessions, args.max_len, args.data, seed=0)
    items, lens = padded_sessions(scale.n_items, lengths, args.max_len, seed=1)
    host = DEVICES.get("host")()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="odt-bench-") as tmp:
        work = Path(tmp)
        sessions_file = write_sessions(work / "sessions.bin", items, lens)
        checks = check_sessions(scale.n_items, args.max_len, 8, seed=2)
        for label in args.models.split(","):
            kind, _, enc = label.rpartition("-")
            if enc not in ENCODERS:  # a plain kind (paper-student's dash is not an encoder)
                kind, enc = label, ""
            model = build_at_scale(kind, scale)
            student = kind in ("student", "paper-student")
            variants = [(label, Kernels.odtool if student else Kernels.portable, formats)]
            if student and "executorch" in formats:
                variants.append((f"{label}-portable", Kernels.portable, ["executorch"]))
            storage = enc or encoder_storage_at_scale(kind)
            for name, kernels, fmts in variants:
                results = export_model(model, name, fmts, work / name,
                                       GraphOptions(args.max_len, args.top_k, kernels, encoder_storage=storage), checks,
                                       overwrite=True)
                for r in results:
                    trim = bool(r.graph.get("dynamic_length"))
                    run = host.run(r.path, sessions_file, threads=1, warmup=args.warmup, repeat=args.repeat,
                                   topk=args.top_k, cores=(args.core,), trim=trim)
                    rows.append({"model": name, "format": r.format, "bytes": r.bytes,
                                 "input": "trimmed" if trim else "padded",
                                 "p50_us": run.latency.p50, "p90_us": run.latency.p90, "mean_us": run.latency.mean,
                                 "load_ms": run.load_ms, "peak_rss_kb": run.peak_rss_kb, "runtime": run.runtime})
                    print(f"{name:18s} {r.format:12s} p50 {run.latency.p50:10.1f} us  p90 {run.latency.p90:10.1f} us  "
                          f"{r.bytes:>12,} B", flush=True)
    report(args, scale, lengths, rows)


def report(args, scale, lengths, rows: list[dict]) -> None:
    by = {(r["model"], r["format"]): r for r in rows}
    md = header(f"Host inference latency, {scale.name} scale")
    md += [f"|V| = {scale.n_items:,}, N = {scale.dim}; student M = {scale.deployable.m}, K = {scale.deployable.k} "
           f"{scale.deployable.structure} codes, {scale.deployable.codebook_storage} codebooks, int8 encoder; paper student M = {scale.codes.m}, K = {scale.codes.k}; "
           f"{scale.sasrec.layers} layer, {scale.sasrec.heads} head(s), max length {args.max_len}, top-{args.top_k}; "
           f"batch 1, 1 thread pinned to CPU {args.core}; {args.sessions} sessions x {args.repeat} timed passes "
           f"(mean session length {lengths.mean():.2f}); initialised weights.", "",
           "Input: *trimmed* = each session as [1, len] (exported with a dynamic length), *padded* = [1, 50].", "",
           "| model | format | input | p50 µs | p90 µs | file bytes | runtime |", "|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['model']} | {r['format']} | {r['input']} | {r['p50_us']:.1f} | {r['p90_us']:.1f} | {r['bytes']:,} | "
                  f"{r['runtime']} |")
    ratios, lines = {}, []
    for fmt in args.formats.split(","):
        s = by.get(("student", fmt))
        t, o = by.get(("teacher", fmt)), by.get(("odrec", fmt))
        if s and (t or o):
            rt = t["p50_us"] / s["p50_us"] if t else float("nan")
            ro = o["p50_us"] / s["p50_us"] if o else float("nan")
            ratios[fmt] = {"teacher_over_student": rt, "odrec_over_student": ro}
            lines.append(f"| {fmt} | {rt:.1f}x | {ro:.1f}x |")
    if lines:
        md += ["", "Ratios in the same runtime (p50 of the other model / p50 of the student):", "",
               "| format | teacher / student | OD-Rec / student |", "|---|---:|---:|", *lines]
    s, t = by.get(("student", "executorch")), by.get(("teacher", "executorch"))
    if s and t:
        md += ["", f".pte size: student {s['bytes']:,} B, teacher {t['bytes']:,} B: "
                   f"1/{t['bytes'] / s['bytes']:.1f} of the teacher's .pte."]
        ratios["pte_size_teacher_over_student"] = t["bytes"] / s["bytes"]
        one_copy = min(r["bytes"] for r in rows if r["model"] == "teacher")
        if one_copy < t["bytes"]:
            # ExecuTorch keeps the teacher's table twice: for the embedding look-ups (portable) and
            # packed inside the XNNPACK fully-connected delegate. Compare with one copy too.
            md += [f"The teacher's .pte holds its item table twice (embedding look-ups + XNNPACK's packed "
                   f"copy); against its smallest file ({one_copy:,} B, one copy) the student's .pte is "
                   f"1/{one_copy / s['bytes']:.1f}."]
            ratios["pte_size_teacher_one_copy_over_student"] = one_copy / s["bytes"]
    md_path, _ = write_results(f"inference_host_{scale.name}", md, {"rows": rows, "ratios": ratios,
                                                                    "settings": vars(args) | {"out": str(args.out)}},
                               **({"out": args.out} if args.out else {}))
    print("\n".join(md))
    print(f"\nwritten: {md_path}")


if __name__ == "__main__":
    main()
