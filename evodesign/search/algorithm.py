"""NSGA-II as evodesign runs it: array-based mating, formula repair, hash duplicate elimination,
and optionally niching by chemical system in the survival.

One builder shared by campaigns (:meth:`evodesign.campaign.Campaign.algorithm`) and the
overhead benchmark (``evodesign bench overhead``), so the benchmark times what users run.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from evodesign.search.duplicates import HashDuplicateElimination
from evodesign.search.mating import BatchMating
from evodesign.search.repair import SpaceRepair
from evodesign.search.survival import SystemNicheSurvival

__all__ = ["design_nsga2"]


def design_nsga2(
    space: Any,
    pop_size: int,
    sampling: Any,
    crossover: Any,
    mutation: Any,
    check: Callable[[np.ndarray], np.ndarray] | None = None,
    max_factor: float = 4.0,
    max_per_system: int | None = None,
    codes: str = "mean",
) -> NSGA2:
    """pymoo's NSGA-II whose children are snapped to their designs and deduplicated by hash.

    Args:
        space: the :class:`~evodesign.representation.DesignSpace`.
        pop_size: population size.
        sampling: a pymoo Sampling (or a `(pop_size, n_var)` array).
        crossover / mutation: pymoo operators (learned or classical).
        check: optional validity check for the SMACT-preferring repair (see
            :class:`~evodesign.search.SpaceRepair`).
        max_factor: cap of :class:`~evodesign.search.mating.BatchMating`'s over-asking.
        max_per_system: designs per chemical system the survival prefers over the rest
            (:class:`~evodesign.search.survival.SystemNicheSurvival`); ``None`` or 0:
            pymoo's rank-and-crowding survival, plain NSGA-II.
        codes: how the latent codes of learned operators' children are set
            (:class:`~evodesign.search.mating.BatchMating`; default ``"mean"``).

    Returns:
        The (not yet set up) algorithm.
    """
    repair = SpaceRepair(space, check=check)
    dedup = HashDuplicateElimination()
    # a fresh survival per algorithm: pymoo's default instance is shared
    survival = SystemNicheSurvival(max_per_system) if max_per_system else RankAndCrowding()
    algorithm = NSGA2(
        pop_size=pop_size,
        survival=survival,
        sampling=sampling,
        crossover=crossover,
        mutation=mutation,
        repair=repair,
        eliminate_duplicates=dedup,
    )
    algorithm.mating = BatchMating(
        algorithm.mating.selection,
        crossover,
        mutation,
        max_factor=max_factor,
        codes=codes,
        repair=repair,
        eliminate_duplicates=dedup,
        n_max_iterations=algorithm.mating.n_max_iterations,
    )
    return algorithm
