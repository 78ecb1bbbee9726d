"""Scores of ``evodesign bench loop``: HV of measured designs, acceleration and enhancement.

Every arm ends as an ordered list of measured designs (vectors and the lab's values).
:class:`MeasuredScorer` puts them through the campaign's own problem with the measured
values in place of the surrogate (objectives and constraints as the campaign defines them)
and the campaign's normalisation, so that ``hv(k)`` is the hypervolume of the feasible
designs among the first ``k`` measured. Since that set only grows, ``hv`` is
non-decreasing in ``k``, and the evaluations needed to reach an HV are found by bisection.

* ``acceleration_factor`` (AF, after Rohr et al. 2020): the evaluations a reference needs
  to reach the loop's final HV, divided by the evaluations the loop needed to reach it (a
  loop's count is taken at the end of the round, since a batch is measured at once). A
  reference that never reaches it within its own budget gives a lower bound (its budget
  over the loop's count) and ``lower_bound = True``.
* ``enhancement_factor`` (EF): the loop's HV at the budget over the reference's HV after
  the same number of evaluations.
* ``reverse_acceleration`` (AF read the other way round, against a loop that plateaus
  below this one, where the first reading is only a lower bound): the evaluations the
  reference needs to reach its own HV at the budget, divided by the evaluations the loop
  needs to reach that HV. A loop that never does within the budget gives an upper bound
  (the reference's count over the budget) and ``upper_bound = True``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.models import CampaignModels

__all__ = ["MeasuredScorer", "Trace", "acceleration", "enhancement", "evals_to_reach", "reverse_acceleration"]


@dataclasses.dataclass
class Trace:
    """One arm's measured designs in measurement order, scored.

    Attributes:
        F: `(n, n_obj)` objectives to minimise (NaN: a failed measurement).
        feasible: `(n,)` the campaign's constraints hold (False for a failure).
        labels: `(n,)` the designs' labels (formulas, or image ids).
        normalizer: the space's :class:`~evodesign.campaign.results.Normalizer`.
    """

    F: NDArray[np.float64]
    feasible: NDArray[np.bool_]
    labels: list[str]
    normalizer: Any

    def __len__(self) -> int:
        return len(self.F)

    def hv(self, k: int) -> float:
        """Hypervolume of the feasible designs among the first ``k`` measured."""
        keep = self.feasible[:k]
        return self.normalizer.hypervolume(self.F[:k][keep]) if keep.any() else 0.0

    def curve(self, counts: list[int]) -> list[list[float]]:
        """``[k, hv(k)]`` for each ``k`` of ``counts``."""
        return [[int(k), self.hv(int(k))] for k in counts]


class MeasuredScorer:
    """The campaign's problem with measured values as its predictor.

    Args:
        config: the campaign (objectives and constraints; every arm of a space shares them).
        models: its models (space, data and the known designs the novelty reads).
        targets: the measured targets.
    """

    def __init__(self, config: CampaignConfig, models: CampaignModels, targets: list[str]) -> None:
        from evodesign.campaign.assembly import build_objectives
        from evodesign.campaign.results import Normalizer

        self.config, self.models, self.targets = config, models, list(targets)
        self.normalizer = Normalizer.from_data(build_objectives(config), models.data, models.space, models.vectors)

    def trace(self, X: NDArray[np.float64], Y: NDArray[np.float64]) -> Trace:
        """Score `(n, n_var)` measured designs with their `(n, n_targets)` values."""
        from evodesign.campaign.assembly import build_problem
        from evodesign.campaign.loop import MeasuredPredictor

        space = self.models.space
        X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
        n_obj = len(self.normalizer.lo)
        F = np.full((len(X), n_obj), np.nan)
        feasible = np.zeros(len(X), dtype=bool)
        labels = space.labels(space.decode(X)) if len(X) else []
        ok = np.flatnonzero(np.isfinite(Y).all(axis=1))
        if len(ok):
            designs = space.decode(X[ok])
            lookup = dataclasses.replace(
                self.models, surrogate=MeasuredPredictor(self.targets, space.features(designs), Y[ok])
            )
            out = build_problem(self.config, lookup).evaluate(X[ok], return_as_dictionary=True)
            F[ok] = np.asarray(out["F"], dtype=np.float64)
            G = out.get("G")
            good = np.ones(len(ok), bool) if G is None or np.size(G) == 0 else (np.asarray(G) <= 0).all(axis=1)
            feasible[ok] = good & np.isfinite(F[ok]).all(axis=1)
        return Trace(F, feasible, list(labels), self.normalizer)


def evals_to_reach(trace: Trace, target: float, step: int = 1) -> int | None:
    """The fewest evaluations (a multiple of ``step``, at most ``len(trace)``) whose HV
    reaches ``target``, or None if the whole trace does not."""
    n = len(trace)
    if n == 0:
        return None
    counts = list(range(step, n + 1, step))
    if not counts or counts[-1] != n:
        counts.append(n)  # a last, partial batch
    if trace.hv(n) < target:
        return None
    lo, hi = 0, len(counts) - 1  # the answer's index lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if trace.hv(counts[mid]) >= target:
            hi = mid
        else:
            lo = mid + 1
    return counts[lo]


def acceleration(loop: Trace, reference: Trace, budget: int, batch: int, reference_step: int = 1) -> dict[str, Any]:
    """AF of ``loop`` (its first ``budget`` evaluations, counted per ``batch``) against
    ``reference`` (counted per ``reference_step``); see the module docs.

    Returns:
        ``{"value", "lower_bound", "target_hv", "loop_evals", "reference_evals"}``;
        ``value`` None when the loop's HV is 0 (nothing feasible measured).
    """
    target = loop.hv(budget)
    out: dict[str, Any] = {"value": None, "lower_bound": False, "target_hv": target, "loop_evals": None,
                           "reference_evals": None}
    if target <= 0:
        return out
    head = Trace(loop.F[:budget], loop.feasible[:budget], loop.labels[:budget], loop.normalizer)
    n_loop = evals_to_reach(head, target, step=batch) or budget
    n_ref = evals_to_reach(reference, target, step=reference_step)
    out["loop_evals"] = n_loop
    if n_ref is None:
        out.update(value=len(reference) / n_loop, lower_bound=True)
    else:
        out.update(value=n_ref / n_loop, reference_evals=n_ref)
    return out


def enhancement(loop: Trace, reference: Trace, budget: int) -> dict[str, Any]:
    """EF: HV of ``loop`` over ``reference``'s, both after ``budget`` evaluations."""
    a, b = loop.hv(budget), reference.hv(min(budget, len(reference)))
    return {"value": a / b if b > 0 else None, "hv": a, "reference_hv": b}


def reverse_acceleration(loop: Trace, reference: Trace, budget: int, batch: int,
                         reference_step: int | None = None) -> dict[str, Any]:
    """AF of ``loop`` against ``reference`` read the other way round (see the module docs):
    :func:`acceleration` with the roles swapped (the reference's HV at the budget is the
    target, the loop's first ``budget`` evaluations the trace that must reach it), inverted.
    Both are counted per ``batch`` (``reference_step``: the reference's, default ``batch``).

    Returns:
        ``{"value", "upper_bound", "target_hv", "loop_evals", "reference_evals"}``;
        ``value`` None when the reference's HV is 0.
    """
    head = Trace(loop.F[:budget], loop.feasible[:budget], loop.labels[:budget], loop.normalizer)
    swapped = acceleration(reference, head, budget, batch if reference_step is None else reference_step, batch)
    value = swapped["value"]
    return {"value": None if value is None else 1.0 / value, "upper_bound": swapped["lower_bound"],
            "target_hv": swapped["target_hv"], "loop_evals": swapped["reference_evals"],
            "reference_evals": swapped["loop_evals"]}
