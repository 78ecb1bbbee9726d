"""Lamarckian repair: every individual's vector becomes the exact fractions of its formula.

The search operators work on continuous vectors, but what is evaluated, reported and
compared is the integer formula that :meth:`CompositionSpace.decode` reads from a vector.
Writing the formula's exact fractions back into the individual ("snapping") makes the
vector and the formula agree: the offspring inherits the formula it was scored as, two
individuals with the same formula have bit-identical vectors, so duplicates are found by
hashing rows (:mod:`evodesign.search.duplicates`), and decoding a repaired vector again
gives the same formula (the repair is idempotent).

One decode is enough: a row that is exactly the fractions of a formula decodes to that
formula (:meth:`CompositionSpace.decode`), so ``decode(fractions(decode(X))) == decode(X)``
-- with or without a ``check`` -- and the snapped vector stands for the formula it was
scored as. (Before that rule, decoding picked the smallest formula unit within ``tol`` even
for exact rows, Fe10O9 -> Fe8O7, and 8.7 % of decoded noisy vectors changed when decoded
again; the tests keep this property checked.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.core.population import Population
from pymoo.core.repair import Repair

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.representation.space import Check, DesignSpace

__all__ = ["SpaceRepair"]


class SpaceRepair(Repair):
    """pymoo repair that snaps each row to the canonical vector of its design.

    For compositions (:class:`~evodesign.representation.CompositionSpace`) the canonical
    vector is the exact fractions of the decoded integer formula; rows with no positive
    entry (all zeros, negatives or NaN) decode deterministically to a pure element, so
    every row stays well defined. Any :class:`~evodesign.representation.DesignSpace`
    works: this calls its :meth:`repair`.

    Only ``X`` changes: the population's other attributes (the provenance ``"operator"``
    and ``"parents"`` written by the operators, evaluation results) are kept.

    Args:
        space: the design space.
        check: optional test passed to the space's ``decode``/``repair`` (for compositions
            e.g. :class:`evodesign.chemistry.CachedSmactValidity`: `(m, n_var)` integer
            counts to `(m,)` booleans); decoding prefers nearby designs that pass it.

    Example:
        >>> from evodesign.representation import CompositionSpace
        >>> space = CompositionSpace(["O", "Fe"])
        >>> SpaceRepair(space).do(None, np.array([[0.61, 0.39]]))
        array([[0.6, 0.4]])
    """

    def __init__(self, space: DesignSpace, check: Check | None = None) -> None:
        super().__init__()
        self.space = space
        self.check = check

    def do(self, problem: Any, pop: Any, **kwargs: Any) -> Any:
        """Repair a :class:`~pymoo.core.population.Population` in place (and return it), or
        return the repaired copy of a `(n, n_var)` array."""
        if isinstance(pop, Population):
            return super().do(problem, pop, **kwargs)
        return self._do(problem, np.asarray(pop, dtype=np.float64), **kwargs)

    def _do(self, problem: Any, X: ArrayLike, **kwargs: Any) -> NDArray[np.float64]:
        """Canonical vectors, `(n, n_var)` -> `(n, n_var)` float64."""
        return self.space.repair(X, check=self.check)

    def designs(self, X: ArrayLike) -> Any:
        """The designs the rows snap to (for compositions `(n, n_var)` int64 reduced counts
        ``c`` with ``space.decode(space.encode(c), check=check) == c`` row by row; see the
        module docstring)."""
        return self.space.decode(X, check=self.check)
