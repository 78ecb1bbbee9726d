"""The pymoo ``Problem`` of a campaign in any design space: vectors in, objectives and
constraints out.

One call of :meth:`DesignProblem._evaluate` scores a whole population at once:

1. decode every vector to its design (:meth:`DesignSpace.decode
   <evodesign.representation.space.DesignSpace.decode>`; the search's
   :class:`~evodesign.search.SpaceRepair` has usually snapped the vectors to canonical
   ones already, so this is the identity on them);
2. one batched surrogate call for every surrogate target (mean and std) on the space's
   features of the designs;
3. analytic properties (e.g. supply-risk HHI of a formula) from the designs;
4. every constraint in pymoo's ``G <= 0`` form, plus one last column,
   ``evaluation_failed``, which is 1 where the evaluation failed.

A failed evaluation -- a NaN or inf from the surrogate, or an exception it raises -- is a
constraint violation, never a NaN objective: NaN in F corrupts non-dominated sorting
silently. When the surrogate raises for a batch, the batch is bisected so that only the
designs that really fail are lost. A batch in which *every* design fails stops the run
with :class:`EvaluationError` (a broken model should fail fast, not run for an hour).
Counts of evaluated, failed and feasible designs accumulate on the problem for the
run's history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np
from pymoo.core.problem import Problem

from evodesign.constraints import DesignBatch, evaluate_constraints
from evodesign.exceptions import EvodesignError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.constraints import Constraint
    from evodesign.objectives import Objective
    from evodesign.representation import DesignSpace

__all__ = ["DesignProblem", "EvaluationError", "FAILED_F", "Predictor"]

#: F given to a failed design: finite (NaN must never reach sorting) and dominated by all
FAILED_F = 1e12


class EvaluationError(EvodesignError, RuntimeError):
    """Every design of a batch failed to evaluate (the surrogate is broken or misfed)."""


class Predictor(Protocol):
    """What the problem needs of a surrogate (e.g. :class:`evodesign.surrogates.PropertyModel`)."""

    targets: Sequence[str]

    def predict(self, X: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mean and std, each `(n, n_targets)`, of `(n, n_features)` features of designs
        (:meth:`DesignSpace.features`; atomic fractions for compositions)."""
        ...


class DesignProblem(Problem):
    """Multi-objective design in a design space, as a vectorized pymoo problem.

    Args:
        space: the design space (``n_var``, bounds ``xl``/``xu``, decoding, features).
        objectives: the :class:`~evodesign.objectives.Objective` list (``n_obj`` columns).
        constraints: :class:`~evodesign.constraints.Constraint` objects.
        predictor: the surrogate for the non-analytic objectives and for trust constraints
            (None when every objective is analytic). Kept out of pickles and checkpoints:
            re-attach it with :meth:`attach` after loading one.
        analytic: callables ``designs -> (n,)`` per analytic objective name (see
            :data:`evodesign.representation.registry.analytic_properties`); a NaN there
            (e.g. an element without HHI data) becomes ``analytic_fallback``.
        analytic_fallback: the value used for an undefined analytic property (the worst
            case, e.g. HHI 10,000); pair it with a constraint if such designs must go.

    Individuals evaluated by this problem carry, besides F and G: ``"mean"`` and ``"std"``
    `(n_targets,)` surrogate outputs, ``"values"`` `(n_obj,)` natural objective values
    (means, or analytic values), and ``"failed"``.
    """

    def __init__(
        self,
        space: DesignSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        predictor: Predictor | None = None,
        analytic: dict[str, Callable[[Any], NDArray[np.float64]]] | None = None,
        analytic_fallback: float = 10_000.0,
    ) -> None:
        self.space = space
        self.objectives = tuple(objectives)
        self.constraints = tuple(constraints)
        self.analytic = dict(analytic or {})
        self.analytic_fallback = float(analytic_fallback)
        self.predictor = predictor
        self.targets: tuple[str, ...] = tuple(predictor.targets) if predictor is not None else ()
        for objective in self.objectives:
            if objective.analytic and objective.name not in self.analytic:
                raise ValueError(
                    f"objective {objective.name!r} is analytic but no function computes it; "
                    f"have {sorted(self.analytic)}"
                )
            if not objective.analytic and objective.name not in self.targets:
                raise ValueError(
                    f"objective {objective.name!r} is not predicted by the surrogate; it "
                    f"predicts {list(self.targets)}"
                )
        self.constraint_labels = [label for c in self.constraints for label in c.labels()]
        self.constraint_labels.append("evaluation_failed")
        self.n_evaluated = 0
        self.n_failed = 0
        self.n_feasible = 0
        super().__init__(
            n_var=space.n_var,
            n_obj=len(self.objectives),
            n_ieq_constr=len(self.constraint_labels),
            xl=np.asarray(space.xl, dtype=np.float64),
            xu=np.asarray(space.xu, dtype=np.float64),
            exclude_from_serialization=["predictor"],
        )

    def attach(self, predictor: Predictor | None) -> None:
        """Re-attach the surrogate after unpickling (it is not stored in checkpoints)."""
        if predictor is not None and tuple(predictor.targets) != self.targets:
            raise ValueError(
                f"the surrogate predicts {list(predictor.targets)} but this problem was "
                f"built for {list(self.targets)}"
            )
        self.predictor = predictor

    # ------------------------------------------------------------------ evaluation
    def _predict(
        self, features: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], BaseException | None]:
        """Surrogate mean/std `(n, n_targets)` and a `(n,)` failure mask; bisects on errors."""
        n, k = len(features), len(self.targets)
        mean = np.full((n, k), np.nan)
        std = np.full((n, k), np.nan)
        if k == 0 or n == 0:
            return mean, std, np.zeros(n, dtype=bool), None
        if self.predictor is None:
            raise EvaluationError(
                "this problem has no surrogate attached (it was loaded from a checkpoint?); "
                "call problem.attach(model) first"
            )
        first_error: list[BaseException] = []

        def run(lo: int, hi: int) -> None:
            try:
                m, s = self.predictor.predict(features[lo:hi])
                mean[lo:hi] = np.asarray(m, dtype=np.float64).reshape(hi - lo, k)
                std[lo:hi] = np.asarray(s, dtype=np.float64).reshape(hi - lo, k)
            except Exception as error:  # noqa: BLE001 - any model failure is a failed design
                if not first_error:
                    first_error.append(error)
                if hi - lo > 1:
                    mid = (lo + hi) // 2
                    run(lo, mid)
                    run(mid, hi)

        run(0, n)
        failed = ~(np.isfinite(mean).all(axis=1) & np.isfinite(std).all(axis=1))
        return mean, std, failed, first_error[0] if first_error else None

    def _evaluate(self, X: NDArray[np.float64], out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Score a `(n, n_var)` batch: F `(n, n_obj)`, G `(n, n_constr)` and the extras."""
        designs = self.space.decode(X)
        mean, std, failed, error = self._predict(self.space.features(designs) if self.targets else np.zeros((len(X), 0)))
        n = len(X)
        if n and failed.all() and self.targets:
            bad = "raised " + repr(error) if error is not None else "returned NaN or inf"
            raise EvaluationError(
                f"the surrogate {bad} for all {n} designs of this batch "
                f"(targets {list(self.targets)}); check the model files and the inputs"
            ) from error

        values = np.empty((n, len(self.objectives)))
        value_std = np.full((n, len(self.objectives)), np.nan)
        F = np.empty((n, len(self.objectives)))
        for j, objective in enumerate(self.objectives):
            if objective.analytic:
                v = np.asarray(self.analytic[objective.name](designs), dtype=np.float64)
                v = np.where(np.isfinite(v), v, self.analytic_fallback)
                values[:, j] = v
                F[:, j] = objective.to_minimize(v)
            else:
                t = self.targets.index(objective.name)
                values[:, j] = mean[:, t]
                value_std[:, j] = std[:, t]
                F[:, j] = objective.to_minimize(mean[:, t], std[:, t])
        failed = failed | ~np.isfinite(F).all(axis=1)
        F[failed] = FAILED_F

        # A failed row is already infeasible through its own column; NaN std is turned
        # into a violation by the trust constraint as well.
        safe_mean = np.where(failed[:, None], np.nan, mean)
        safe_std = np.where(failed[:, None], np.nan, std)
        batch = DesignBatch(
            designs=designs,
            mean={t: safe_mean[:, i] for i, t in enumerate(self.targets)},
            std={t: safe_std[:, i] for i, t in enumerate(self.targets)},
        )
        G_constraints, _ = evaluate_constraints(self.constraints, batch) if self.constraints else (np.zeros((n, 0)), [])
        G = np.concatenate([G_constraints, failed.astype(np.float64)[:, None]], axis=1)
        if not np.isfinite(G).all():  # constraints promise finite values; make sure
            raise EvaluationError("a constraint returned NaN or inf")

        self.n_evaluated += n
        self.n_failed += int(failed.sum())
        self.n_feasible += int((G <= 0).all(axis=1).sum())
        out["F"] = F
        out["G"] = G
        out["mean"] = mean
        out["std"] = std
        out["values"] = values
        out["values_std"] = value_std
        out["failed"] = failed

    def describe(self) -> list[str]:
        """One line per objective and constraint, for logs and reports."""
        lines = []
        for o in self.objectives:
            how = f"target {o.target[0]:g}–{o.target[1]:g}" if o.target else o.direction
            extra = f", kappa {o.kappa:+g}" if o.kappa else ""
            lines.append(f"objective {o.name}: {how}{extra}")
        for c in self.constraints:
            lines.append(f"constraint {c.describe()}")
        return lines
