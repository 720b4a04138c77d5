"""Exported vs eager: the same top-k (ties aside) and scores within a relative tolerance.

For every check session the exported model's (scores, indices) are compared with the eager
graph's. Position j agrees when the indices are equal, or when the exported item's *eager*
score equals the eager score at j (a tie, ordered differently). Scores must agree within
``rtol`` relative (plus a tiny absolute floor for scores near zero).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from export.graphs.base import InferenceGraph
from toolchain.data.batching import pad_batch
from toolchain.data.dataset import SessionDataset
from toolchain.errors import ExportError
from toolchain.models.base import mask_padding
from toolchain.progress import info

Runner = Callable[[torch.Tensor, torch.Tensor], tuple[np.ndarray, np.ndarray]]

RTOL = 1e-4
ATOL = 1e-6


@dataclass
class Mismatch:
    """One top-k position where the export disagrees with eager: both items, their scores, the error."""
    session: int
    position: int
    eager_item: int
    eager_score: float
    exported_item: int
    exported_score: float
    relative_error: float


@dataclass
class ParityResult:
    """One format's parity outcome: ok, max relative score error, tie swaps, first mismatches."""
    format: str
    sessions: int
    ok: bool
    max_relative_error: float
    tie_swaps: int
    mismatches: list[Mismatch] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.ok:
            return (f"{self.format}: top-k equal to eager on {self.sessions} sessions "
                    f"(max relative score error {self.max_relative_error:.2e}, {self.tie_swaps} tie swaps)")
        m = self.mismatches[0]
        return (f"{self.format}: exported model disagrees with eager on {len(self.mismatches)} position(s); "
                f"first: session {m.session}, rank {m.position + 1}: eager item {m.eager_item} "
                f"(score {m.eager_score:.6g}) vs exported item {m.exported_item} "
                f"(score {m.exported_score:.6g}), relative error {m.relative_error:.2e} > {RTOL:g}")


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), ATOL / RTOL)


@torch.no_grad()
def check_parity(fmt: str, graph: InferenceGraph, run: Runner,
                 sessions: Sequence[tuple[torch.Tensor, torch.Tensor]], rtol: float = RTOL) -> ParityResult:
    """Compare ``run`` (the exported model) with ``graph`` (eager) on every session."""
    from export.contract import InputContract

    max_err, swaps, bad = 0.0, 0, []
    contract = InputContract(graph.options.max_len, dynamic=True)  # eager takes any 1 <= L <= max_len
    for s, (items, lengths) in enumerate(sessions):
        contract.check(items, lengths)  # the same refusal as every loader and runner
        ev, ei = (t.numpy() for t in graph(items, lengths))
        xv, xi = (np.asarray(a).reshape(-1) for a in run(items, lengths))
        full = None
        for j in range(len(ei)):
            err = _rel(float(xv[j]), float(ev[j]))
            max_err = max(max_err, err)
            if int(xi[j]) == int(ei[j]) and err <= rtol:
                continue
            if full is None:  # eager scores of every item, to recognise ties
                it, ln = graph.sanitize(items, lengths)
                full = mask_padding(graph.model.items.score(graph.model.encode(it, ln)))[0].numpy()
            if err <= rtol and _rel(float(full[int(xi[j])]), float(ev[j])) <= rtol:
                swaps += 1
                continue
            bad.append(Mismatch(s, j, int(ei[j]), float(ev[j]), int(xi[j]), float(xv[j]), err))
    return ParityResult(fmt, len(sessions), not bad, max_err, swaps, bad[:20])


def require_parity(result: ParityResult) -> ParityResult:
    """Raise a clear ExportError (exit non-zero) when parity failed."""
    if not result.ok:
        raise ExportError(result.describe(),
                          hint="the export is not trustworthy; report it with the model and this message")
    return result


def random_sessions(n_items: int, max_len: int, count: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Synthetic check sessions: lengths 1..max_len, items uniform over 1..n_items."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        n = int(torch.randint(1, max_len + 1, (1,), generator=g))
        items = torch.zeros(1, max_len, dtype=torch.long)
        items[0, :n] = torch.randint(1, n_items + 1, (n,), generator=g)
        out.append((items, torch.tensor([n])))
    return out


def check_sessions(spec_data: dict, data: Path | None, n_items: int, max_len: int,
                   count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sessions for the parity check: the dataset's test split when available, else synthetic.

    ``data`` (else the run's dataset, ``spec_data["path"]``) is used when it has ``n_items``
    items: ``count`` test sequences spread evenly over the split, padded to ``max_len``."""
    path = data or spec_data.get("path")
    if path and (Path(path) / "manifest.json").is_file():
        ds = SessionDataset.load(path)
        if ds.n_items == n_items and len(ds.test):
            idx = [int(i) for i in np.linspace(0, len(ds.test) - 1, min(count, len(ds.test)))]
            return [pad_batch(ds.test, [i], max_len) for i in idx]
        info(f"[yellow]{path} does not match the artifact's {n_items} items: checking on synthetic sessions[/]")
    return random_sessions(n_items, max_len, count)
