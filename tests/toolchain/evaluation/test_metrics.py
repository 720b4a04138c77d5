"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from toolchain.data.dataset import Split
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.metrics import (
    RankAccumulator,
    metrics_from_ranks,
    metrics_from_stats,
    rank_stats,
    target_ranks,
)
from toolchain.evaluation.popularity import PopularityRecommender

NEG = float("-inf")


def test_ranks_by_hand():
    # column 0 is padding; items 1..5
    scores = torch.tensor([
        [NEG, 0.1, 0.9, 0.5, 0.3, 0.2],  # target 2 is best -> rank 1
        [NEG, 0.1, 0.9, 0.5, 0.3, 0.2],  # target 4 (0.3): 0.9, 0.5 higher -> rank 3
        [NEG, 0.5, 0.5, 0.5, 0.1, 0.0],  # target 3 ties with two others -> ranks 1..3
        [100., 0.1, 0.2, 0.3, 0.4, 0.5],  # padding score is ignored: target 5 -> rank 1
    ])
    higher, group = rank_stats(scores, torch.tensor([2, 4, 3, 5]))
    assert higher.tolist() == [0, 2, 0, 0] and group.tolist() == [1, 1, 3, 1]
    assert target_ranks(scores, torch.tensor([2, 4, 3, 5])).tolist() == [1, 3, 2, 1]


def test_ties_are_broken_at_random_in_expectation():
    # h = 3 items above, a tie group of g = 4: the target is at rank 4, 5, 6 or 7 with chance 1/4 each
    m = metrics_from_stats([3], [4], ks=(5, 10))
    assert m["P@5"] == pytest.approx(2 / 4)  # ranks 4 and 5 are inside the top 5
    assert m["P@10"] == pytest.approx(1.0)
    assert m["NDCG@5"] == pytest.approx((1 / math.log2(5) + 1 / math.log2(6)) / 4)
    assert m["MRR@10"] == pytest.approx((1 / 4 + 1 / 5 + 1 / 6 + 1 / 7) / 4)
    # a constant scorer over 100 items: P@10 = 10/100, whatever the target
    scores = torch.zeros(3, 101)
    acc = RankAccumulator(ks=(10,))
    acc.add(scores, torch.tensor([1, 50, 100]))
    assert acc.result()["P@10"] == pytest.approx(0.1)


def test_metric_values_by_hand():
    ranks = np.array([1, 3, 7, 12, 30])
    m = metrics_from_ranks(ranks, ks=(5, 10, 20))
    assert m["P@5"] == pytest.approx(2 / 5)
    assert m["P@10"] == pytest.approx(3 / 5)
    assert m["P@20"] == pytest.approx(4 / 5)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / math.log2(4)) / 5)
    assert m["NDCG@10"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(8)) / 5)
    assert m["NDCG@20"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / math.log2(13)) / 5)
    assert m["MRR@5"] == pytest.approx((1 + 1 / 3) / 5)
    assert m["MRR@20"] == pytest.approx((1 + 1 / 3 + 1 / 7 + 1 / 12) / 5)


def test_accumulator_equals_one_shot():
    torch.manual_seed(0)
    scores = torch.randn(37, 21)
    targets = torch.randint(1, 21, (37,))
    acc = RankAccumulator()
    for i in range(0, 37, 10):
        acc.add(scores[i:i + 10], targets[i:i + 10])
    assert acc.count == 37
    h, _ = rank_stats(scores, targets)  # random scores: no ties
    assert acc.result() == pytest.approx(metrics_from_ranks(h.numpy() + 1))


def test_popularity_recommender_full_ranking():
    # item counts: item 3 most popular, then 1, then 2, then 4
    counts = np.array([0, 5, 2, 9, 1])
    split = Split.from_lists([[1], [2, 3], [4], [1, 1]], [3, 1, 2, 4])
    m = evaluate(PopularityRecommender(counts), split, ks=(1, 3))
    # ranks: target 3 -> 1, target 1 -> 2, target 2 -> 3, target 4 -> 4
    assert m["P@1"] == pytest.approx(1 / 4)
    assert m["P@3"] == pytest.approx(3 / 4)
    assert m["MRR@3"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert m["sequences"] == 4
