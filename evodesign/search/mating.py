"""Mating that fills the offspring in fewer rounds when many children are duplicates.

pymoo's :class:`~pymoo.core.mating.Mating` asks for exactly the missing number of children,
removes duplicates, and repeats until the offspring is full. After
:class:`~evodesign.search.FormulaRepair` snaps children to integer formulas, many repeat a
parent or each other (measured: about 5 rounds a generation at population 1,000), and every
round pays selection, variation, repair and duplicate elimination on its own.
:class:`OversamplingMating` asks for ``missing / kept_share`` children instead, where
``kept_share`` is the share of new children that survived duplicate elimination in the
previous round (carried across generations, and saved with the algorithm in checkpoints),
and keeps the first ``missing`` of them, as pymoo does when a round overshoots.
"""

from __future__ import annotations

import math
from typing import Any

from pymoo.core.mating import Mating
from pymoo.core.population import Population

__all__ = ["OversamplingMating"]


class OversamplingMating(Mating):
    """pymoo Mating that over-asks by the observed share of non-duplicate children.

    Args:
        selection, crossover, mutation: as for :class:`pymoo.core.mating.Mating`.
        max_factor: never ask for more than ``max_factor`` times the missing children.
        **kwargs: ``repair``, ``eliminate_duplicates``, ``n_max_iterations``.
    """

    def __init__(self, selection: Any, crossover: Any, mutation: Any, max_factor: float = 4.0, **kwargs: Any) -> None:
        super().__init__(selection, crossover, mutation, **kwargs)
        self.max_factor = float(max_factor)
        self.kept_share = 1.0

    def do(
        self,
        problem: Any,
        pop: Any,
        n_offsprings: int,
        random_state: Any = None,
        n_max_iterations: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Offspring of ``n_offsprings`` new individuals (fewer only if the rounds run out)."""
        n_max_iterations = self.n_max_iterations if n_max_iterations is None else n_max_iterations
        off = Population.create()
        for _ in range(n_max_iterations):
            missing = n_offsprings - len(off)
            if missing <= 0:
                break
            factor = min(1.0 / max(self.kept_share, 1e-9), self.max_factor)
            n_ask = max(missing, math.ceil(missing * factor))
            made = self._do(problem, pop, n_ask, random_state=random_state, **kwargs)
            made = self.repair(problem, made, random_state=random_state, **kwargs)
            n_made = len(made)
            made = self.eliminate_duplicates.do(made, pop, off)
            if n_made:
                self.kept_share = max(len(made) / n_made, 1.0 / self.max_factor)
            off = Population.merge(off, made[:missing])
        return off
