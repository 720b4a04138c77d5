"""k-means: deterministic, better than chance, weights pull centroids, empty clusters refilled."""

from __future__ import annotations

import torch

from toolchain.compression.kmeans import kmeans


def _blobs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 3, generator=g) * 10
    labels = torch.arange(400) % 4
    return centers[labels] + 0.1 * torch.randn(400, 3, generator=g), labels


def test_recovers_separated_clusters_and_is_deterministic():
    x, labels = _blobs()
    c1, a1 = kmeans(x, 4, iters=20, seed=3)
    c2, a2 = kmeans(x, 4, iters=20, seed=3)
    assert torch.equal(c1, c2) and torch.equal(a1, a2)
    # each true cluster maps to exactly one centroid
    assert all(len(set(a1[labels == j].tolist())) == 1 for j in range(4))
    assert len(set(a1.tolist())) == 4
    err = ((x - c1[a1]) ** 2).sum(1).mean()
    assert err < 0.1  # within-cluster noise is 3 * 0.01


def test_weights_pull_the_centroid():
    x = torch.tensor([[0.0], [1.0]])
    c, a = kmeans(x, 1, iters=5, weights=torch.tensor([9.0, 1.0]))
    assert abs(float(c[0, 0]) - 0.1) < 1e-6 and a.tolist() == [0, 0]


def test_more_clusters_than_distinct_rows_is_harmless():
    x = torch.zeros(10, 2)
    c, a = kmeans(x, 4, iters=3)
    assert c.shape == (4, 2) and bool((a >= 0).all()) and float(((x - c[a]) ** 2).sum()) == 0.0
