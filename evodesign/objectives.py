"""Design objectives: what a campaign optimises, and how a value becomes pymoo's minimised F.

An :class:`Objective` names a property -- a surrogate target (``"log10_PF_p"``) or an
analytic property (``"hhi_production"``) -- with a direction and two options:

* ``kappa``: score on ``mean + kappa * std`` when maximising (``mean - kappa * std`` when
  minimising); ``kappa > 0`` is optimistic (an upper confidence bound, favours designs the
  surrogate is unsure about), ``kappa < 0`` pessimistic. Analytic properties have no std.
* ``target = (low, high)``: a range target (e.g. a band gap in [1.1, 1.7] eV); the
  objective becomes the distance of the value to the interval, 0 inside it, minimised.

pymoo minimises every column of F; :meth:`Objective.to_minimize` does the sign flip, so
reports convert back with :meth:`Objective.from_minimized` and always show natural values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["DIRECTIONS", "Objective", "analytic_property_names"]

DIRECTIONS = ("max", "min")


def analytic_property_names(kind: str | None = None) -> tuple[str, ...]:
    """Properties computed from the design itself, not by a surrogate, of one space kind
    (of every kind with ``None``): the registry's
    :data:`~evodesign.representation.registry.analytic_properties`."""
    from evodesign.representation.registry import analytic_properties

    return analytic_properties.names(kind)


@dataclass(frozen=True)
class Objective:
    """One objective of a campaign.

    Args:
        name: a surrogate target of the data set or an analytic property
            (:func:`analytic_property_names`).
        direction: ``"max"`` or ``"min"`` (ignored with ``target``: the distance is minimised).
        kappa: optimism weight on the surrogate's std (0: score the mean).
        target: optional ``(low, high)`` interval.
        label: axis label for plots (defaults to ``name``).
    """

    name: str
    direction: str = "max"
    kappa: float = 0.0
    target: tuple[float, float] | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"objective {self.name!r}: direction must be one of {DIRECTIONS}, "
                f"got {self.direction!r}"
            )
        if self.analytic and self.kappa != 0.0:
            raise ValueError(
                f"objective {self.name!r} is computed from the formula and has no "
                "uncertainty; kappa must be 0"
            )
        if self.target is not None:
            low, high = self.target
            if not low < high:
                raise ValueError(
                    f"objective {self.name!r}: target must be [low, high] with low < high, "
                    f"got {list(self.target)}"
                )

    @property
    def analytic(self) -> bool:
        """True for a property computed from the design (no surrogate, no std)."""
        return self.name in analytic_property_names()

    @property
    def display(self) -> str:
        """The label shown on plots and in tables."""
        return self.label or self.name

    def score(self, mean: ArrayLike, std: ArrayLike | None = None) -> NDArray[np.float64]:
        """The value the search ranks on, in natural units, `(n,)` -> `(n,)`."""
        value = np.asarray(mean, dtype=np.float64)
        if self.kappa and std is not None:
            sign = 1.0 if self.direction == "max" else -1.0
            value = value + sign * self.kappa * np.asarray(std, dtype=np.float64)
        return value

    def to_minimize(self, mean: ArrayLike, std: ArrayLike | None = None) -> NDArray[np.float64]:
        """pymoo's F column for this objective, `(n,)` -> `(n,)` (smaller is better)."""
        value = self.score(mean, std)
        if self.target is not None:
            low, high = self.target
            return np.maximum(np.maximum(low - value, value - high), 0.0)
        return -value if self.direction == "max" else value

    def from_minimized(self, f: ArrayLike) -> NDArray[np.float64]:
        """Natural value of an F column (the distance itself for a range target)."""
        f = np.asarray(f, dtype=np.float64)
        if self.target is None and self.direction == "max":
            return -f
        return f
