"""Classical variation with provenance: pymoo's SBX and polynomial mutation, labelled.

The comparison arm of a campaign (``[search] operators = "classical"``): SBX (eta 15) and
polynomial mutation (eta 20) as pymoo ships them, on the same simplex vectors, followed by
the same :class:`~evodesign.search.FormulaRepair` decoding. They only add what the learned
operators record on every child (:mod:`operators.provenance`): the operator's name and the
parents' vector keys, so ``pareto.csv`` says where each design came from in both arms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM

from operators.provenance import CLONE, join_keys, vector_key

__all__ = ["LabelledPM", "LabelledSBX"]


class LabelledSBX(SBX):
    """pymoo's SBX; children carry ``"operator"`` (``"SBX"`` or ``"clone"``) and ``"parents"``."""

    def do(self, problem: Any, pop: Any, parents: Any = None, *args: Any, **kwargs: Any) -> Any:
        off = super().do(problem, pop, parents, *args, **kwargs)
        matings = pop if parents is None else [pop[m] for m in parents]
        P = np.array([[p.X for p in mating] for mating in matings], dtype=np.float64)  # (n_matings, 2, n_var)
        keys = [[vector_key(x) for x in pair] for pair in P]
        j = np.arange(len(off)) % len(matings)  # pymoo lays children out offspring-major
        Y = off.get("X")
        same = np.stack([(Y == P[j, k]).all(axis=1) for k in range(P.shape[1])], axis=1)
        clone = same.any(axis=1)
        which = same.argmax(axis=1)
        operators = np.where(clone, CLONE, "SBX").astype(object)
        parents = np.array(
            [keys[m][w] if c else join_keys(keys[m]) for m, w, c in zip(j, which, clone)], dtype=object
        )
        off.set("operator", operators, "parents", parents)
        return off


class LabelledPM(PM):
    """pymoo's polynomial mutation; a changed row gets ``"+PM"`` (or ``"PM"`` and its own key)."""

    def do(self, problem: Any, pop: Any, inplace: bool = True, *args: Any, **kwargs: Any) -> Any:
        before = np.array(pop.get("X"), dtype=np.float64, copy=True)
        operators, parents = pop.get("operator"), pop.get("parents")
        off = super().do(problem, pop, inplace, *args, **kwargs)
        changed = np.flatnonzero((off.get("X") != before).any(axis=1))
        if len(changed) == 0:
            return off
        operators = np.array([o if o is not None else "" for o in operators], dtype=object)
        parents = np.array([p if p is not None else "" for p in parents], dtype=object)
        fresh = (operators[changed] == "") | (operators[changed] == CLONE)
        operators[changed] = np.where(fresh, "PM", operators[changed].astype(str) + "+PM")
        parents[changed] = np.where(fresh, [vector_key(x) for x in before[changed]], parents[changed])
        off.set("operator", operators, "parents", parents)
        return off
