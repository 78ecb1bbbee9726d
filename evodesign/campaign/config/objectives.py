"""``[[objectives]]``: the properties a campaign optimises."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from evodesign.campaign.config.messages import Problems, show
from evodesign.campaign.config.table import StrictTable

__all__ = ["ANALYTIC_OBJECTIVES", "Objective"]

#: Objectives computed from the formula alone (pymatgen's HHI tables), not by a surrogate.
ANALYTIC_OBJECTIVES = ("hhi_production", "hhi_reserve")


class Objective(StrictTable):
    """``[[objectives]]``: one property to optimise.

    Attributes:
        name: a target column of the data set (predicted by the surrogate) or an analytic
            property, one of :data:`ANALYTIC_OBJECTIVES`.
        direction: ``"max"`` or ``"min"``. Required unless ``target`` is given; a range
            target is always minimised (the distance to the interval), so it defaults to
            ``"min"`` there and ``"max"`` is refused.
        kappa: optimism of a surrogate objective: the search scores ``mean + kappa * std``
            when maximising and ``mean - kappa * std`` when minimising; kappa < 0 is
            pessimistic. Must be 0 for analytic objectives and range targets.
        target: optional ``[low, high]`` with low < high: the objective becomes the
            distance of the value to this interval (0 inside).
        label: axis label for plots.
    """

    name: str = Field(min_length=1)
    direction: Literal["max", "min"]
    kappa: float = 0.0
    target: Annotated[tuple[float, float] | None, Field(strict=False)] = None
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _range_target_is_minimised(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("target") is not None and "direction" not in data:
            return {**data, "direction": "min"}
        return data

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        if not isinstance(value, str) or value in ("max", "min"):
            return value
        word = value.strip().lower()
        if word in ("target", "range", "interval", "between", "window"):
            raise ValueError(
                f"got {show(value)}: direction is 'max' or 'min'; to aim at a range, remove "
                "direction and give target = [low, high] (e.g. target = [1.1, 1.7]), which is "
                "minimised as the distance to the interval"
            )
        for short, words in (("max", ("max", "maximum", "maximize", "maximise", "maximal",
                                      "highest", "high", "up", "larger")),
                             ("min", ("min", "minimum", "minimize", "minimise", "minimal",
                                      "lowest", "low", "down", "smaller"))):
            if word in words:
                raise ValueError(f"got {show(value)}: valid: 'max' or 'min' (did you mean {short!r}?)")
        raise ValueError(
            f"got {show(value)}: valid: 'max' or 'min' (or, for a range, remove direction and "
            "give target = [low, high])"
        )

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
                f"got {show(value)}: a range target is two finite numbers [low, high], "
                "e.g. [1.1, 1.7]"
            )
        if value[0] == value[1]:
            raise ValueError(
                f"got {show(value)}: low must be smaller than high; for a single value, "
                "use a narrow interval around it"
            )
        if value[0] > value[1]:
            raise ValueError(
                f"got {show(value)}: low must be smaller than high, e.g. "
                f"{show(sorted(value))}"
            )
        return tuple(float(v) for v in value)

    @model_validator(mode="after")
    def _kappa(self) -> Objective:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.analytic and self.kappa != 0:
            problems.append(
                (
                    ("kappa",),
                    f"got {show(self.kappa)}: kappa weighs the surrogate's std, but "
                    f"{self.name!r} is computed exactly from the formula; remove kappa",
                )
            )
        elif self.target is not None and self.kappa != 0:
            problems.append(
                (("kappa",), f"got {show(self.kappa)}: kappa is not used with a range "
                 "target (the distance to the interval is scored on the mean); remove it")
            )
        if self.target is not None and self.direction == "max":
            problems.append(
                (("direction",), "got 'max': a range target is minimised (the distance to "
                 "[low, high]); remove direction or set it to 'min'")
            )
        if problems:
            raise Problems(problems)
        return self

    @property
    def analytic(self) -> bool:
        """True for objectives computed from the formula, not predicted by a surrogate."""
        return self.name in ANALYTIC_OBJECTIVES

