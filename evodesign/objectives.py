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

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["DIRECTIONS", "Objective", "analytic_property_names"]

DIRECTIONS = ("max", "min")

_MAX_WORDS = ("max", "maximum", "maximize", "maximise", "maximal", "highest", "high", "up", "larger")
_MIN_WORDS = ("min", "minimum", "minimize", "minimise", "minimal", "lowest", "low", "down", "smaller")
_RANGE_WORDS = ("target", "range", "interval", "between", "window")


def analytic_property_names(kind: str | None = None) -> tuple[str, ...]:
    """Properties computed from the design itself, not by a surrogate, of one space kind
    (of every kind with ``None``): the registry's
    :data:`~evodesign.representation.registry.analytic_properties`."""
    from evodesign.representation.registry import analytic_properties

    return analytic_properties.names(kind)


def _show(value: Any) -> str:
    """A value as a campaign file writes it (strings quoted, sequences in brackets)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


class Objective(BaseModel):
    """One property to optimise: a ``[[objectives]]`` table of a campaign file, and what
    the problem scores (one type for both).

    Validated like every table of a campaign file: strict types, unknown keys refused,
    frozen. Positional arguments are accepted in this order:
    ``Objective("S_p", "max", kappa=0.5)``.

    Attributes:
        name: a target column of the data set (predicted by the surrogate) or an analytic
            property of the space (:func:`analytic_property_names`).
        direction: ``"max"`` or ``"min"``. Required unless ``target`` is given; a range
            target is always minimised (the distance to the interval), so it defaults to
            ``"min"`` there and ``"max"`` is refused.
        kappa: optimism of a surrogate objective: the search scores ``mean + kappa * std``
            when maximising and ``mean - kappa * std`` when minimising; kappa < 0 is
            pessimistic. Must be 0 for analytic objectives and range targets.
        target: optional ``[low, high]`` with low < high: the objective becomes the
            distance of the value to this interval (0 inside).
        label: axis label for plots (defaults to ``name``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    # target before direction and kappa: their checks read it
    name: str = Field(min_length=1)
    target: Annotated[tuple[float, float] | None, Field(strict=False)] = None
    direction: Literal["max", "min"]
    kappa: float = 0.0
    label: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = ("name", "direction", "kappa", "target", "label")
        if len(args) > len(names):
            raise TypeError(f"Objective takes at most {len(names)} positional arguments ({', '.join(names)})")
        super().__init__(**dict(zip(names, args)), **kwargs)

    @model_validator(mode="before")
    @classmethod
    def _range_target_is_minimised(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("target") is not None and "direction" not in data:
            return {**data, "direction": "min"}
        return data

    @field_validator("target", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if value is None:
            return value
        numbers = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
        if not numbers or not all(math.isfinite(v) for v in value):
            raise ValueError(
                f"got {_show(value)}: a range target is two finite numbers [low, high], "
                "e.g. [1.1, 1.7]"
            )
        if value[0] == value[1]:
            raise ValueError(
                f"got {_show(value)}: low must be smaller than high; for a single value, "
                "use a narrow interval around it"
            )
        if value[0] > value[1]:
            raise ValueError(
                f"got {_show(value)}: low must be smaller than high, e.g. {_show(sorted(value))}"
            )
        return tuple(float(v) for v in value)

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        if not isinstance(value, str) or value in DIRECTIONS:
            return value
        word = value.strip().lower()
        if word in _RANGE_WORDS:
            raise ValueError(
                f"got {_show(value)}: direction is 'max' or 'min'; to aim at a range, remove "
                "direction and give target = [low, high] (e.g. target = [1.1, 1.7]), which is "
                "minimised as the distance to the interval"
            )
        for short, words in (("max", _MAX_WORDS), ("min", _MIN_WORDS)):
            if word in words:
                raise ValueError(f"got {_show(value)}: valid: 'max' or 'min' (did you mean {short!r}?)")
        raise ValueError(
            f"got {_show(value)}: valid: 'max' or 'min' (or, for a range, remove direction and "
            "give target = [low, high])"
        )

    @field_validator("direction")
    @classmethod
    def _range_direction(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("target") is not None and value == "max":
            raise ValueError(
                "got 'max': a range target is minimised (the distance to [low, high]); "
                "remove direction or set it to 'min'"
            )
        return value

    @field_validator("kappa")
    @classmethod
    def _kappa(cls, value: float, info: ValidationInfo) -> float:
        name = info.data.get("name")
        if value != 0 and name is not None and name in analytic_property_names():
            raise ValueError(
                f"got {_show(value)}: kappa weighs the surrogate's std, but {name!r} is "
                "computed exactly from the design; remove kappa"
            )
        if value != 0 and info.data.get("target") is not None:
            raise ValueError(
                f"got {_show(value)}: kappa is not used with a range target (the distance to "
                "the interval is scored on the mean); remove it"
            )
        return value

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
