"""The physics solver as a campaign's predictor (``[surrogate] model = "solver"``).

A :class:`SolverPredictor` is a :class:`~evodesign.problem.Predictor` that computes the
effective conductivities of microstructure images with the finite-volume solver
(:func:`evodesign.physics.effective_conductivity`) instead of predicting them: nothing is
trained or cached, the values are exact for the formulation, and the std is 0. It reads the
space's features of designs, which for a microstructure space are the flattened images
(:meth:`MicrostructureSpace.features
<evodesign.representation.microstructure.MicrostructureSpace.features>`).

Example:
    >>> import numpy as np
    >>> solver = SolverPredictor((1.0, 10.0))
    >>> stripes = np.zeros((1, 8, 8), dtype=np.float32); stripes[:, :4] = 1
    >>> mean, std = solver.predict(stripes.reshape(1, -1))
    >>> mean.round(6).tolist(), std.tolist()
    ([[5.5, 1.818182]], [[0.0, 0.0]])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["SOLVER_TARGETS", "SolverPredictor"]

#: what the solver computes, in its output columns' order
SOLVER_TARGETS = ("k_xx", "k_yy")


class SolverPredictor:
    """Effective conductivity along x and y of square two-phase images, std 0.

    Args:
        conductivity: ``(k_matrix, k_filler)``, both positive (``[physics] conductivity``).

    Attributes:
        targets: ``("k_xx", "k_yy")``.
        exact: True: the std is 0 by construction (a trust constraint on it means nothing).
    """

    targets: ClassVar[tuple[str, ...]] = SOLVER_TARGETS
    exact: ClassVar[bool] = True

    def __init__(self, conductivity: tuple[float, float] = (1.0, 10.0)) -> None:
        pair = tuple(float(k) for k in conductivity)
        if len(pair) != 2 or not all(math.isfinite(k) and k > 0 for k in pair):
            raise DataError(f"conductivity must be two positive numbers [k_matrix, k_filler], got {conductivity!r}")
        self.conductivity: tuple[float, float] = (pair[0], pair[1])

    def __repr__(self) -> str:
        return f"SolverPredictor(conductivity={list(self.conductivity)})"

    def predict(self, X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Solve every image of a batch (one batched solver call).

        Args:
            X: `(n, side * side)` flattened square images of 0/1 (1 = filler), row-major.

        Returns:
            ``(mean, std)``: `(n, 2)` ``[k_xx, k_yy]`` and `(n, 2)` zeros.
        """
        from evodesign.physics import effective_conductivity

        X = np.asarray(X)
        if X.ndim != 2:
            raise DataError(f"the solver reads (n, side * side) flattened images, got shape {X.shape}")
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1] or side == 0:
            raise DataError(f"the solver reads square images; {X.shape[1]} pixels per row is not a square number")
        if len(X) == 0:
            return np.zeros((0, 2)), np.zeros((0, 2))
        images = X.reshape(len(X), side, side).astype(np.uint8)
        if not np.array_equal(images, X.reshape(images.shape)):
            raise DataError("the solver reads 0/1 images (1 = filler); got values other than 0 and 1")
        mean = np.asarray(effective_conductivity(images, self.conductivity, direction="both"), dtype=np.float64)
        return mean, np.zeros_like(mean)
