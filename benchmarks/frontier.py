"""Accuracy against deployed bytes: every representation and recipe, on one dataset and teacher.

Each point is a frozen artifact, loaded back and scored on the test split (full ranking), its
bytes counted as the device holds them (the artifact's parts: codes, codebooks, encoder; the
vocabulary, which maps ids back to raw item ids outside the model, is not counted):

* ``teacher``: the teacher run, frozen in fp32 (the 100% line and the bytes ratios divide);
* ``ptq:STRUCTURE:MxK[:uniform][:euclidean][:ENC]``: post-training quantization, no training:
  the teacher's encoder (stored as ENC, default int8) over its table quantized to M x K codes
  by k-means (popularity-weighted unless ``uniform``; score-aware, in the metric of the
  teacher's training-session vectors, unless ``euclidean``); cheap, and exactly where a
  deployable student starts;
* ``--runs``: trained runs (deployable and paper students, OD-Rec, baselines), frozen with
  their own defaults; the training time per run comes from its summary.json;
* the popularity recommender (0 bytes: it needs only a ranked list, not counted);
* ``--reference FILE:NAME,...``: rows of an earlier ``paper_tables.py`` result (e.g. the paper's
  student and OD-Rec, whose training takes hours here), shown beside the measured points with
  their own teacher's score, never on the Pareto front.

With ``--latency`` every point's ExecuTorch export (odtool kernels) is timed on the host, one
thread pinned, over real session lengths: more codes per item is more look-ups. The Pareto
front (no other point is both smaller and at least as accurate in P@10) is marked.

    python benchmarks/frontier.py data/diginetica --teacher runs/teacher \\
        --ptq product:8x256,product:16x256,residual:4x256 --runs runs/student-r30 runs/student-r10 \\
        --latency --name diginetica
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402

METRICS = ("P@10", "NDCG@10")


def parse_ptq(spec: str) -> dict:
    """'product:8x256[:uniform][:euclidean][:fp16]' -> {structure, m, k, weighted, metric, encoder}."""
    parts = spec.strip().split(":")
    if len(parts) < 2 or parts[0] not in ("product", "residual"):
        raise SystemExit(f"--ptq {spec!r}: expected product|residual:MxK[:uniform][:euclidean][:fp32|fp16|int8|int4]")
    m, k = (int(v) for v in parts[1].lower().split("x"))
    extra = parts[2:]
    enc = next((e for e in extra if e in ("fp32", "fp16", "int8", "int4")), "int8")
    return {"structure": parts[0], "m": m, "k": k, "weighted": "uniform" not in extra,
            "metric": "euclidean" if "euclidean" in extra else "sessions", "encoder": enc}


def ptq_model(teacher, counts, p: dict, sessions, seed: int = 0):
    """The teacher's encoder over its table quantized as ``p`` (see module doc)."""
    import torch

    from toolchain.compression.quantized_codes import QuantizedCodesConfig, QuantizedCodesTable
    from toolchain.models.sasrec import SASRec

    cfg = QuantizedCodesConfig(m=p["m"], k=p["k"], structure=p["structure"], weighted=p["weighted"],
                               metric=p["metric"])
    student = SASRec(teacher.items.n_items, teacher.config, items=QuantizedCodesTable(teacher.items.n_items,
                                                                                      teacher.config.dim, cfg))
    own = {k: v for k, v in teacher.state_dict().items() if not k.startswith("items.")}
    student.load_state_dict(own, strict=False)
    with torch.no_grad():
        err = student.items.assign_from(teacher.items.all_embeddings(), weights=counts + 1.0, seed=seed,
                                        sessions=sessions if p["metric"] == "sessions" else None)
    return student.eval(), cfg, err


def measure(name: str, model, spec, ds, storage: str, work: Path, args, extra: dict) -> dict:
    """Freeze, load back, score on test (and on validation, the split choices are made on);
    optionally export + time. One row of the frontier.

    Rows are cached in ``args.cache`` by the frozen artifact's checksums: a second run (say
    with ``--latency`` on a quiet machine) re-measures only what it lacks."""
    from toolchain.artifact.freeze import FreezeOptions, freeze_model
    from toolchain.artifact.load import load_artifact
    from toolchain.artifact.quantize import FloatStorage
    from toolchain.atomic import atomic_write_json
    from toolchain.evaluation.evaluate import evaluate

    out = work / name.replace(":", "_")
    freeze_model(model, spec, ds.vocab, out, FreezeOptions(encoder_storage=FloatStorage(storage)))
    bundle, _, frozen = load_artifact(out)
    key = "|".join(f"{k}:{p['sha256']}" for k, p in sorted(bundle.parts.items()))
    cache = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    row = dict(cache[key]) if key in cache else None  # a copy: two points may freeze to the same artifact
    if row is None:
        t0 = time.perf_counter()
        metrics = evaluate(frozen, ds.test, description=f"testing {name}")
        row = {"name": name, "bytes": bundle.manifest["deployed_bytes"],
               "parts": {k: p["bytes"] for k, p in bundle.parts.items() if k != "vocab"},
               "encoder_storage": storage, **{m: metrics[m] for m in METRICS},
               "eval_seconds": time.perf_counter() - t0}
    if f"valid_{METRICS[0]}" not in row and len(ds.valid):  # what a choice between points may look at
        valid = evaluate(frozen, ds.valid, description=f"validating {name}")
        row.update({f"valid_{m}": valid[m] for m in METRICS})
    if args.latency and "p50_us" not in row:
        row.update(latency(frozen, spec, storage, out, args))
    cache[key] = {k: v for k, v in row.items() if k not in extra and k != "name"}
    row.update({"name": name, **extra})
    atomic_write_json(args.cache, cache)
    print(f"{name:40s} {row['bytes']:>12,} B  P@10 {100 * row['P@10']:6.2f}  NDCG@10 {100 * row['NDCG@10']:6.2f}"
          + (f"  p50 {row['p50_us']:.1f} us" if "p50_us" in row else ""), flush=True)
    return row


def latency(model, spec, storage: str, out: Path, args) -> dict:
    from android_harness.bench.sessions import padded_sessions, session_lengths
    from android_harness.devices import DEVICES
    from android_harness.inputs import write_sessions
    from export.graphs.base import GraphOptions, Kernels
    from export.parity import random_sessions
    from export.pipeline import export_model

    n = model.items.n_items
    (r,) = export_model(model, "model", ["executorch"], out / "export",
                        GraphOptions(args.max_len, 20, Kernels.odtool, encoder_storage=storage),
                        random_sessions(n, args.max_len, 8, seed=2), overwrite=True)
    lengths = session_lengths(args.sessions, args.max_len, args.data, seed=0)
    items, lens = padded_sessions(n, lengths, args.max_len, seed=1)
    sessions = write_sessions(out / "sessions.bin", items, lens)
    run = DEVICES.get("host")().run(r.path, sessions, threads=1, warmup=20, repeat=args.repeat, topk=20,
                                    cores=(args.core,), trim=bool(r.graph.get("dynamic_length")))
    return {"p50_us": run.latency.p50, "pte_bytes": r.bytes}


def pareto(rows: list[dict]) -> None:
    """Mark measured rows no other measured row beats on bytes and P@10 at once."""
    measured = [r for r in rows if r["group"] != "reference"]
    for r in rows:
        r["pareto"] = r["group"] != "reference" and not any(
            o is not r and o["bytes"] <= r["bytes"] and o["P@10"] >= r["P@10"]
            and (o["bytes"] < r["bytes"] or o["P@10"] > r["P@10"]) for o in measured)


def reference_rows(spec: str) -> list[dict]:
    """'results.json:name,name' -> rows (their P@10 / NDCG@10 as % of their own teacher)."""
    path, _, names = spec.partition(":")
    data = json.loads(Path(path).read_text())
    teacher = data["test"]["teacher"]
    rows = []
    for name in names.split(","):
        t, size = data["test"][name], data["sizes"][name]
        rows.append({"name": f"ref:{name}", "group": "reference", "bytes": size["model_bytes"],
                     **{m: t[m] for m in METRICS}, "own_teacher": {m: teacher[m] for m in METRICS},
                     "source": path})
    return rows


def report(rows: list[dict], teacher: dict, pop: dict, args) -> None:
    md = header(f"Accuracy against deployed bytes ({args.name})")
    md += [f"Test split, full ranking over {args.n_items:,} items; bytes as the device holds them (artifact parts; "
           "the vocabulary is not counted). % = of the teacher's metric. Trained rows were selected on "
           "validation; PTQ rows are not trained (nothing is selected).", "",
           f"Popularity floor: P@10 {100 * pop['P@10']:.2f}, NDCG@10 {100 * pop['NDCG@10']:.2f}.", "",
           "Valid: the same metrics on the validation split, the one choices between points are made on.", "",
           "| point | bytes | 1/x of teacher | P@10 | % | NDCG@10 | % | valid P@10 | valid NDCG@10 | "
           "ExecuTorch p50 µs | train min | Pareto |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|"]
    for r in sorted(rows, key=lambda r: r["bytes"]):
        lat = f"{r['p50_us']:.1f}" if "p50_us" in r else ""
        tm = f"{r['train_seconds'] / 60:.1f}" if r.get("train_seconds") else ""
        ref = r.get("own_teacher", teacher)
        valid = " | ".join(f"{100 * r[f'valid_{m}']:.2f}" if f"valid_{m}" in r else "" for m in ("P@10", "NDCG@10"))
        md.append(f"| {r['name']} | {r['bytes']:,} | {teacher['bytes'] / r['bytes']:.1f} | {100 * r['P@10']:.2f} | "
                  f"{100 * r['P@10'] / ref['P@10']:.1f} | {100 * r['NDCG@10']:.2f} | "
                  f"{100 * r['NDCG@10'] / ref['NDCG@10']:.1f} | {valid} | {lat} | {tm} | {'*' if r['pareto'] else ''} |")
    if any(r["group"] == "reference" for r in rows):
        md += ["", "ref: rows come from an earlier run (their own teacher: % is of that teacher's metric; their bytes "
                   "count the paper student's codes bit-packed and its encoder fp32): "
                   + ", ".join(sorted({r['source'] for r in rows if r['group'] == 'reference'})) + "."]
    stem = f"frontier_{args.name}"
    md += ["", f"![frontier]({stem}.png)"]
    plot(rows, teacher, pop, args.out / f"{stem}.png")
    write_results(stem, md, {"rows": rows, "popularity": pop, "settings": {k: str(v) for k, v in vars(args).items()}},
                  out=args.out)
    print("\n".join(md))


def plot(rows: list[dict], teacher: dict, pop: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for group, marker in (("ptq", "o"), ("run", "s"), ("teacher", "*"), ("reference", "x")):
        pts = [r for r in rows if r["group"] == group]
        ax.scatter([r["bytes"] for r in pts], [100 * r["P@10"] for r in pts], marker=marker, label=group, s=40)
        for r in pts:
            ax.annotate(r["name"].replace("ptq:", ""), (r["bytes"], 100 * r["P@10"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["bytes"])
    ax.plot([r["bytes"] for r in front], [100 * r["P@10"] for r in front], "k--", lw=0.8, label="Pareto front")
    ax.axhline(100 * pop["P@10"], color="grey", lw=0.8, ls=":", label="popularity")
    for frac in (10, 30, 100):
        ax.axvline(teacher["bytes"] / frac, color="red", lw=0.5, ls=":")
        ax.text(teacher["bytes"] / frac, ax.get_ylim()[0], f" 1/{frac}", color="red", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("deployed bytes (log)")
    ax.set_ylabel("test P@10 (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def clocked_seconds(metrics: list[dict]) -> float:
    """A run's training time: the trainer's clock (preparation, every epoch and its validation,
    resumed sessions included), or for runs older than that clock the sum of their epochs."""
    clocked = [r["elapsed_seconds"] for r in metrics if "elapsed_seconds" in r]
    return clocked[-1] if clocked else sum(r.get("epoch_seconds", 0) + r.get("eval_seconds", 0) for r in metrics)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepared dataset directory")
    ap.add_argument("--teacher", required=True, help="trained teacher run")
    ap.add_argument("--ptq", default="", help="comma-separated PTQ points (see module doc)")
    ap.add_argument("--runs", nargs="*", default=[], help="trained runs to include")
    ap.add_argument("--reference", action="append", default=[],
                    help="rows of an earlier paper_tables result: FILE.json:NAME,NAME (see module doc)")
    ap.add_argument("--name", default="dataset")
    ap.add_argument("--latency", action="store_true", help="time each point's ExecuTorch export on the host")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--core", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--allow-incomplete", action="store_true",
                    help="accept --runs stopped before they finished (their best epoch so far)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="measured rows, reused when the same artifact comes again (default: OUT/frontier_NAME.cache.json)")
    args = ap.parse_args()
    args.cache = args.cache or args.out / f"frontier_{args.name}.cache.json"

    import torch

    from toolchain.data.pipeline import load_dataset
    from toolchain.evaluation.evaluate import evaluate
    from toolchain.evaluation.popularity import PopularityRecommender
    from toolchain.training.build import load_trained

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    args.n_items = ds.n_items
    counts = torch.from_numpy(ds.item_counts.astype("float32"))
    from toolchain.evaluation.evaluate import session_vectors

    tspec, teacher = load_trained(args.teacher, ds.n_items)
    sessions = session_vectors(teacher, ds.train)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="odt-frontier-") as tmp:
        work = Path(tmp)
        t = measure("teacher", teacher, tspec, ds, "fp32", work, args, {"group": "teacher"})
        rows.append(t)
        for spec_text in [s for s in args.ptq.split(",") if s.strip()]:
            p = parse_ptq(spec_text)
            model, cfg, err = ptq_model(teacher, counts, p, sessions)
            spec = tspec.__class__(**{**tspec.__dict__, "kind": "student", "item_table": cfg})
            rows.append(measure(f"ptq:{spec_text}", model, spec, ds, p["encoder"], work, args,
                                {"group": "ptq", "reconstruction_error": err}))
        for run in args.runs:
            spec, model = load_trained(run, ds.n_items, allow_incomplete=args.allow_incomplete)
            summary_path = Path(run) / "summary.json"
            summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
            metrics = [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines() if x.strip()]
            seconds = clocked_seconds(metrics)
            label = f"{spec.kind}:{Path(run).name}"
            rows.append(measure(label, model, spec, ds, spec.deploy.get("encoder_storage", "fp32"), work, args,
                                {"group": "run", "train_seconds": seconds, "best_epoch": summary.get("best_epoch"),
                                 "table": spec.item_table.to_dict() if spec.item_table else {"kind": "full"}}))
    pop = evaluate(PopularityRecommender.fit(ds), ds.test)
    for ref in args.reference:
        rows.extend(reference_rows(ref))
    pareto(rows)
    report(rows, t, {m: pop[m] for m in METRICS}, args)


if __name__ == "__main__":
    main()
