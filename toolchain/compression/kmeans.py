"""Weighted k-means (Lloyd, k-means++ seeding), deterministic for a given seed: code assignment.

Used to turn a teacher's item table into integer codes: per subspace (product quantization)
or on successive residuals (residual quantization). Rows can be weighted (e.g. by item
popularity): a weighted centroid is the weighted mean of its rows, so frequent items are
reconstructed better, which is where a ranking metric's targets mostly are.
"""

from __future__ import annotations

import torch


def _sq_dist(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Squared distances [R, K] between rows x [R, d] and centroids c [K, d]."""
    return ((x * x).sum(1, keepdim=True) - 2.0 * x @ c.t() + (c * c).sum(1).unsqueeze(0)).clamp_min_(0.0)


def _assign(x: torch.Tensor, c: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    return torch.cat([_sq_dist(x[i:i + chunk], c).argmin(1) for i in range(0, x.shape[0], chunk)])


@torch.no_grad()
def kmeans(x: torch.Tensor, k: int, iters: int = 25, weights: torch.Tensor | None = None,
           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(centroids [k, d], assignment int64 [R]) of rows ``x`` [R, d].

    k-means++ seeding on a sample of at most 20k rows (weighted), then ``iters`` Lloyd steps;
    an emptied cluster is re-seeded with the row farthest from its centroid. With fewer
    distinct rows than ``k`` some centroids repeat (harmless: codes just use fewer of them).
    """
    x = x.detach().float()
    r, _ = x.shape
    w = torch.ones(r) if weights is None else weights.detach().float().clamp_min(1e-12)
    g = torch.Generator().manual_seed(seed)
    sample = torch.randperm(r, generator=g)[: min(r, 20000)]
    xs, ws = x[sample], w[sample]
    first = int(torch.multinomial(ws, 1, generator=g))
    cents = [xs[first]]
    d2 = _sq_dist(xs, xs[first:first + 1]).squeeze(1)
    for _ in range(1, k):
        p = d2 * ws
        idx = int(torch.multinomial(p, 1, generator=g)) if float(p.sum()) > 0 else int(torch.randint(len(xs), (1,), generator=g))
        cents.append(xs[idx])
        d2 = torch.minimum(d2, _sq_dist(xs, xs[idx:idx + 1]).squeeze(1))
    c = torch.stack(cents)
    assign = _assign(x, c)
    for _ in range(iters):
        sums = torch.zeros_like(c).index_add_(0, assign, x * w.unsqueeze(1))
        mass = torch.zeros(k).index_add_(0, assign, w)
        empty = mass <= 0
        c = torch.where(empty.unsqueeze(1), c, sums / mass.clamp_min(1e-12).unsqueeze(1))
        if bool(empty.any()):
            err = ((x - c[assign]) ** 2).sum(1) * w
            far = torch.argsort(err, descending=True)[: int(empty.sum())]
            c[empty] = x[far]
        new = _assign(x, c)
        if torch.equal(new, assign):
            break
        assign = new
    return c, assign
