"""Array-based NSGA-II mating: the same steps as pymoo's, without per-individual Python.

pymoo's :class:`~pymoo.core.mating.Mating` reads and writes the population one
``Individual`` at a time (tournaments, parent lookup, provenance), and asks for exactly
the missing number of children, removes duplicates, and repeats until the offspring is
full. After :class:`~evodesign.search.SpaceRepair` snaps children to integer formulas,
many repeat a parent or each other (measured: about 5 rounds a generation at population
1,000), and each round pays every step again. :class:`BatchMating` does the same
work on arrays:

1. **selection** -- NSGA-II's binary tournament (pymoo's ``binary_tournament`` with
   ``comp_by_dom_and_crowding``: lower constraint violation, then Pareto dominance, then
   larger crowding distance, then a coin flip), vectorized over all tournaments;
2. **variation** -- the crossover's and mutation's own ``_do`` on `(n_parents, n_matings,
   n_var)` / `(n, n_var)` arrays (so learned operators, guided or not, and pymoo's SBX/PM
   run unchanged), each mating crossed with the crossover's ``prob``, each child mutated
   with the mutation's ``prob``;
3. **repair** (snap to formulas) and **duplicate elimination** (hash) on the array, before
   any ``Individual`` is created;
4. **provenance** (:mod:`operators.provenance`): ``"operator"`` is the crossover's name,
   ``"clone"`` for a child identical to a parent, with ``"+<mutation name>"`` appended when
   the mutation changed it; ``"parents"`` the parents' vector keys.

It asks for ``missing / kept_share`` children per round, ``kept_share`` being the share of
children that survived duplicate elimination last time (kept across generations and saved
with the algorithm in checkpoints), and keeps the first ``missing`` new ones. Every random
number comes from the algorithm's ``random_state``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.core.mating import Mating
from pymoo.core.population import Population
from pymoo.core.variable import get as variable_value

from evodesign.search.duplicates import duplicate_mask
from operators.provenance import CLONE, vector_key

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["BatchMating", "binary_tournament"]


def binary_tournament(
    CV: NDArray[np.float64],
    F: NDArray[np.float64],
    crowding: NDArray[np.float64],
    n_select: int,
    n_parents: int,
    random_state: np.random.Generator,
) -> NDArray[np.int64]:
    """NSGA-II's binary tournament over a whole population at once.

    Args:
        CV: `(n,)` constraint violations (0 = feasible).
        F: `(n, n_obj)` objectives (minimised).
        crowding: `(n,)` crowding distances (larger wins among mutually non-dominated).
        n_select: matings to fill.
        n_parents: parents per mating.
        random_state: the algorithm's generator.

    Returns:
        A `(n_select, n_parents)` array of population indices.
    """
    n = len(CV)
    n_random = n_select * n_parents * 2
    n_perms = math.ceil(n_random / n)
    P = np.concatenate([random_state.permutation(n) for _ in range(n_perms)])[:n_random].reshape(-1, 2)
    a, b = P[:, 0], P[:, 1]
    winner = np.where(random_state.random(len(a)) < 0.5, a, b)  # ties: a coin flip
    feas_a, feas_b = CV[a] <= 0, CV[b] <= 0
    infeasible = ~feas_a & ~feas_b
    winner = np.where(infeasible & (CV[a] < CV[b]), a, winner)
    winner = np.where(infeasible & (CV[b] < CV[a]), b, winner)
    winner = np.where(feas_a & ~feas_b, a, winner)
    winner = np.where(~feas_a & feas_b, b, winner)
    both = feas_a & feas_b
    Fa, Fb = F[a], F[b]
    a_dom = (Fa <= Fb).all(axis=1) & (Fa < Fb).any(axis=1)
    b_dom = (Fb <= Fa).all(axis=1) & (Fb < Fa).any(axis=1)
    winner = np.where(both & a_dom, a, winner)
    winner = np.where(both & b_dom, b, winner)
    tie = both & ~a_dom & ~b_dom
    winner = np.where(tie & (crowding[a] > crowding[b]), a, winner)
    winner = np.where(tie & (crowding[b] > crowding[a]), b, winner)
    return winner.reshape(n_select, n_parents)


def _names(operator: Any) -> str:
    return str(getattr(operator, "name", None) or type(operator).__name__)


class BatchMating(Mating):
    """NSGA-II mating on arrays, with formula repair and hash deduplication (see module docs).

    Args:
        selection: kept for pymoo's interface (the binary tournament above is used).
        crossover / mutation: pymoo operators; only their ``_do``, ``prob``,
            ``n_parents`` and ``n_offsprings`` are used.
        max_factor: never ask for more than ``max_factor`` times the missing children.
        **kwargs: ``repair`` (a :class:`~evodesign.search.SpaceRepair`),
            ``eliminate_duplicates``, ``n_max_iterations``.
    """

    def __init__(self, selection: Any, crossover: Any, mutation: Any, max_factor: float = 4.0, **kwargs: Any) -> None:
        super().__init__(selection, crossover, mutation, **kwargs)
        self.max_factor = float(max_factor)
        self.kept_share = 1.0

    def _select(self, *args: Any) -> NDArray[np.int64]:
        """Parents of each mating (see :func:`binary_tournament`)."""
        return binary_tournament(*args)

    def _repair(self, problem: Any, Y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Snap children to their formulas (the repair's array form)."""
        return self.repair._do(problem, Y)

    @staticmethod
    def _new_rows(Y: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.int64]:
        """Indices of the rows of ``Y`` that repeat neither an earlier row nor ``others``."""
        return np.flatnonzero(~duplicate_mask(Y, others))

    def _children(
        self, problem: Any, X: NDArray[np.float64], keys: NDArray[np.object_], parents: NDArray[np.int64], random_state: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.object_], NDArray[np.object_]]:
        """Children `(n, n_var)` of the `(n_matings, n_parents)` index array, with provenance."""
        cx, mut = self.crossover, self.mutation
        n_matings = len(parents)
        Xp = np.swapaxes(X[parents], 0, 1)  # (n_parents, n_matings, n_var)
        cross = random_state.random(n_matings) < variable_value(cx.prob, size=n_matings)
        out = np.empty((cx.n_offsprings, n_matings, X.shape[1]))
        # without crossover a mating's children are copies of its parents (pymoo's rule
        # for n_offsprings == n_parents)
        out[:] = Xp[np.arange(cx.n_offsprings) % cx.n_parents]
        if cross.any():
            out[:, cross] = cx._do(problem, Xp[:, cross], random_state=random_state)
        Y = out.reshape(-1, X.shape[1])  # offspring-major, as pymoo lays children out
        j = np.arange(len(Y)) % n_matings
        same = np.stack([(Y == X[parents[j, k]]).all(axis=1) for k in range(parents.shape[1])], axis=1)
        clone = same.any(axis=1)
        operator = np.where(clone, CLONE, _names(cx)).astype(object)
        pk = keys[parents[j]]  # (n, n_parents) parent keys per child
        parent_str = np.array([",".join(row) for row in pk], dtype=object)
        parent_str[clone] = pk[clone, same[clone].argmax(axis=1)]
        hit = np.flatnonzero(random_state.random(len(Y)) <= variable_value(mut.prob, size=len(Y)))
        if len(hit):
            before = Y[hit].copy()
            Y[hit] = mut._do(problem, Y[hit], random_state=random_state)
            moved = (Y[hit] != before).any(axis=1)
            changed = hit[moved]
            fresh = operator[changed] == CLONE  # a mutated copy: its parent is the copy's source
            operator[changed] = np.where(fresh, _names(mut), operator[changed] + ("+" + _names(mut)))
            parent_str[changed[fresh]] = [vector_key(x) for x in before[moved][fresh]]
        return Y, operator, parent_str

    def do(
        self,
        problem: Any,
        pop: Any,
        n_offsprings: int,
        random_state: Any = None,
        n_max_iterations: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """``n_offsprings`` new individuals (fewer only if ``n_max_iterations`` rounds run out)."""
        n_max_iterations = self.n_max_iterations if n_max_iterations is None else n_max_iterations
        X = np.asarray(pop.get("X"), dtype=np.float64)
        F = np.asarray(pop.get("F"), dtype=np.float64)
        CV = np.asarray(pop.get("CV"), dtype=np.float64).reshape(len(pop), -1)[:, 0]
        crowding = pop.get("crowding")
        crowding = np.zeros(len(pop)) if crowding is None or crowding.dtype == object else np.asarray(crowding, dtype=np.float64)
        keys = np.array([vector_key(x) for x in X], dtype=object)
        kept_X = np.empty((0, X.shape[1]))
        kept_op: list[NDArray] = []
        kept_par: list[NDArray] = []
        cx = self.crossover
        for _ in range(n_max_iterations):
            missing = n_offsprings - len(kept_X)
            if missing <= 0:
                break
            factor = min(1.0 / max(self.kept_share, 1e-9), self.max_factor)
            n_ask = max(missing, math.ceil(missing * factor))
            n_matings = math.ceil(n_ask / cx.n_offsprings)
            parents = self._select(CV, F, crowding, n_matings, cx.n_parents, random_state)
            Y, operator, parent_str = self._children(problem, X, keys, parents, random_state)
            Y = self._repair(problem, Y)
            new = self._new_rows(Y, np.concatenate([X, kept_X]))
            self.kept_share = max(len(new) / len(Y), 1.0 / self.max_factor) if len(Y) else self.kept_share
            new = new[:missing]
            kept_X = np.concatenate([kept_X, Y[new]])
            kept_op.append(operator[new])
            kept_par.append(parent_str[new])
        off = Population.new("X", kept_X)
        if len(off):
            off.set("operator", np.concatenate(kept_op), "parents", np.concatenate(kept_par))
        return off
