"""The synthetic default is deterministic, realistic, and learnable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from toolchain.data.preprocess import PrepareOptions, prepare
from toolchain.data.stats import popularity_share
from toolchain.data.synth import SynthConfig, synthesize
from toolchain.errors import ConfigError
from toolchain.evaluation.evaluate import evaluate
from toolchain.evaluation.popularity import PopularityRecommender

CFG = SynthConfig(n_items=1000, n_sessions=6000, seed=0)


def test_same_seed_same_sessions_other_seed_differs():
    a, b = synthesize(CFG), synthesize(CFG)
    assert a.sessions == b.sessions and a.end_times == b.end_times
    assert synthesize(dataclasses.replace(CFG, seed=1)).sessions != a.sessions


def test_lengths_and_popularity_look_like_session_logs():
    raw = synthesize(CFG)
    lengths = np.array([len(s) for s in raw.sessions if len(s) > 1])
    assert 5.0 <= lengths.mean() <= 7.0
    ds = prepare(raw, PrepareOptions())
    share = popularity_share(ds.item_counts, 0.2)
    assert 0.5 < share < 0.95  # skewed, not uniform (uniform would give 0.2)


class _LastItemMarkov:
    """Counts of (last item -> next item) in training: the simplest sequence model."""

    def __init__(self, ds):
        v = ds.n_items + 1
        self.table = torch.zeros(v, v)
        for seq, t in ds.train:
            self.table[seq[-1], t] += 1
        self.table += 1e-3 * torch.as_tensor(ds.item_counts, dtype=torch.float32)  # break ties

    def score(self, items, lengths):
        return self.table[items.gather(1, (lengths - 1).view(-1, 1)).view(-1)]


def test_transitions_are_learnable_far_beyond_popularity():
    ds = prepare(synthesize(CFG), PrepareOptions())
    pop = evaluate(PopularityRecommender.fit(ds), ds.test)
    markov = evaluate(_LastItemMarkov(ds), ds.test)
    assert markov["P@10"] > 2.5 * pop["P@10"]
    assert markov["NDCG@10"] > 3 * pop["NDCG@10"]


def test_bad_config_lists_all_problems():
    with pytest.raises(ConfigError) as e:
        SynthConfig(n_items=1, p_follow=2.0, mean_length=1)
    assert len(e.value.problems) == 3
