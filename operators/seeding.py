"""Random generators derived from the caller's numpy Generator, never from global state.

pymoo hands every operator call the algorithm's ``random_state``; drawing everything from
it (and seeding torch from it once per call) makes a run a pure function of its seed, which
is what bit-identical resume and ``minimize(..., seed=...)`` reproducibility need.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["as_generator", "torch_generator"]


def as_generator(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, an existing Generator (used as is), or None (fresh)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def torch_generator(random_state: np.random.Generator) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by one draw from ``random_state``."""
    return torch.Generator().manual_seed(int(random_state.integers(2**63 - 1)))
