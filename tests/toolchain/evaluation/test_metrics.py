"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from toolchain.data.dataset import Split
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.metrics import RankAccumulator, metrics_from_ranks, target_ranks
from toolchain.evaluation.popularity import PopularityRecommender

NEG = float("-inf")


def test_ranks_by_hand():
    # column 0 is padding; items 1..5
    scores = torch.tensor([
        [NEG, 0.1, 0.9, 0.5, 0.3, 0.2],  # target 2 is best -> rank 1
        [NEG, 0.1, 0.9, 0.5, 0.3, 0.2],  # target 4 (0.3): 0.9, 0.5 higher -> rank 3
        [NEG, 0.5, 0.5, 0.5, 0.1, 0.0],  # target 3 ties with two others -> pessimistic rank 3
        [100., 0.1, 0.2, 0.3, 0.4, 0.5],  # padding score is ignored: target 5 -> rank 1
    ])
    ranks = target_ranks(scores, torch.tensor([2, 4, 3, 5]))
    assert ranks.tolist() == [1, 3, 3, 1]


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
    assert acc.result() == metrics_from_ranks(target_ranks(scores, targets))


def test_popularity_recommender_full_ranking():
    # item counts: item 3 most popular, then 1, then 2; item 4 never a target
    counts = np.array([0, 5, 2, 9, 0])
    split = Split.from_lists([[1], [2, 3], [4], [1, 1]], [3, 1, 2, 4])
    m = evaluate(PopularityRecommender(counts), split, ks=(1, 3))
    # ranks: target 3 -> 1, target 1 -> 2, target 2 -> 3, target 4 -> 4
    assert m["P@1"] == pytest.approx(1 / 4)
    assert m["P@3"] == pytest.approx(3 / 4)
    assert m["MRR@3"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert m["sequences"] == 4
