"""Constraints on predicted properties: they read only the batch's predictions (and an
optional analytic property of the designs), so they serve every design space."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from evodesign.constraints.base import FAILED_VIOLATION, Constraint, DesignBatch, MissingTargetError, _number
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["PropertyWindow", "SurrogateTrust", "format_window"]


class SurrogateTrust(Constraint):
    """Stay where the surrogates are confident: ``G = max over targets of (std - bound)``.

    Args:
        bounds: the largest acceptable predicted std per target name, in the target's
            units (e.g. ``{"log10_PF_p": 0.3, "S_p": 60.0}``).

    A NaN or infinite std counts as a failed prediction (:data:`FAILED_VIOLATION`).
    """

    name = "surrogate_trust"

    def __init__(self, bounds: Mapping[str, float]) -> None:
        if not bounds:
            raise DataError("surrogate trust needs at least one target with a std bound")
        self.bounds: dict[str, float] = {}
        for target, bound in bounds.items():
            try:
                value = float(bound)
            except (TypeError, ValueError):
                value = np.nan
            if isinstance(bound, bool) or not (np.isfinite(value) and value > 0):
                raise DataError(
                    f"the std bound of {target!r} must be a positive number, got {bound!r}"
                )
            self.bounds[str(target)] = value

    def describe(self) -> str:
        parts = ", ".join(f"std({t}) <= {b:g}" for t, b in self.bounds.items())
        return f"surrogate trust: {parts}"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        missing = [t for t in self.bounds if t not in batch.std]
        if missing:
            raise MissingTargetError(
                f"surrogate trust has std bounds for {missing}, but the surrogates give a std "
                f"for {sorted(batch.std) or 'no target'}; bound one of those instead"
            )
        excess = np.column_stack(
            [np.asarray(batch.std[t], dtype=np.float64) - b for t, b in self.bounds.items()]
        )
        excess = np.where(np.isfinite(excess), excess, FAILED_VIOLATION)
        return excess.max(axis=1)


def format_window(low: float, high: float, unit: str = "") -> str:
    """``[100, inf) µV/K``: an interval as a chemist writes it (open at an infinite end)."""
    left = "(-inf" if np.isneginf(low) else f"[{low:g}"
    right = "inf)" if np.isposinf(high) else f"{high:g}]"
    return f"{left}, {right}" + (f" {unit}" if unit else "")


class PropertyWindow(Constraint):
    """A hard window on a predicted or analytic property, met with probability >= ``confidence``.

    Under the surrogate's predictive distribution N(mean, std^2) (std 0 for an analytic
    property), each finite bound must hold with probability at least ``c``::

        mean - z * std >= low     and     mean + z * std <= high,     z = Phi^-1(c)

    so ``c = 0.5`` (z = 0) asks for the mean inside the window and ``c = 0.9``
    (z = 1.2816) for the one-sided 90% bounds inside (each bound separately: a window
    with two finite bounds then holds with probability >= 0.8). ``c < 0.5`` is lenient:
    the mean may lie up to ``|z| std`` outside.

    The ``G <= 0`` value is graded by distance, in units of ``scale`` (e.g. the property's
    std over the data set, so one unit means the same for every property)::

        G = max((low - (mean - z std)) / scale, ((mean + z std) - high) / scale)

    negative inside (the distance to the nearer bound), positive outside and growing with
    the distance, so the search is led into the window. An infinite bound drops its term.
    A NaN prediction is a failed design (:data:`FAILED_VIOLATION`).

    Args:
        name: the property: a surrogate target (read from the batch's ``mean``/``std``) or
            an analytic property computed by ``analytic``.
        low: lower bound; ``-inf`` for none.
        high: upper bound; ``inf`` for none.
        confidence: ``c`` in (0, 1).
        scale: positive divisor of the distance (property units per unit of ``G``).
        analytic: for an analytic property, a callable ``counts (n, n_var) -> (n,)``
            (e.g. a :class:`~evodesign.properties.SupplyRisk`); its std is 0.
        unit: the property's unit for :meth:`describe` (default
            :func:`evodesign.properties.units.unit`).

    Example:
        >>> window = PropertyWindow("S_p", 100.0, float("inf"), confidence=0.5, scale=50.0)
        >>> batch = DesignBatch.of([[1, 1], [1, 2]], mean={"S_p": [150.0, 50.0]},
        ...                                 std={"S_p": [10.0, 10.0]})
        >>> window(batch)[:, 0].tolist()
        [-1.0, 1.0]
    """

    def __init__(
        self,
        name: str,
        low: float,
        high: float,
        *,
        confidence: float = 0.5,
        scale: float = 1.0,
        analytic: Callable[[NDArray[np.int64]], ArrayLike] | None = None,
        unit: str | None = None,
    ) -> None:
        from statistics import NormalDist

        low, high = _number(low, f"{name} window low"), _number(high, f"{name} window high")
        if np.isnan(low) or np.isnan(high):
            raise DataError(f"the window of {name!r} has a NaN bound: [{low}, {high}]")
        if not low < high:
            raise DataError(
                f"the window of {name!r} must be [low, high] with low < high, got [{low:g}, {high:g}]"
            )
        if np.isinf(low) and np.isinf(high):
            raise DataError(
                f"the window of {name!r} is [-inf, inf], which every design meets; give at "
                "least one finite bound, e.g. [100, inf]"
            )
        confidence = _number(confidence, "range_confidence")
        if not 0.0 < confidence < 1.0:
            raise DataError(
                f"range_confidence must be strictly between 0 and 1 (0.5: the mean inside, "
                f"0.9: the 90% bounds inside), got {confidence:g}"
            )
        scale = _number(scale, f"{name} window scale")
        if not (np.isfinite(scale) and scale > 0):
            raise DataError(f"the scale of the window of {name!r} must be positive, got {scale:g}")
        self.property = str(name)
        self.low, self.high = low, high
        self.confidence = confidence
        self.z = NormalDist().inv_cdf(confidence)
        self.scale = scale
        self.analytic = analytic
        if unit is None:
            from evodesign.properties.units import unit as unit_of

            unit = unit_of(self.property)
        self.unit = unit
        self.name = f"range_{self.property}"

    def describe(self) -> str:
        window = format_window(self.low, self.high, self.unit)
        return f"{self.property} in {window} with probability >= {self.confidence:g}"

    def bounds(self, batch: DesignBatch) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The `(n,)` one-sided bounds ``mean - z std`` and ``mean + z std`` of each design."""
        mean, std = self._values(batch)
        return mean - self.z * std, mean + self.z * std

    def _values(self, batch: DesignBatch) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self.analytic is not None:
            mean = np.asarray(self.analytic(batch.designs), dtype=np.float64).reshape(len(batch))
            return mean, np.zeros(len(batch))
        if self.property not in batch.mean:
            raise MissingTargetError(
                f"the window on {self.property!r} needs its prediction, but the surrogates "
                f"give {sorted(batch.mean) or 'no target'}; set a window on one of those"
            )
        mean = np.asarray(batch.mean[self.property], dtype=np.float64)
        std = np.asarray(batch.std.get(self.property, np.zeros(len(batch))), dtype=np.float64)
        return mean, std

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        lower, upper = self.bounds(batch)
        G = np.full(len(batch), -np.inf)
        if np.isfinite(self.low):
            G = np.maximum(G, (self.low - lower) / self.scale)
        if np.isfinite(self.high):
            G = np.maximum(G, (upper - self.high) / self.scale)
        bad = ~(np.isfinite(lower) & np.isfinite(upper))
        G = np.where(bad, np.nan, G)  # made FAILED_VIOLATION by __call__
        return G
