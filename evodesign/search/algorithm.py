"""NSGA-II as evodesign runs it: array-based mating, formula repair, hash duplicate elimination.

One builder shared by campaigns (:meth:`evodesign.campaign.Campaign.algorithm`) and the
overhead benchmark (``evodesign bench overhead``), so the benchmark times what users run.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from evodesign.search.duplicates import FormulaDuplicateElimination
from evodesign.search.mating import FormulaMating
from evodesign.search.repair import FormulaRepair

__all__ = ["formula_nsga2"]


def formula_nsga2(
    space: Any,
    pop_size: int,
    sampling: Any,
    crossover: Any,
    mutation: Any,
    check: Callable[[np.ndarray], np.ndarray] | None = None,
    max_factor: float = 4.0,
) -> NSGA2:
    """pymoo's NSGA-II whose children are snapped to integer formulas and deduplicated by hash.

    Args:
        space: the :class:`~evodesign.representation.CompositionSpace`.
        pop_size: population size.
        sampling: a pymoo Sampling (or a `(pop_size, n_var)` array).
        crossover / mutation: pymoo operators (learned or classical).
        check: optional validity check for the SMACT-preferring repair (see
            :class:`~evodesign.search.FormulaRepair`).
        max_factor: cap of :class:`~evodesign.search.mating.FormulaMating`'s over-asking.

    Returns:
        The (not yet set up) algorithm.
    """
    repair = FormulaRepair(space, check=check)
    dedup = FormulaDuplicateElimination()
    algorithm = NSGA2(
        pop_size=pop_size,
        survival=RankAndCrowding(),  # a fresh one: pymoo's default instance is shared
        sampling=sampling,
        crossover=crossover,
        mutation=mutation,
        repair=repair,
        eliminate_duplicates=dedup,
    )
    algorithm.mating = FormulaMating(
        algorithm.mating.selection,
        crossover,
        mutation,
        max_factor=max_factor,
        repair=repair,
        eliminate_duplicates=dedup,
        n_max_iterations=algorithm.mating.n_max_iterations,
    )
    return algorithm
