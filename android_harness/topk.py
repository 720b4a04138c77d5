"""Compare the top-k of the same artifact on two devices, allowing for near-ties.

fp32 scores differ by ~3e-7 between x86-64 and ARM (different FMA use and summation
order), so two items whose scores nearly tie can come out in either order. A session
*matches* when its indices are equal, or equal up to swaps of items whose scores are
within ``tol`` of each other:

1. rank by rank, the two score lists agree within ``tol``;
2. an item at rank p on one side and rank q on the other has scores within ``tol``
   across those ranks (it moved only inside its tie group);
3. an item present on one side only sits at the cut-off: its score ties the other
   side's k-th score within ``tol`` (its twin fell just outside the top k).

"Within tol" is ``|a - b| <= tol * max(1, |a|, |b|)``: absolute for scores near 1,
relative for large ones. Results without scores can only match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from android_harness.results import RunResult, SessionTopK

DEFAULT_TOL = 1e-5


@dataclass(frozen=True)
class SessionMismatch:
    """One session whose top-k differs beyond near-ties: the first differing rank, why, both lists."""
    session: int
    rank: int                    # first rank where the indices differ
    reason: str
    a_indices: tuple[int, ...]
    b_indices: tuple[int, ...]


@dataclass
class TopKComparison:
    """The outcome over all sessions: counts plus every mismatching session."""

    n_sessions: int = 0
    exact: int = 0
    tie_equivalent: int = 0
    top1_equal: int = 0
    max_score_diff: float = 0.0
    mismatches: list[SessionMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        head = (f"top-k equal on {self.exact + self.tie_equivalent}/{self.n_sessions} sessions "
                f"({self.exact} exact, {self.tie_equivalent} up to near-tie swaps); "
                f"top-1 equal {self.top1_equal}/{self.n_sessions}; max |score diff| {self.max_score_diff:.3g}")
        lines = [head] + [f"  session {m.session}, rank {m.rank}: {m.reason} "
                          f"({list(m.a_indices)} vs {list(m.b_indices)})" for m in self.mismatches[:10]]
        if len(self.mismatches) > 10:
            lines.append(f"  ... and {len(self.mismatches) - 10} more")
        return "\n".join(lines)


def close(a: float, b: float, tol: float) -> bool:
    """Whether ``a`` and ``b`` agree within ``tol``: absolute for magnitudes up to 1, relative above."""
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def compare_session(a: SessionTopK, b: SessionTopK, tol: float = DEFAULT_TOL) -> tuple[str, int, str]:
    """('exact' | 'ties' | 'mismatch', first differing rank or -1, reason)."""
    if a.indices == b.indices:
        return "exact", -1, ""
    rank = next((p for p, (x, y) in enumerate(zip(a.indices, b.indices)) if x != y),
                min(len(a.indices), len(b.indices)))
    if len(a.indices) != len(b.indices):
        return "mismatch", rank, f"k differs ({len(a.indices)} vs {len(b.indices)})"
    if not a.scores or not b.scores:
        return "mismatch", rank, "indices differ and there are no scores to check ties"
    sa, sb = a.scores, b.scores
    for p in range(len(sa)):
        if not close(sa[p], sb[p], tol):
            return "mismatch", rank, f"scores at rank {p} differ: {sa[p]:.9g} vs {sb[p]:.9g}"
    pos_b = {item: q for q, item in enumerate(b.indices)}
    pos_a = {item: p for p, item in enumerate(a.indices)}
    for p, item in enumerate(a.indices):
        q = pos_b.get(item)
        if q is None:
            if not close(sa[p], sb[-1], tol):
                return "mismatch", rank, f"item {item} (rank {p}) is missing on the other side and is no near-tie"
        elif q != p and not close(sa[p], sa[q], tol):
            return "mismatch", rank, f"item {item} moved from rank {p} to {q} across distinct scores"
    for q, item in enumerate(b.indices):
        if item not in pos_a and not close(sb[q], sa[-1], tol):
            return "mismatch", rank, f"item {item} (rank {q}) is missing on this side and is no near-tie"
    return "ties", rank, ""


def compare_topk(a: RunResult | Sequence[SessionTopK], b: RunResult | Sequence[SessionTopK],
                 *, tol: float = DEFAULT_TOL) -> TopKComparison:
    """Compare two runs of the same artifact on the same session file, session by session."""
    sa = a.sessions if isinstance(a, RunResult) else tuple(a)
    sb = b.sessions if isinstance(b, RunResult) else tuple(b)
    out = TopKComparison(n_sessions=max(len(sa), len(sb)))
    if len(sa) != len(sb):
        out.mismatches.append(SessionMismatch(min(len(sa), len(sb)), 0,
                                              f"session counts differ ({len(sa)} vs {len(sb)})", (), ()))
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x.indices[:1] == y.indices[:1]:
            out.top1_equal += 1
        diffs = [abs(p - q) for p, q in zip(x.scores, y.scores)]
        if diffs:
            out.max_score_diff = max(out.max_score_diff, max(diffs))
        verdict, rank, reason = compare_session(x, y, tol)
        if verdict == "exact":
            out.exact += 1
        elif verdict == "ties":
            out.tie_equivalent += 1
        else:
            out.mismatches.append(SessionMismatch(i, rank, reason, x.indices, y.indices))
    return out
