"""``[constraints]``: what a design must satisfy to count."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from evodesign.campaign.config.messages import Problems, show
from evodesign.campaign.config.table import StrictTable

__all__ = ["ConstraintsSection"]

#: A window bound: any number, inf and -inf included (NaN is refused by the validator).
_Bound = Annotated[float, Field(allow_inf_nan=True)]


class ConstraintsSection(StrictTable):
    """``[constraints]``: what a design must satisfy to count.

    Attributes:
        charge_balance: ``"strict"`` (SMACT: charge-neutral and electronegativity-balanced),
            ``"cdvae"`` (the same, but all-metal formulas pass as alloys) or ``"off"``.
        oxidation_state_min_share: the charge balance (and the repair and guided
            operators that prefer valid formulas) uses only oxidation states reported in at
            least this percentage of their element's ICSD-24 compounds (SMACT's
            ``commonality``), 0 to 100. 0: every state SMACT lists, rare ones included
            (Zn+3, O-1 as in peroxides), so ZnF3 or NaS2O13 balance; 0.5 removes those
            and keeps GeTe, CoSb3, Mg2Si and Bi2Te3 (it rejects 26.9% of the known
            transport compounds against 18.7% at 0: ``evodesign bench constraints``).
        novel: reject formulas of the data set.
        max_std: surrogate trust: ``"auto"`` (per target, the 90th percentile of the
            surrogate's std on the known compounds), ``"off"``, or a table
            ``{target = bound}`` of positive bounds for some surrogate objectives.
        hhi_missing: elements without HHI data: ``"infeasible"`` (a constraint violation)
            or ``"worst"`` (scored as HHI 10000, a monopoly).
        molecular: allow designs made only of non-metals (molecular solids and gases such
            as NF3, CO2, CS2, S). Off by default: a design needs at least one metal or
            metalloid (B, Si, Ge, As, Sb, Te, Po count as metals; H and the noble gases
            as non-metals); see :class:`evodesign.constraints.NotOnlyNonmetals`.
        ranges: hard property windows, a table ``{property = [low, high]}`` (``inf`` and
            ``-inf`` for an open end), e.g. ``[constraints.ranges]`` with
            ``S_p = [100, inf]``: a data-set target (predicted by the surrogate, which
            then learns it even when it is not an objective) or an analytic property.
            Each finite bound must hold with probability >= ``range_confidence`` under
            the surrogate's Gaussian prediction: ``mean - z std >= low`` and
            ``mean + z std <= high`` with ``z = Phi^-1(range_confidence)``; the
            violation, in units of the property's std over the data set, guides the
            search into the window. One ``g_range_<property>`` column each.
        range_confidence: probability with which each window bound must hold, in (0, 1):
            0.5 asks for the predicted mean inside, 0.9 for the one-sided 90% bounds
            inside.
    """

    charge_balance: Literal["strict", "cdvae", "off"] = "strict"
    oxidation_state_min_share: float = Field(0.0, ge=0, lt=100)
    novel: bool = True
    max_std: Literal["auto", "off"] | dict[str, float] = "auto"
    hhi_missing: Literal["infeasible", "worst"] = "infeasible"
    molecular: bool = False
    ranges: Annotated[dict[str, tuple[_Bound, _Bound]], Field(strict=False)] = {}
    range_confidence: float = Field(0.5, gt=0, lt=1)

    @field_validator("range_confidence", mode="before")
    @classmethod
    def _confidence(cls, value: Any) -> Any:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and not 0 < value < 1:
            raise ValueError(
                f"got {show(value)}: a probability strictly between 0 and 1 (0.5: the "
                "predicted mean inside each window, 0.9: the one-sided 90% bounds inside)"
            )
        return value

    @field_validator("ranges", mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> Any:
        example = "e.g. [constraints.ranges] with S_p = [100, inf] or band_gap = [1.1, 1.7]"
        if not isinstance(value, Mapping):
            raise ValueError(f"got {show(value)}: a table {{property = [low, high]}}, {example}")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        out: dict[str, tuple[float, float]] = {}
        for key, bounds in value.items():
            numbers = (
                isinstance(bounds, (list, tuple))
                and len(bounds) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds)
            )
            if not numbers:
                problems.append(((key,), f"got {show(bounds)}: a window is two numbers [low, "
                                 "high]; write inf or -inf for an open end, e.g. [100, inf]"))
                continue
            low, high = float(bounds[0]), float(bounds[1])
            if math.isnan(low) or math.isnan(high):
                problems.append(((key,), f"got {show(bounds)}: a bound is NaN; write inf or "
                                 "-inf for an open end"))
            elif not low < high:
                problems.append(((key,), f"got {show(bounds)}: low must be smaller than high"
                                 + (f", e.g. {show(sorted(bounds))}" if low > high else "")))
            elif math.isinf(low) and math.isinf(high):
                problems.append(((key,), f"got {show(bounds)}: every design meets it; give "
                                 "at least one finite bound, e.g. [100, inf]"))
            else:
                out[str(key)] = (low, high)
        if problems:
            raise Problems(problems)
        return out

    @field_validator("max_std", mode="before")
    @classmethod
    def _max_std(cls, value: Any) -> Any:
        valid = "'auto', 'off' or a table {target = bound}, e.g. {log10_PF_p = 0.8}"
        if isinstance(value, str):
            if value not in ("auto", "off"):
                raise ValueError(f"got {show(value)}; valid: {valid}")
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"got {show(value)}; valid: {valid}")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for key, bound in value.items():
            number = isinstance(bound, (int, float)) and not isinstance(bound, bool)
            if not number or not math.isfinite(bound) or bound <= 0:
                problems.append(
                    ((key,), f"got {show(bound)}: a std bound is a positive number")
                )
        if problems:
            raise Problems(problems)
        return {str(k): float(v) for k, v in value.items()}

