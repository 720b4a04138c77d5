"""Shapes of (semi-)tensor-train item tables: factorisations, sizes, compression ratios.

A table of |V|+1 rows (row 0 is padding) and N columns is viewed as a d-way tensor:
rows are factorised as prod I_k >= |V|+1 (padded up to a product; the extra rows are
never used) and N = prod J_k exactly. With TT-rank R and semi-tensor factor n
(EODRec section 3.2.2; n = 1 is the plain tensor train of TT-Rec, Eqs. 4-5) the cores are

    G_1: [1, I_1, J_1, R]    G_k: [R/n, I_k, J_k/n, R] (1 < k < d)    G_d: [R/n, I_d, J_d/n, 1]

so n must divide R and J_2..J_d. Their sizes add up to the denominator of Eq. (10).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from toolchain.errors import ConfigError


def balanced_factors(value: int, d: int) -> tuple[int, ...]:
    """``d`` factors with product exactly ``value``, as equal as possible, ascending.

    >>> balanced_factors(128, 3)
    (4, 4, 8)
    """
    best: tuple[int, ...] | None = None

    def search(rest: int, k: int, lo: int, chosen: tuple[int, ...]) -> None:
        nonlocal best
        if k == 1:
            if rest >= lo:
                cand = chosen + (rest,)
                if best is None or cand[-1] / cand[0] < best[-1] / best[0]:
                    best = cand
            return
        f = lo
        while f ** k <= rest:
            if rest % f == 0:
                search(rest // f, k - 1, f, chosen + (f,))
            f += 1

    search(value, d, 1, ())
    assert best is not None  # (1, ..., 1, value) always qualifies
    return best


def padded_factors(value: int, d: int, slack: float = 0.03) -> tuple[int, ...]:
    """``d`` ascending factors, product >= ``value``, as balanced as possible.

    Balance keeps every core small (TT-Rec uses near-equal factors too); it is bought with
    padding rows that are never used, at most ``slack`` (3%) of ``value``. Among factors
    within [c/2, 2c] of c = value^(1/d): the most balanced product <= value * (1 + slack),
    fewer padding rows breaking ties; if none is that close, the smallest product.

    >>> padded_factors(40729, 3)
    (34, 35, 35)
    """
    c = value ** (1.0 / d)
    lo, hi = max(1, math.floor(c / 2)), max(2, math.ceil(2 * c))
    close: list[tuple[float, int, tuple[int, ...]]] = []
    smallest: tuple[int, tuple[int, ...]] | None = None
    for head in itertools.combinations_with_replacement(range(lo, hi + 1), d - 1):
        last = max(head[-1] if head else 1, -(-value // math.prod(head)))
        if last > hi:
            continue
        cand, prod = head + (last,), math.prod(head) * last
        if prod <= value * (1 + slack):
            close.append((cand[-1] / cand[0], prod, cand))
        if smallest is None or prod < smallest[0]:
            smallest = (prod, cand)
    if close:
        return min(close)[2]
    assert smallest is not None  # (hi, ..., hi) >= value always qualifies
    return smallest[1]


def stt_parameter_count(item_factors, dim_factors, rank: int, n: int = 1) -> int:
    """Number of core entries: I_1 J_1 R + sum_{1<k<d} I_k J_k R^2/n^2 + I_d J_d R/n^2."""
    d = len(item_factors)
    total = 0
    for k, (i, j) in enumerate(zip(item_factors, dim_factors)):
        r_in = 1 if k == 0 else rank // n
        j_k = j if k == 0 else j // n
        r_out = 1 if k == d - 1 else rank
        total += r_in * i * j_k * r_out
    return total


def stt_compression_ratio(item_factors, dim_factors, rank: int, n: int) -> float:
    """Eq. (10): prod_k I_k J_k / (I_1 J_1 R + sum_{k=2}^{d-1} I_k J_k R^2/n^2 + I_d J_d R/n^2).

    (The paper prints the middle sum from k=1; k=1 is the first core, already counted.)
    The numerator is the *padded* table prod I_k x N, as in the paper.
    """
    full = math.prod(item_factors) * math.prod(dim_factors)
    return full / stt_parameter_count(item_factors, dim_factors, rank, n)


def tt_compression_ratio(item_factors, dim_factors, rank: int) -> float:
    """Plain tensor train (Eqs. 4-5, all inner ranks R): Eq. (10) with n = 1."""
    return stt_compression_ratio(item_factors, dim_factors, rank, 1)


@dataclasses.dataclass(frozen=True)
class TTShape:
    """A concrete (semi-)tensor-train layout; ``n == 1`` is a plain tensor train."""

    item_factors: tuple[int, ...]
    dim_factors: tuple[int, ...]
    rank: int
    n: int = 1

    @property
    def parameters(self) -> int:
        return stt_parameter_count(self.item_factors, self.dim_factors, self.rank, self.n)

    def core_shapes(self) -> list[tuple[int, int, int, int]]:
        """[R_{k-1}/n_k, I_k, J_k/n_k, R_k] per core (n_1 = 1, R_0 = R_d = 1)."""
        d = len(self.item_factors)
        shapes = []
        for k, (i, j) in enumerate(zip(self.item_factors, self.dim_factors)):
            n_k = 1 if k == 0 else self.n
            r_in = 1 if k == 0 else self.rank
            shapes.append((r_in // n_k, i, j // n_k, 1 if k == d - 1 else self.rank))
        return shapes

    def compression_ratio(self, n_items: int, dim: int) -> float:
        """|V| N / #core entries: what the toolchain reports (a full table's storage, in
        which the padding row is free, over this one's), comparable to the student's Eq. (13)."""
        return n_items * dim / self.parameters

    def problems(self, n_items: int, dim: int) -> list[str]:
        out = []
        if math.prod(self.item_factors) < n_items + 1:
            out.append(f"item_factors {list(self.item_factors)} multiply to "
                       f"{math.prod(self.item_factors)} < |V|+1 = {n_items + 1}")
        if math.prod(self.dim_factors) != dim:
            out.append(f"dim_factors {list(self.dim_factors)} must multiply to dim = {dim}")
        if self.rank % self.n:
            out.append(f"rank {self.rank} must be a multiple of n = {self.n}")
        bad = [j for j in self.dim_factors[1:] if j % self.n]
        if bad:
            out.append(f"n = {self.n} must divide dim_factors[1:] {list(self.dim_factors[1:])}; "
                       f"choose n among {semi_factors(self.dim_factors)}")
        return out


def semi_factors(dim_factors) -> list[int]:
    """Valid semi-tensor factors n: divisors of every J_k after the first."""
    g = math.gcd(*dim_factors[1:]) if len(dim_factors) > 1 else 1
    return [n for n in range(1, g + 1) if g % n == 0]


def default_factors(n_items: int, dim: int, d: int, item_factors=None,
                    dim_factors=None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(I, J): the given factors, else :func:`padded_factors` of |V|+1 and
    :func:`balanced_factors` of N."""
    if item_factors:
        items_f = tuple(int(x) for x in item_factors)
    else:
        items_f = padded_factors(n_items + 1, d)
    dims_f = tuple(int(x) for x in dim_factors) if dim_factors else balanced_factors(dim, d)
    return items_f, dims_f


def checked_shape(shape: TTShape, n_items: int, dim: int, source: str) -> TTShape:
    """Return ``shape`` if it fits ``n_items`` x ``dim``, else raise ConfigError from ``source``."""
    problems = shape.problems(n_items, dim)
    if problems:
        raise ConfigError(problems, source=source)
    return shape


def shape_for_ratio(n_items: int, dim: int, target_ratio: float, *, d: int = 3,
                    n: int | None = 1, item_factors=None, dim_factors=None) -> TTShape:
    """The layout whose :meth:`TTShape.compression_ratio` is closest to ``target_ratio``.

    Factors default to :func:`default_factors`; R runs over the multiples of n. ``n=None``
    searches every valid n as well (closest ratio wins, the smaller n on ties). This is how
    OD-Rec is put at the student's compression ratio.
    """
    items_f, dims_f = default_factors(n_items, dim, d, item_factors, dim_factors)
    ns = semi_factors(dims_f) if n is None else [n]
    best: tuple[float, TTShape] | None = None
    for n_ in ns:
        rank = n_
        while True:
            shape = checked_shape(TTShape(items_f, dims_f, rank, n_), n_items, dim,
                                  "tensor-train shape")
            ratio = shape.compression_ratio(n_items, dim)
            miss = abs(math.log(ratio / target_ratio))
            if best is None or miss < best[0]:
                best = (miss, shape)
            if ratio < target_ratio:  # ratios only fall as R grows
                break
            rank += n_
    assert best is not None
    return best[1]
