"""The synthetic default dataset: realistic enough to train on, no download needed.

Generative story (deterministic given the seed):

* item popularity follows a Zipf law (``zipf_exponent``);
* every item belongs to one latent interest; a session draws an interest (in proportion
  to its items' popularity) and a first item from it;
* each item has ``successors`` preferred next items within its interest (drawn by
  popularity, probabilities decaying 0.6 / 0.3 / 0.1): with ``p_follow`` the session
  moves to one of them -- the learnable item-to-item transitions -- otherwise it jumps
  to a popular item of the same interest, or (``p_switch``) to another interest;
* lengths are ``2 + Poisson(mean_length - 2)`` (some length-1 sessions are mixed in and
  removed by the usual filter); sessions are spread over ``days`` days.

A sequence model learns the transitions and beats the popularity ranking by far; the
tests and ``odtool eval`` check that.
"""

from __future__ import annotations

import math

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toolchain.data.raw import RawSessions
from toolchain.errors import ConfigError

RAW_ID_OFFSET = 100_000  # raw ids differ from indices, so the vocabulary is exercised


@dataclass
class SynthConfig:
    """Parameters of the synthetic data's generative story (module docstring); checked on creation."""
    n_items: int = 3000
    n_sessions: int = 20000
    seed: int = 0
    zipf_exponent: float = 0.8
    n_interests: int = 0  # 0: n_items // 150, at least 2
    successors: int = 4
    p_follow: float = 0.5
    p_switch: float = 0.05
    mean_length: float = 6.0
    p_single_click: float = 0.08
    days: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        for name in ("zipf_exponent", "p_follow", "p_switch", "mean_length", "p_single_click", "days"):
            if not math.isfinite(getattr(self, name)):
                problems.append(f"{name} must be a finite number, got {getattr(self, name)}")
        if not 0 <= self.seed < 2**63:
            problems.append(f"seed must be in 0..2**63-1, got {self.seed}")
        if not 10 <= self.n_items <= 10**8:
            problems.append(f"n_items must be in 10..100,000,000, got {self.n_items}")
        if not 10 <= self.n_sessions <= 10**8:
            problems.append(f"n_sessions must be in 10..100,000,000, got {self.n_sessions}")
        if not 0 <= self.zipf_exponent <= 10:
            problems.append(f"zipf_exponent must be in [0, 10], got {self.zipf_exponent}")
        if not 1 <= self.successors <= 8:
            problems.append(f"successors must be in 1..8, got {self.successors}")
        for name in ("p_follow", "p_switch", "p_single_click"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                problems.append(f"{name} must be in [0, 1], got {v}")
        if not 2 <= self.mean_length <= 10_000:
            problems.append(f"mean_length must be in 2..10,000, got {self.mean_length}")
        if self.n_interests < 0 or self.n_interests > self.n_items:
            problems.append(f"n_interests must be in 0..n_items, got {self.n_interests}")
        if problems:
            raise ConfigError(problems, source="synthetic data options")

    @property
    def interests(self) -> int:
        return self.n_interests or max(2, self.n_items // 150)


class _Sampler:
    """Draws from a fixed discrete distribution with one uniform number (inverse CDF)."""

    def __init__(self, values: np.ndarray, weights: np.ndarray) -> None:
        self.values = values
        self.cdf = np.cumsum(weights) / weights.sum()

    def __call__(self, u: float) -> int:
        return int(self.values[min(np.searchsorted(self.cdf, u, side="right"), len(self.values) - 1)])


def synthesize(cfg: SynthConfig) -> RawSessions:
    """Draw the synthetic RawSessions that ``cfg`` describes (the same seed gives the same sessions)."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_items
    popularity = 1.0 / np.arange(1, n + 1) ** cfg.zipf_exponent
    popularity = popularity[rng.permutation(n)]  # popularity is unrelated to the item number
    interest = rng.integers(0, cfg.interests, size=n)
    members = [np.flatnonzero(interest == k) for k in range(cfg.interests)]
    members = [m if len(m) else np.array([int(rng.integers(0, n))]) for m in members]
    in_interest = [_Sampler(m, popularity[m]) for m in members]
    interest_weight = np.array([popularity[m].sum() for m in members])
    pick_interest = _Sampler(np.arange(cfg.interests), interest_weight)

    decay = np.array([0.4, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01])[: cfg.successors]
    succ = np.empty((n, cfg.successors), dtype=np.int64)
    for v in range(n):
        pool = members[interest[v]]
        pool = pool[pool != v] if len(pool) > 1 else pool
        w = popularity[pool] / popularity[pool].sum()
        k = min(cfg.successors, len(pool))
        chosen = rng.choice(pool, size=k, replace=False, p=w)
        succ[v] = np.resize(chosen, cfg.successors)
    succ_cdf = np.cumsum(decay / decay.sum())

    sessions: list[list[str]] = []
    end_times: list[float] = []
    starts = np.sort(rng.uniform(0, cfg.days * 86400.0, size=cfg.n_sessions))
    for s in range(cfg.n_sessions):
        if rng.random() < cfg.p_single_click:
            length = 1
        else:
            length = 2 + int(rng.poisson(cfg.mean_length - 2))
        k = pick_interest(rng.random())
        v = in_interest[k](rng.random())
        items = [v]
        for _ in range(length - 1):
            u = rng.random()
            if u < cfg.p_follow:
                v = int(succ[v, min(np.searchsorted(succ_cdf, rng.random(), side="right"), cfg.successors - 1)])
            elif u < cfg.p_follow + cfg.p_switch:
                k = pick_interest(rng.random())
                v = in_interest[k](rng.random())
            else:
                v = in_interest[int(interest[v])](rng.random())
            items.append(v)
        sessions.append([str(RAW_ID_OFFSET + i) for i in items])
        end_times.append(float(starts[s] + 60.0 * length))
    return RawSessions(sessions, end_times, source={"format": "synthetic", "config": asdict(cfg)})


def default_dataset_dir() -> Path:
    """Where the synthetic default lives (``$ODTOOL_HOME``, else ``~/.cache/odtool``)."""
    from toolchain.paths import odtool_home

    return odtool_home() / "datasets" / "synthetic-default"
