"""One elastic student cut to every budget, against a student trained for each budget alone.

For each budget (a fraction 1/x of the teacher's deployed bytes), the elastic run
(``odtool train student --elastic``) is cut to the largest prefix that fits, exactly as
``odtool freeze RUN --budget`` does, and frozen; the budget-specific runs (``odtool train
student --ratio x``, matched to a budget by the budget their config records) are frozen with
their own defaults. Every artifact is loaded back and scored on the test split (full ranking),
as ``benchmarks/frontier.py`` scores its points (and with the same row cache), and on the
validation split, which is what a choice between elastic runs may look at. Reported per
budget: bytes, P@10 and NDCG@10 of the cut, of the specific student and of the teacher, the cut
relative to the specific student (the target: within 3%), and the training times (the target:
one elastic training at most 2x one budget-specific training). Markdown + JSON + PNG.

    python benchmarks/elastic.py data/diginetica --teacher runs/teacher --elastic runs/elastic \\
        --specific runs/r50 runs/r30 runs/r20 runs/r10 --ratios 100,50,30,20,10 --name diginetica
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import header, write_results  # noqa: E402
from benchmarks.frontier import METRICS, clocked_seconds, measure  # noqa: E402


def train_seconds(run: Path) -> tuple[float, int, bool]:
    """(seconds of training + validation, epochs run, finished) from a run's metrics.jsonl."""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    seconds = clocked_seconds(rows)
    epochs = len([r for r in rows if r.get("phase") not in (None, "start")])
    return seconds, epochs, (run / "summary.json").is_file()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="prepared dataset directory")
    ap.add_argument("--teacher", required=True, help="the teacher run both students learned from")
    ap.add_argument("--elastic", required=True, help="the elastic student run (odtool train student --elastic)")
    ap.add_argument("--specific", nargs="*", default=[], help="budget-specific student runs (--ratio / --budget)")
    ap.add_argument("--ratios", default="100,50,30,20,10", help="budgets as 1/x of the teacher's deployed bytes")
    ap.add_argument("--encoder-dtype", default=None, choices=["fp32", "fp16", "int8", "int4"],
                    help="freeze the elastic cuts' encoder so, as odtool freeze --encoder-dtype does "
                         "(default: the run's own, int8); the specific runs keep theirs")
    ap.add_argument("--name", default="dataset")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latency", action="store_true", help="time each point's ExecuTorch export on the host, "
                    "as frontier.py does (one thread pinned to --core)")
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--allow-incomplete", action="store_true",
                    help="accept runs stopped before they finished (their best epoch so far; flagged in the table)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--cache", type=Path, default=None, help="row cache (default: OUT/frontier_NAME.cache.json)")
    args = ap.parse_args()
    args.cache = args.cache or args.out / f"frontier_{args.name}.cache.json"

    import torch

    from toolchain.artifact.elastic import choose_cut, cut_model
    from toolchain.artifact.freeze import FreezeOptions
    from toolchain.artifact.quantize import FloatStorage
    from toolchain.data.pipeline import load_dataset
    from toolchain.errors import UsageError
    from toolchain.training.build import load_trained

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.data)
    tspec, teacher = load_trained(args.teacher, ds.n_items)
    espec, elastic = load_trained(args.elastic, ds.n_items, allow_incomplete=args.allow_incomplete)
    storage = args.encoder_dtype or espec.deploy.get("encoder_storage", "int8")
    options = FreezeOptions(encoder_storage=FloatStorage(storage))
    specific = {}
    for run in args.specific:
        spec, model = load_trained(run, ds.n_items, allow_incomplete=args.allow_incomplete)
        specific[spec.deploy.get("budget_bytes")] = (Path(run), spec, model)
    e_seconds, e_epochs, e_done = train_seconds(Path(args.elastic))
    rows = []
    with tempfile.TemporaryDirectory(prefix="odt-elastic-") as tmp:
        work = Path(tmp)
        t = measure("teacher", teacher, tspec, ds, "fp32", work, args, {"group": "teacher"})
        for ratio in [float(x) for x in args.ratios.split(",") if x.strip()]:
            budget = int(t["bytes"] / ratio)
            row = {"ratio": ratio, "budget": budget}
            try:
                cut = choose_cut(elastic, budget, options)
            except UsageError as e:
                row["elastic"] = {"error": e.message}
            else:
                model = cut_model(elastic, cut.columns)
                spec = espec.__class__(**{**espec.__dict__, "item_table": model.items.config})
                r = measure(f"elastic:{cut.columns}of{cut.of}", model, spec, ds, storage, work, args,
                            {"group": "elastic"})
                row["elastic"] = {**r, "columns": cut.columns, "of": cut.of}
            match = specific.get(budget)
            if match is not None:
                run, spec, model = match
                seconds, epochs, done = train_seconds(run)
                r = measure(f"student:{run.name}", model, spec, ds, spec.deploy.get("encoder_storage", "int8"), work,
                            args, {"group": "specific"})
                row["specific"] = {**r, "run": str(run), "m": spec.item_table.m, "train_seconds": seconds,
                                   "epochs": epochs, "finished": done}
            if "P@10" in row["elastic"] and "specific" in row:
                row["relative"] = {m: row["elastic"][m] / row["specific"][m] for m in METRICS}
            rows.append(row)
    report(rows, t, {"seconds": e_seconds, "epochs": e_epochs, "finished": e_done, "run": args.elastic,
                     "m": espec.item_table.m, "subspaces": espec.item_table.subspaces, "encoder": storage}, args)


def report(rows: list[dict], teacher: dict, elastic: dict, args) -> None:
    md = header(f"One elastic student for every budget ({args.name})")
    md += [f"Test split, full ranking. Elastic run `{elastic['run']}`: nested codes, {elastic['m']} columns of "
           f"S = {elastic['subspaces']} subspaces, encoder frozen as {elastic['encoder']}, trained {elastic['seconds'] / 60:.1f} min over {elastic['epochs']} "
           f"epochs{'' if elastic['finished'] else ' (stopped before it finished: its best epoch so far)'}; each cut "
           "frozen as `odtool freeze RUN --budget` cuts it. Specific: a student trained for that budget alone "
           "(`--ratio x`). Teacher: P@10 "
           f"{100 * teacher['P@10']:.2f}, NDCG@10 {100 * teacher['NDCG@10']:.2f} at {teacher['bytes']:,} B.", "",
           "| budget | cut | bytes | P@10 | NDCG@10 | p50 µs | specific (M) | bytes | P@10 | NDCG@10 | p50 µs | "
           "cut / specific P@10 | NDCG@10 | specific train min |",
           "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        e, s = r["elastic"], r.get("specific")
        cells = [f"1/{r['ratio']:g} ({r['budget']:,} B)"]
        if "error" in e:
            cells += ["no cut fits", "", "", "", ""]
        else:
            cells += [f"{e['columns']} of {e['of']}", f"{e['bytes']:,}", f"{100 * e['P@10']:.2f}",
                      f"{100 * e['NDCG@10']:.2f}", f"{e['p50_us']:.0f}" if "p50_us" in e else ""]
        if s:
            cells += [f"{Path(s['run']).name} ({s['m']})" + ("" if s["finished"] else ", unfinished"), f"{s['bytes']:,}",
                      f"{100 * s['P@10']:.2f}", f"{100 * s['NDCG@10']:.2f}", f"{s['p50_us']:.0f}" if "p50_us" in s else ""]
        else:
            cells += ["(none trained)", "", "", "", ""]
        rel = r.get("relative")
        cells += [f"{100 * rel['P@10']:.1f}%", f"{100 * rel['NDCG@10']:.1f}%"] if rel else ["", ""]
        cells += [f"{s['train_seconds'] / 60:.1f}" if s else ""]
        md.append("| " + " | ".join(cells) + " |")
    md += ["", "Validation split (what a choice between elastic runs or budgets may look at; the test columns "
               "above are reported, never selected on):", "",
           "| budget | cut P@10 | NDCG@10 | specific P@10 | NDCG@10 | cut / specific P@10 | NDCG@10 |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        e, s = r["elastic"], r.get("specific") or {}
        cells = [f"1/{r['ratio']:g}"]
        for side in (e, s):
            cells += [f"{100 * side[f'valid_{m}']:.2f}" if f"valid_{m}" in side else "" for m in METRICS]
        cells += [f"{100 * e[f'valid_{m}'] / s[f'valid_{m}']:.1f}%" if f"valid_{m}" in e and f"valid_{m}" in s else ""
                  for m in METRICS]
        md.append("| " + " | ".join(cells) + " |")
    errors = [r for r in rows if "error" in r["elastic"]]
    for r in errors:
        md += ["", f"1/{r['ratio']:g}: {r['elastic']['error']}."]
    spec_minutes = [r["specific"]["train_seconds"] / 60 for r in rows if r.get("specific")]
    if spec_minutes:
        md += ["", f"Training cost: the elastic run took {elastic['seconds'] / 60:.1f} min, "
                   f"{elastic['seconds'] / 60 / max(spec_minutes):.2f}x the longest budget-specific run "
                   f"({max(spec_minutes):.1f} min) and {elastic['seconds'] / 60 / (sum(spec_minutes) / len(spec_minutes)):.2f}x "
                   f"their mean; the {len(spec_minutes)} specific runs together took {sum(spec_minutes):.1f} min."]
    stem = f"elastic_{args.name}"
    md += ["", f"![elastic]({stem}.png)"]
    plot(rows, teacher, args.out / f"{stem}.png")
    write_results(stem, md, {"rows": rows, "teacher": teacher, "elastic": elastic,
                             "settings": {k: str(v) for k, v in vars(args).items()}}, out=args.out)
    print("\n".join(md))


def plot(rows: list[dict], teacher: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for key, marker, label in (("elastic", "o-", "elastic, cut to the budget"), ("specific", "s--", "trained for the budget")):
        pts = [r[key] for r in rows if key in r and "P@10" in r[key]]
        ax.plot([p["bytes"] for p in pts], [100 * p["P@10"] for p in pts], marker, label=label)
    ax.axhline(100 * teacher["P@10"], color="grey", lw=0.8, ls=":", label=f"teacher ({teacher['bytes']:,} B)")
    for r in rows:
        ax.axvline(r["budget"], color="red", lw=0.5, ls=":")
        ax.text(r["budget"], ax.get_ylim()[0], f" 1/{r['ratio']:g}", color="red", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("deployed bytes (log)")
    ax.set_ylabel("test P@10 (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
