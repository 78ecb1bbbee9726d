"""Provenance of offspring: which operator made each one, and from which parents.

After ASE's GA (``OffspringCreator`` writes ``origin`` and ``parents`` into each candidate):
every individual an operator of this package returns carries two pymoo attributes,

* ``"operator"`` -- the operator's name, chained with ``+`` when a mutation follows a
  crossover (``"LatentInterpolationCrossover+GANMutation"``); ``"clone"`` for a child
  bit-identical to a parent (the crossover was skipped by its probability, or ``t`` was 0
  or 1); ``"GeneratorSampling(gan)"`` and the like for the initial population;
* ``"parents"`` -- the parents' :func:`vector_key` (a content hash of their vectors),
  joined by ``","``; ``""`` for sampled individuals. A string rather than a tuple because
  ``pop.get("parents")`` turns values into a numpy array, which fails on tuples of
  different lengths (two parents for a child, one for a clone); :func:`parent_keys`
  splits it.

Parents are named by content rather than by a counter or ``id()``: the key is the same in
every process, after a pickle round-trip and on resume, needs no state in the operators,
and identical vectors -- the same composition -- get the same name. The engine looks an
individual up by computing ``vector_key(ind.X)``.

Read it with ``pop.get("operator")`` and ``pop.get("parents")``, both `(n,)` string arrays.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["CLONE", "join_keys", "parent_keys", "vector_key"]

CLONE = "clone"


def vector_key(x: ArrayLike) -> str:
    """A 16-hex-digit content hash of a vector (its float64 bytes), `(n_var,)` -> str."""
    data = np.ascontiguousarray(x, dtype=np.float64).tobytes()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def join_keys(keys: list[str] | tuple[str, ...]) -> str:
    """The ``"parents"`` string of some parent keys."""
    return ",".join(keys)


def parent_keys(parents: str | None) -> tuple[str, ...]:
    """The parent keys in an individual's ``"parents"`` string (``()`` for none)."""
    return tuple(k for k in (parents or "").split(",") if k)
