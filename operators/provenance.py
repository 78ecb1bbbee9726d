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

:func:`crossover_provenance` and :func:`mutation_provenance` compute both on whole arrays;
the operators' pymoo ``do`` and evodesign's array-based mating both call them, so a child's
provenance has one definition.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CLONE",
    "crossover_provenance",
    "join_keys",
    "mutation_provenance",
    "parent_keys",
    "vector_key",
    "vector_keys",
]

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


def vector_keys(X: ArrayLike) -> NDArray[np.object_]:
    """:func:`vector_key` of every row, `(n, n_var)` -> `(n,)` object array of str."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    return np.array([vector_key(x) for x in X], dtype=object).reshape(len(X))


def crossover_provenance(
    Y: NDArray[np.float64], P: NDArray[np.float64], keys: NDArray[np.object_], name: str
) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """``"operator"`` and ``"parents"`` of crossover children.

    Args:
        Y: `(n_offsprings * n_matings, n_var)` children, offspring-major as pymoo lays them
            out (row ``i`` belongs to mating ``i % n_matings``).
        P: `(n_parents, n_matings, n_var)` parents.
        keys: `(n_matings, n_parents)` parent keys (:func:`vector_key`).
        name: the crossover's name.

    Returns:
        Two `(n,)` object arrays: ``name``, or :data:`CLONE` for a child identical to a
        parent; the parents' keys joined by ``","``, or the cloned parent's key alone.
    """
    n_parents, n_matings = P.shape[0], P.shape[1]
    j = np.arange(len(Y)) % n_matings
    same = np.stack([(Y == P[k, j]).all(axis=1) for k in range(n_parents)], axis=1)
    clone = same.any(axis=1)
    operator = np.where(clone, CLONE, name).astype(object)
    pk = np.asarray(keys, dtype=object)[j]  # (n, n_parents)
    parents = pk[:, 0].copy()
    for k in range(1, n_parents):  # object arrays of str concatenate element-wise
        parents = parents + "," + pk[:, k]
    parents[clone] = pk[clone, same[clone].argmax(axis=1)]
    return operator, parents


def mutation_provenance(
    operator: NDArray[np.object_],
    parents: NDArray[np.object_],
    before: NDArray[np.float64],
    after: NDArray[np.float64],
    name: str,
) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """``"operator"`` and ``"parents"`` after a mutation, `(n,)` each (new arrays).

    A row the mutation changed gets ``"+name"`` appended and keeps its parents (a crossover
    child never lived in the population, so its parents are the ones that count); a changed
    row without provenance (``None``) or a clone gets ``name`` and its own pre-mutation key
    as parent. Unchanged rows keep what they had.

    Args:
        operator / parents: `(n,)` object arrays before the mutation (``None`` allowed).
        before / after: `(n, n_var)` rows before and after.
        name: the mutation's name.
    """
    operator = np.array(operator, dtype=object).reshape(len(before))
    parents = np.array(parents, dtype=object).reshape(len(before))
    changed = (np.asarray(after) != np.asarray(before)).any(axis=1)
    fresh = changed & np.array([o is None or o == CLONE for o in operator], dtype=bool)
    chained = changed & ~fresh
    operator[chained] = operator[chained] + ("+" + name)
    operator[fresh] = name
    parents[fresh] = vector_keys(np.asarray(before)[fresh])
    return operator, parents
