"""The paper's Tables 3 and 4 on a real dataset: every model, the student's M x K grid, ablations.

Trains (with ``odtool train``, the same code a user runs) the teacher, the EODRec student at
the Table 3 setting (M = 4, K = 32: compression ratio ~30 at N = 128), its ablations
(Stu-base = no distillation, w/o mixup, ...), OD-Rec at the student's compression ratio, the
classic baselines GRU4Rec, NARM, STAMP, SR-GNN, and the student over an M x K grid (Table 4),
then writes ``paper_tables_<name>.md`` / ``.json``: test metrics (full ranking), sizes and
compression ratios, mean seconds per training epoch, and the paper's claims checked against
what came out (stated plainly where they disagree; the benchmark is not tuned to agree).

Runs go to ``--work`` and are reused: a finished run (``summary.json``) is read back, an
interrupted one is resumed, so the script can be stopped and started again. ``--jobs 2`` trains
two runs at a time, each pinned to its own core with one thread.

    python benchmarks/paper_tables.py data/diginetica --name diginetica --epochs 6
    python benchmarks/paper_tables.py data/digi --grid 1x32,2x32,4x32,4x256 --ablations stu-base

A grid cell ``MxK:sampled`` trains that student with ``--sampled-codes`` (the code learner runs
on the batch's items only, so a step's cost does not grow with K; see
toolchain/compression/codes.py): the way to get K = 256 cells on a CPU. Its run is
``student-MmKk-sampled`` and Table 4 says which way each cell was trained.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, header, parse_cell, write_results  # noqa: E402

BASELINES = ("gru4rec", "narm", "stamp", "srgnn")
# ablation name -> `odtool train student` flags (the paper's w/o-* variants)
ABLATIONS = {
    "stu-base": ["--no-distill"],
    "no-mixup": ["--no-mixup"],
    "no-contrastive": ["--no-contrastive"],
    "frozen-teacher": ["--freeze-teacher"],
    "no-soft-targets": ["--no-soft-targets"],
}
SHOWN = ("P@5", "NDCG@5", "P@10", "NDCG@10", "P@20", "NDCG@20", "MRR@20")


@dataclass
class Job:
    name: str
    kind: str
    flags: list[str] = field(default_factory=list)
    needs_teacher: bool = False


def odtool() -> list[str]:
    exe = Path(sys.executable).with_name("odtool")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "odtool.cli.main"]


def train(job: Job, work: Path, data: Path, common: list[str], core: int | None, log) -> dict:
    """Train (or resume, or reuse) one run; returns its summary.json."""
    from toolchain.training.run_dir import RunDir

    run = RunDir(work / job.name)
    if run.summary.is_file():
        log(f"{job.name}: finished earlier, reused")
        return json.loads(run.summary.read_text())
    cmd = odtool() + ["train", job.kind, "--out", str(run.root)]
    if run.config.is_file():
        cmd += ["--resume", "--data", str(data), "--threads", "1"]
        log(f"{job.name}: resuming")
    else:
        cmd += ["--data", str(data)] + common + job.flags
        if job.needs_teacher:
            cmd += ["--teacher", str(work / "teacher")]
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core)] + cmd
    start = time.time()
    log(f"{job.name}: {' '.join(cmd[cmd.index('train'):])}")
    with open(work / f"{job.name}.log", "a") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "160"})
    if proc.returncode != 0:
        raise RuntimeError(f"{job.name} failed (exit {proc.returncode}); see {work / (job.name + '.log')}")
    log(f"{job.name}: done in {(time.time() - start) / 60:.1f} min")
    return json.loads(run.summary.read_text())


def sizes(work: Path, names: list[str], n_items: int) -> dict[str, dict]:
    from toolchain.training.build import load_trained, reference_teacher
    from toolchain.sizes.report import size_report

    out = {}
    for name in names:
        spec, model = load_trained(work / name, n_items)
        out[name] = {"kind": spec.kind, "item_table": spec.table_kind,
                     **size_report(model, reference_teacher(spec, n_items), spec.deploy.get("encoder_storage", "fp32"))}
    return out


def epoch_limit(run: Path) -> str:
    """A run's own epoch limit ("pretrain + joint" for students): a reused run may differ from the flags."""
    from toolchain.training.run_dir import RunDir

    cfg = RunDir(run).read_config()
    pre = (cfg.get("distill") or {}).get("pretrain_epochs") if cfg["kind"] in ("student", "odrec") else None
    return f"{pre} + {cfg['train']['epochs']}" if pre else str(cfg["train"]["epochs"])


Cell = tuple[int, int, bool]  # M, K, sampled


def cell_name(cell: Cell) -> str:
    m, k, sampled = cell
    return f"student-M{m}-K{k}" + ("-sampled" if sampled else "")


def fmt_row(name: str, metrics: dict, extra: list[str]) -> str:
    return "| " + " | ".join([name, *extra, *(f"{100 * metrics[m]:.2f}" for m in SHOWN)]) + " |"


def table4_claims(t: dict, grid: list[Cell]) -> list[str]:
    """Section 6.3: at a fixed M a larger K is better, at a fixed K a larger M is better (cells
    trained the same way only; adjacent grid cells)."""
    lines = []
    for axis, fixed, varied in (("K", 0, 1), ("M", 1, 0)):
        groups: dict[tuple, list[Cell]] = {}
        for cell in grid:
            groups.setdefault((cell[fixed], cell[2]), []).append(cell)
        for (value, sampled), cells in sorted(groups.items()):
            cells = sorted(cells, key=lambda c: c[varied])
            for small, big in zip(cells, cells[1:]):
                d = 100 * (t[cell_name(big)]["P@10"] - t[cell_name(small)]["P@10"])
                lines.append(f"- larger {axis} is better ({'M' if axis == 'K' else 'K'} = {value}, {axis} {small[varied]} "
                             f"-> {big[varied]}, {'sampled' if sampled else 'all items'}): "
                             f"{'yes' if d > 0 else '**no**'} ({d:+.2f} points of P@10)")
    return lines


def claims(results: dict, table3_student: str, grid: list[Cell]) -> list[str]:
    """The paper's claims (Table 3 / 4, section 6.2) against our numbers, in plain words."""
    t = results["test"]
    teacher, student = t["teacher"], t[table3_student]
    lines = ["## The paper's claims against ours", ""]

    def rel(a: float, b: float) -> float:
        return 100 * (a - b) / b

    for m in ("P@10", "NDCG@10"):
        r = rel(student[m], teacher[m])
        ok = r >= -3.0
        lines.append(f"- student ({table3_student}, CR {results['sizes'][table3_student]['table_ratio']:.1f}) within 3% "
                     f"relative of the teacher on {m}: {'yes' if ok else '**no**'} "
                     f"({100 * student[m]:.2f} vs {100 * teacher[m]:.2f}, {r:+.1f}%)")
    if "stu-base" in t:
        for m in ("P@10", "NDCG@10"):
            d = 100 * (student[m] - t["stu-base"][m])
            lines.append(f"- full distillation beats Stu-base by several points on {m}: "
                         f"{'yes' if d >= 2 else '**no**'} ({d:+.2f} points)")
    for ab, what in (("no-contrastive", "without the contrastive task"), ("frozen-teacher", "with the teacher frozen"),
                     ("no-soft-targets", "without soft targets")):
        if ab in t:
            d = 100 * (student["P@10"] - t[ab]["P@10"])
            lines.append(f"- {what} the student drops (Figure 3): {'yes' if d > 0 else '**no**'} "
                         f"(full student {d:+.2f} points of P@10 over {ab})")
    if "no-mixup" in t:
        d = 100 * (student["P@10"] - t["no-mixup"]["P@10"])
        lines.append(f"- without embedding mixup the student drops (the paper: 'drastically'): "
                     f"{'yes' if d > 0 else '**no**'} (with mixup {d:+.2f} points of P@10 over without)")
    pop = t["popularity"]
    weakest = min((n for n in t if n != "popularity"), key=lambda n: t[n]["P@10"])
    wide = t[weakest]["P@10"] >= 1.5 * pop["P@10"]
    lines.append(f"- every trained model beats popularity by a wide margin (1.5x on P@10): "
                 f"{'yes' if wide else '**no**'}; the weakest is {weakest} at P@10 "
                 f"{100 * t[weakest]['P@10']:.2f} vs popularity {100 * pop['P@10']:.2f} "
                 f"({t[weakest]['P@10'] / max(pop['P@10'], 1e-9):.1f}x)")
    lines += table4_claims(t, grid)
    if "odrec" in t:
        for m in ("P@10", "NDCG@10"):
            d = 100 * (t["odrec"][m] - student[m])
            lines.append(f"- OD-Rec (CR {results['sizes']['odrec']['table_ratio']:.1f}) no better than the student "
                         f"on {m}: {'yes' if d <= 0 else '**no**'} (OD-Rec {d:+.2f} points)")
    return lines + [""]


def report(results: dict, args: argparse.Namespace, student_epochs: int, grid: list[Cell],
           table3: tuple[int, int]) -> list[str]:
    """The Markdown report: settings, Table 3, Table 4, training time, the paper's claims."""
    name, test, size, (m3, k3) = results["name"], results["test"], results["sizes"], table3
    n_items, seqs = results["n_items"], results["sequences"]
    student_name, cells = cell_name((m3, k3, False)), sorted(set(grid) | {(m3, k3, False)})
    md = header(f"Tables 3 and 4 on {name}")
    md += [f"{n_items:,} items; {seqs['train']:,} train / {seqs['valid']:,} valid / {seqs['test']:,} test "
           f"sequences. Test split, full ranking over all items, metrics in %. Every run: at most "
           f"{args.epochs} epochs (students and OD-Rec: {args.pretrain_epochs} pretraining epochs, then at most "
           f"{student_epochs} joint epochs; the training-time table gives each run's own limit), early stopping "
           f"on validation NDCG@10 with patience {args.patience}, one thread, seed {args.seed}"
           + (" (fewer epochs than the paper trains: the numbers are lower bounds)"
              if min(args.epochs, student_epochs) < 20 else "")
           + ". CR: the paper's table compression ratio (Eq. 13 for codes, |V| N / core entries for OD-Rec); "
           "bytes: the deployed model (bit-packed codes + fp32 codebooks + fp32 encoder).", ""]
    md += [f"- **Remark:** {r}" for r in args.remark] + ([""] if args.remark else [])
    cols = "| model | CR | bytes | " + " | ".join(SHOWN) + " |"
    sep = "|---|---:|---:|" + "---:|" * len(SHOWN)
    md += ["## Table 3: all models", "", cols, sep, fmt_row("popularity", test["popularity"], ["", ""])]
    order = list(BASELINES) + ["odrec", "stu-base", "teacher", student_name] + [a for a in ABLATIONS if a != "stu-base"]
    for n in [n for n in order if n in results["epochs"]]:
        label = {student_name: f"student (M={m3}, K={k3})", "stu-base": "Stu-base (no distillation)",
                 "odrec": "OD-Rec", "frozen-teacher": "student, teacher frozen (w/o bidirectional)"}.get(
            n, n if n not in ABLATIONS else f"student w/o {n.removeprefix('no-')}")
        md.append(fmt_row(label, test[n], [f"{size[n]['table_ratio']:.1f}", f"{size[n]['model_bytes']:,}"]))
    md += ["", "## Table 4: the student over M x K", "",
           "Codes trained: *all items* is the paper's path (the code learner runs over every item at every "
           "step); *sampled* runs it on the batch's items and ranks against cached hard codes "
           "(`--sampled-codes`, ours: the learner no longer runs over every item at every step).", "",
           "| M | K | codes trained | CR | bytes | " + " | ".join(SHOWN) + " |",
           "|---:|---:|---|---:|---:|" + "---:|" * len(SHOWN)]
    for cell in sorted(cells, key=lambda c: (c[2], c[0], c[1])):
        n = cell_name(cell)
        md.append(fmt_row(str(cell[0]), test[n], [str(cell[1]), "sampled" if cell[2] else "all items",
                                                  f"{size[n]['table_ratio']:.1f}", f"{size[n]['model_bytes']:,}"]))
    md += ["", "## Training time", "", "| model | epoch limit | epochs run | best epoch | mean s / epoch (by phase) |",
           "|---|---|---:|---:|---|"]
    for n, e in results["epochs"].items():
        phases = ", ".join(f"{p} {s:.0f}" for p, s in e["mean_epoch_seconds"].items())
        md.append(f"| {n} | {e['limit']} | {e['run']} | {e['best']} | {phases} |")
    return md + [""] + claims(results, student_name, cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="a prepared dataset (odtool data prepare ...)")
    ap.add_argument("--name", default=None, help="results stem: paper_tables_<name> (default: the data dir's name)")
    ap.add_argument("--work", type=Path, default=None, help="run directory (default: /tmp/odt-paper-tables/<name>)")
    ap.add_argument("--epochs", type=int, default=20, help="epochs of the teacher and the baselines")
    ap.add_argument("--student-epochs", type=int, default=None,
                    help="epochs of the students' and OD-Rec's joint phase (default: --epochs)")
    ap.add_argument("--pretrain-epochs", type=int, default=2, help="students' L_rec + L_mse epochs first")
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--table3", default="4x32", help="the student of Table 3, MxK")
    ap.add_argument("--grid", default="2x32,2x256,4x32,4x256",
                    help="Table 4's cells: MxK, or MxK:sampled to train that cell with --sampled-codes")
    ap.add_argument("--ablations", default="stu-base,no-mixup", help=f"of {', '.join(ABLATIONS)}")
    ap.add_argument("--baselines", default=",".join(BASELINES))
    ap.add_argument("--no-odrec", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once, one core each")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--remark", action="append", default=[], help="a line for the report (e.g. what was not run)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    from toolchain.compression.codes import compression_ratio
    from toolchain.data.pipeline import load_dataset
    from toolchain.evaluation.evaluate import evaluate
    from toolchain.evaluation.popularity import PopularityRecommender
    from toolchain.training.run_dir import RunDir

    name = args.name or args.data.resolve().name
    work = args.work or Path("/tmp/odt-paper-tables") / name
    work.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(args.data)
    lock = threading.Lock()

    def log(msg: str) -> None:
        with lock:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    common = ["--patience", str(args.patience), "--threads", "1", "--seed", str(args.seed)]
    single = ["--epochs", str(args.epochs)]  # the teacher and the baselines
    student_epochs = args.student_epochs or args.epochs
    student_common = ["--pretrain-epochs", str(args.pretrain_epochs), "--epochs", str(student_epochs)]

    def mk(cell: str, option: str) -> Cell:
        try:
            return parse_cell(cell)
        except ValueError as e:
            ap.error(f"{option}: {e}")

    m3, k3, sampled3 = mk(args.table3, "--table3")
    if sampled3:
        ap.error("--table3: the Table 3 student is trained the paper's way; give MxK")
    jobs: list[Job] = []
    student_name = cell_name((m3, k3, False))
    grid = [mk(c, "--grid") for c in args.grid.split(",") if c]
    for cell in [(m3, k3, False)] + [c for c in grid if c != (m3, k3, False)]:
        m, k, sampled = cell
        jobs.append(Job(cell_name(cell), "student", student_common + ["--recipe", "paper", "--M", str(m), "--K", str(k)]
                        + (["--sampled-codes"] if sampled else []), True))
    for ab in [a for a in args.ablations.split(",") if a]:
        if ab not in ABLATIONS:
            ap.error(f"--ablations: unknown {ab!r}; choose from {', '.join(ABLATIONS)}")
        jobs.append(Job(ab, "student", student_common + ["--recipe", "paper", "--M", str(m3), "--K", str(k3)]
                        + ABLATIONS[ab], True))
    baselines = [Job(b, b, single) for b in args.baselines.split(",") if b]

    if not args.no_odrec:
        jobs.append(Job("odrec", "odrec", [], True))  # flags need the teacher's N: filled in below
    # Most telling first (so a stopped run has the Table 3 core): the teacher with the first
    # baseline beside it (baselines need no teacher), then the Table 3 student, Stu-base and
    # OD-Rec, the other baselines, the rest of the grid, the other ablations. Students wait
    # for the teacher.
    first = [j for j in jobs if j.name in (student_name, "stu-base", "odrec")]
    rest = [j for j in jobs if j not in first]
    queue = [Job("teacher", "teacher", single)] + baselines[:1] + first + baselines[1:] + rest
    cores = list(range(min(args.jobs, os.cpu_count() or 1)))
    free, teacher_done, summaries = list(cores), threading.Event(), {}
    started = time.time()

    def run(job: Job) -> None:
        if job.needs_teacher:
            teacher_done.wait()
            if "teacher" not in summaries:
                return
        if job.name == "odrec":  # OD-Rec at the Table 3 student's Eq. (13) ratio, at the teacher's N
            dim = RunDir(work / "teacher").read_config()["model"]["dim"]
            job.flags = student_common + ["--ratio", f"{compression_ratio(ds.n_items, dim, m3, k3):.4f}"]
        with lock:
            core = free.pop(0)
        try:
            summaries[job.name] = train(job, work, args.data, common, core, log)
        finally:
            with lock:
                free.append(core)
            if job.name == "teacher":
                teacher_done.set()

    with ThreadPoolExecutor(len(cores)) as pool:
        for future in [pool.submit(run, job) for job in queue]:
            future.result()
    summaries = {j.name: summaries[j.name] for j in queue}
    log(f"all runs done in {(time.time() - started) / 60:.1f} min; measuring sizes")

    test = {"popularity": evaluate(PopularityRecommender.fit(ds), ds.test, batch_size=500)}
    test.update({n: s["test"] for n, s in summaries.items()})
    size = sizes(work, list(summaries), ds.n_items)
    results = {"dataset": str(args.data), "name": name, "n_items": ds.n_items,
               "sequences": {"train": len(ds.train), "valid": len(ds.valid), "test": len(ds.test)},
               "settings": vars(args) | {"data": str(args.data), "work": str(work), "out": str(args.out)},
               "test": test, "sizes": size,
               "epochs": {n: {"limit": epoch_limit(work / n), "best": s["best_epoch"], "run": s["epochs_run"], "stopped_early": s["stopped_early"],
                              "mean_epoch_seconds": s["mean_epoch_seconds"]} for n, s in summaries.items()}}

    md = report(results, args, student_epochs, grid, (m3, k3))
    md_path, js_path = write_results(f"paper_tables_{name}", md, results, args.out)
    print("\n".join(md))
    print(f"wrote {md_path} and {js_path}")


if __name__ == "__main__":
    main()
