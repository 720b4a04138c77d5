"""How much of a student's accuracy lives in the teacher's embeddings it was trained with?

Embedding mixup (EODRec Eq. 18) trains the student on e'_v = eta X_v + (1 - eta) e_v (X: the
teacher's table, e: the compositional codes) and deploys it on e_v alone. This script scores a
trained student run's session encoder against three item tables and prints test metrics:

* ``codes``   e_v from the hard codes: what is deployed (what ``odtool eval`` reports);
* ``mixed``   eta X_v + (1 - eta) e_v: what the encoder saw in training (not deployable);
* ``teacher`` X_v alone (not deployable).

A large gap between ``mixed`` and ``codes`` means the encoder learned to rely on X.

    python benchmarks/mixup_gap.py RUN [--data DIR] [--split test]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a trained student run (odtool train student)")
    ap.add_argument("--data", type=Path, default=None, help="dataset (default: the run's)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from safetensors.torch import load_file

    from toolchain.compression.item_table import FullTable
    from toolchain.data.pipeline import load_dataset
    from toolchain.evaluation.evaluate import evaluate
    from toolchain.training.build import load_trained
    from toolchain.training.run_dir import RunDir

    torch.set_num_threads(args.threads)
    run = RunDir(args.run)
    data = args.data or run.read_config().get("data", {}).get("path")
    ds = load_dataset(data)
    spec, model = load_trained(args.run, ds.n_items)
    if spec.kind != "student":
        sys.exit(f"{args.run} is a {spec.kind} run, not a student run")
    source = run.teacher if run.teacher.is_file() else Path(spec.teacher["run"]) / "model.safetensors"
    x = load_file(str(source))["items.weight"]
    model.eval()
    with torch.no_grad():
        e = model.items.all_embeddings()
    eta = spec.item_table.eta

    def full(weight: torch.Tensor) -> FullTable:
        table = FullTable(ds.n_items, weight.shape[1])
        table.weight.data.copy_(weight)
        return table

    tables = {"codes": model.items, "mixed": full(eta * x + (1 - eta) * e), "teacher": full(x)}
    out = {}
    for name, table in tables.items():
        model.items = table
        out[name] = evaluate(model, ds.split(args.split), batch_size=500, max_len=spec.train.max_len,
                             description=f"{name} table")
        print(f"{name:8s} P@10 {100 * out[name]['P@10']:6.2f}  NDCG@10 {100 * out[name]['NDCG@10']:6.2f}", flush=True)
    print(json.dumps({"run": str(args.run), "eta": eta, "mixup": spec.item_table.mixup, "split": args.split,
                      "metrics": out}, sort_keys=True))


if __name__ == "__main__":
    main()
