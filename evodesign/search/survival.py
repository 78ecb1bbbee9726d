"""NSGA-II survival with niching by chemical system: a front that covers many chemistries.

pymoo's :class:`~pymoo.operators.survival.rank_and_crowding.RankAndCrowding` keeps the
best designs by non-dominated rank, then crowding distance. On composition spaces that lets
one family (e.g. every Li-Co-Ni-N ratio the operators can reach) fill the population: the
members of a family are close in composition but spread along the front, so crowding
distance does not separate them. :class:`SystemNicheSurvival` keeps the same order but caps
each chemical system (the set of elements present): a design whose system already has
``max_per_system`` designs ahead of it in the rank-then-crowding order is pushed behind
every design whose system is below the cap, and survives only if there is room.

Everything is computed from the population at hand (no state is kept across generations),
so a run resumed from a checkpoint continues bit-identically, and the only random numbers
drawn are pymoo's own (one permutation for the tie-breaks of the front that is split).
With ``max_per_system=None``, or when the cap never binds, the survivors, their order and
their ``rank`` / ``crowding`` equal pymoo's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.core.survival import Survival
from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from pymoo.util.randomized_argsort import randomized_argsort

from evodesign.representation.rows import row_ids

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["SystemNicheSurvival", "chemical_system_ids", "chemical_system_names", "system_occurrence"]


def chemical_system_ids(X: ArrayLike) -> NDArray[np.int64]:
    """One integer per row naming its chemical system (nonzero pattern), `(n, n_var)` -> `(n,)`.

    Two rows get the same id exactly when the same variables are positive. The ids are
    ranks of the packed patterns (``np.packbits(X > 0)`` viewed as one bytes scalar per
    row), so they are dense, ``0 .. n_systems - 1``, and independent of row order only up
    to relabelling.

    Args:
        X: `(n, n_var)` compositions (fractions or counts).

    Returns:
        `(n,)` int64 system ids.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected a (n, n_var) array of rows, got shape {X.shape}")
    if len(X) == 0:
        return np.zeros(0, dtype=np.int64)
    _, ids = np.unique(row_ids(np.packbits(X > 0, axis=1)), return_inverse=True)
    return ids.reshape(-1).astype(np.int64)


def chemical_system_names(X: ArrayLike, elements: list[str] | tuple[str, ...]) -> list[str]:
    """The chemical system of each row as text: its elements sorted alphabetically, joined
    with ``-`` (``"Co-Li-N-Ni"``), `(n, n_var)` -> n strings.

    Args:
        X: `(n, n_var)` compositions (fractions or counts).
        elements: the `(n_var,)` element symbols of the columns.

    Returns:
        One string per row (``""`` for an all-zero row).
    """
    X = np.asarray(X)
    names = np.asarray(elements, dtype=object)
    order = np.argsort(names.astype(str), kind="stable")  # alphabetical column order
    present = X[:, order] > 0
    # one name per distinct pattern, not per row
    ids = chemical_system_ids(present)
    first = np.unique(ids, return_index=True)[1] if len(ids) else np.zeros(0, dtype=np.int64)
    per_system = ["-".join(names[order][row]) for row in present[first]]
    return [per_system[i] for i in ids]


def system_occurrence(ids: ArrayLike, order: ArrayLike) -> NDArray[np.int64]:
    """How many rows of the same system come before each row in a given order.

    Args:
        ids: `(n,)` system ids (any integers).
        order: `(m,)` row indices (a permutation of a subset of ``range(n)``), best first.

    Returns:
        `(m,)` occurrence indices aligned with ``order``: 0 for the first row of its system
        in that order, 1 for the second, ...
    """
    ids = np.asarray(ids)[np.asarray(order)]
    m = len(ids)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    by_system = np.argsort(ids, kind="stable")  # within a system: in the given order
    sorted_ids = ids[by_system]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, m]))
    occurrence = np.empty(m, dtype=np.int64)
    occurrence[by_system] = np.arange(m) - run_start
    return occurrence


class SystemNicheSurvival(Survival):
    """Rank-and-crowding survival that caps the designs per chemical system.

    Order of preference: feasible before infeasible (infeasible by constraint violation,
    as in pymoo's survival); among feasible designs, those whose system is below the cap
    before those at or beyond it; then non-dominated rank; then crowding distance
    (descending; ties broken as pymoo breaks them in the front it splits, by a permutation
    drawn from ``random_state``, and by front order elsewhere). A design is "beyond the cap"
    when ``max_per_system`` designs of its system come before it in the rank-then-crowding
    order, so the cap keeps each system's best designs.

    The survivors carry ``rank`` (their non-dominated rank among the feasible designs) and
    ``crowding`` (crowding distance within their front), which NSGA-II's tournament reads.

    Args:
        max_per_system: designs per chemical system preferred over the rest; ``None`` is
            pymoo's :class:`RankAndCrowding` exactly.
        systems: how to read the `(n,)` system ids of `(n, n_var)` decision vectors
            (default: :func:`chemical_system_ids`, the nonzero pattern).
        nds: the non-dominated sorting (default pymoo's).
        crowding_func: pymoo's crowding metric name (``"cd"``) or object.
    """

    def __init__(
        self,
        max_per_system: int | None = None,
        systems: Any = None,
        nds: NonDominatedSorting | None = None,
        crowding_func: str | Any = "cd",
    ) -> None:
        super().__init__(filter_infeasible=True)
        if max_per_system is not None and int(max_per_system) < 1:
            raise ValueError(f"max_per_system must be >= 1 or None, got {max_per_system}")
        self.max_per_system = None if max_per_system is None else int(max_per_system)
        self.systems = systems if systems is not None else chemical_system_ids
        self.nds = nds if nds is not None else NonDominatedSorting()
        self.crowding_func = get_crowding_function(crowding_func)

    def _do(  # type: ignore[override]
        self,
        problem: Any,
        pop: Any,
        *args: Any,
        random_state: Any = None,
        n_survive: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """The `n_survive` survivors of the feasible designs ``pop`` (see the class)."""
        F = pop.get("F").astype(float, copy=False)
        n = len(F)
        n_survive = n if n_survive is None else min(int(n_survive), n)
        cap = self.max_per_system
        if cap is None:
            fronts = self.nds.do(F, n_stop_if_ranked=n_survive)
        else:
            fronts = self.nds.do(F)  # every rank: designs beyond the cap make room for later fronts

        # the last front pymoo visits: the first whose end reaches n_survive; it is split
        # (its most crowded designs dropped) unless it ends exactly at n_survive
        ends = np.cumsum([len(front) for front in fronts])
        last = min(int(np.searchsorted(ends, n_survive, side="left")), len(fronts) - 1)
        n_remove = int(ends[last] - n_survive)

        rank = np.full(n, -1, dtype=np.int64)
        crowding = np.full(n, np.nan)
        position = np.zeros(n, dtype=np.int64)  # order within the front, pymoo's
        for k, front in enumerate(fronts):  # one vectorized pass per front
            rank[front] = k
            crowding[front] = self.crowding_func.do(F[front, :], n_remove=n_remove if k == last else 0)
            if k == last and n_remove > 0:
                order = randomized_argsort(
                    crowding[front], order="descending", method="numpy", random_state=random_state
                )
                position[front[order]] = np.arange(len(front))
            else:
                position[front] = np.arange(len(front))
        ranked = np.flatnonzero(rank >= 0)

        if cap is None:
            in_last = rank[ranked] == last
            keep = ranked[(rank[ranked] < last) | (in_last & (position[ranked] < in_last.sum() - n_remove))]
        else:
            # rank, then crowding (descending), then pymoo's order: the order the cap counts in
            preference = ranked[np.lexsort((position[ranked], -crowding[ranked], rank[ranked]))]
            ids = np.asarray(self.systems(pop.get("X")))
            beyond = system_occurrence(ids, preference) >= cap
            keep = preference[np.argsort(beyond, kind="stable")[:n_survive]]
        # survivors in pymoo's order: by front, then pymoo's order within the front
        keep = keep[np.lexsort((position[keep], rank[keep]))]

        # pymoo sets rank and crowding on every design of the fronts it visits
        visited = ranked[rank[ranked] <= last]
        marked = np.union1d(visited, keep)
        if len(marked):
            pop[marked].set("rank", rank[marked], "crowding", crowding[marked])
        return pop[keep]
