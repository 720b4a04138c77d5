"""Seeding, and RNG states as plain tensors / ints (loadable with ``torch.load(weights_only=True)``).

Random streams of a run: torch's CPU (and CUDA) generators drive initialisation, dropout and
Gumbel noise; Python's and numpy's global generators are captured too, in case a library
draws from them. The data order of epoch e is not a stream: it is the permutation drawn
from ``numpy.random.default_rng((seed, e))`` (:func:`epoch_order`), so a resumed run
replays exactly the order the uninterrupted run would have used.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled example order of ``epoch`` (1-based), int64 [n]."""
    return np.random.default_rng((seed, epoch)).permutation(n)


def capture() -> dict[str, Any]:
    """Every generator's state, as tensors, ints, floats, strings and tuples only."""
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture`."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
