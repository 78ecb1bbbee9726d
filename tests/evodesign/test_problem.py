"""DesignProblem and Objective: shapes, directions, failures, serialisation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from evodesign.constraints import ChargeBalance, ElementFilter, SurrogateTrust
from evodesign.objectives import Objective
from evodesign.problem import FAILED_F, DesignProblem, EvaluationError
from evodesign.properties import SupplyRisk
from evodesign.representation import CompositionSpace

ELEMENTS = ["Li", "O", "Na", "Cl", "Fe", "Te", "Bi"]


class Linear:
    """A toy surrogate: mean = fractions @ W, std = 0.1."""

    targets = ("a", "b")

    def __init__(self, nan_rows=()):
        self.W = np.arange(2 * len(ELEMENTS), dtype=float).reshape(len(ELEMENTS), 2)
        self.nan_rows = set(nan_rows)

    def predict(self, X):
        mean = np.asarray(X) @ self.W
        for i in self.nan_rows:
            if i < len(mean):
                mean[i, 0] = np.nan
        return mean, np.full_like(mean, 0.1)


@pytest.fixture()
def space():
    return CompositionSpace(ELEMENTS, max_atoms=10, max_elements=3)


def make_problem(space, predictor=None, objectives=None, constraints=None):
    objectives = objectives or [Objective("a", "max"), Objective("b", "min", kappa=1.0), Objective("hhi_production", "min")]
    constraints = constraints if constraints is not None else [ChargeBalance(space), SurrogateTrust({"a": 0.5})]
    return DesignProblem(
        space, objectives, constraints, predictor=predictor or Linear(), analytic={"hhi_production": SupplyRisk(space.elements)}
    )


def test_objective_transforms():
    up = Objective("a", "max", kappa=2.0)
    assert up.to_minimize([1.0], [0.5]).tolist() == [-2.0]
    assert up.from_minimized([-2.0]).tolist() == [2.0]
    down = Objective("a", "min", kappa=-1.0)  # pessimistic: mean + std
    assert down.to_minimize([1.0], [0.5]).tolist() == [1.5]
    band = Objective("gap", "min", target=(1.1, 1.7))
    assert band.to_minimize([1.0, 1.4, 2.0]).tolist() == pytest.approx([0.1, 0.0, 0.3])
    with pytest.raises(ValueError, match="computed exactly from the design; remove kappa"):
        Objective("hhi_production", "min", kappa=1.0)
    with pytest.raises(ValueError, match="direction"):
        Objective("a", "up")
    with pytest.raises(ValueError, match="low must be smaller than high"):
        Objective("a", "min", target=(2.0, 1.0))


def test_evaluate_shapes_values_and_constraints(space):
    problem = make_problem(space)
    X = space.to_vectors(["NaCl", "NaCl2", "Fe2O3", "Bi2Te3"])
    out = problem.evaluate(X, return_as_dictionary=True)
    assert out["F"].shape == (4, 3) and out["G"].shape == (4, 3)
    assert problem.constraint_labels == ["charge_balance", "surrogate_trust", "evaluation_failed"]
    mean, std = Linear().predict(X)
    assert out["F"][:, 0] == pytest.approx(-mean[:, 0])  # maximised -> negated
    assert out["F"][:, 1] == pytest.approx(mean[:, 1] - 0.1)  # min with kappa 1: mean - std
    assert out["values"][:, 1] == pytest.approx(mean[:, 1])  # reports show the mean
    expected_hhi = SupplyRisk(space.elements)(space.decode(X))
    assert out["F"][:, 2] == pytest.approx(expected_hhi)
    assert (out["G"][:, 0] > 0).tolist() == [False, True, False, False]  # NaCl2 is not neutral
    assert (out["G"][:, 1] <= 0).all()
    assert problem.n_evaluated == 4 and problem.n_feasible == 3 and problem.n_failed == 0


def test_nan_rows_become_failures_not_nan(space):
    problem = make_problem(space, Linear(nan_rows={1}))
    X = space.to_vectors(["NaCl", "LiCl", "Fe2O3"])
    out = problem.evaluate(X, return_as_dictionary=True)
    assert np.isfinite(out["F"]).all() and np.isfinite(out["G"]).all()
    assert out["failed"].tolist() == [False, True, False]
    assert (out["F"][1] == FAILED_F).all()
    assert out["G"][1, -1] == 1.0 and out["G"][0, -1] == 0.0
    assert problem.n_failed == 1


def test_all_failed_raises(space):
    problem = make_problem(space, Linear(nan_rows={0, 1}))
    with pytest.raises(EvaluationError, match="all 2 designs"):
        problem.evaluate(space.to_vectors(["NaCl", "LiCl"]), return_as_dictionary=True)


def test_missing_hhi_uses_the_fallback(space):
    elements = ["H", "O", "Na", "Cl"]
    sp = CompositionSpace(elements, max_atoms=10, max_elements=3)

    class Zero:
        targets = ("a",)

        def predict(self, X):
            return np.zeros((len(X), 1)), np.zeros((len(X), 1))

    problem = DesignProblem(
        sp, [Objective("a", "max"), Objective("hhi_production", "min")], [ElementFilter(sp)],
        predictor=Zero(), analytic={"hhi_production": SupplyRisk(elements)}, analytic_fallback=10_000.0,
    )
    out = problem.evaluate(sp.to_vectors(["H2O", "NaCl"]), return_as_dictionary=True)
    assert out["F"][0, 1] == 10_000.0 and out["F"][1, 1] < 10_000.0


def test_pickle_drops_the_surrogate_and_attach_checks_targets(space):
    problem = make_problem(space)
    clone = pickle.loads(pickle.dumps(problem))
    assert clone.predictor is None
    with pytest.raises(EvaluationError, match="no surrogate attached"):
        clone.evaluate(space.to_vectors(["NaCl"]), return_as_dictionary=True)

    class Other:
        targets = ("x",)

    with pytest.raises(ValueError, match="predicts"):
        clone.attach(Other())
    clone.attach(Linear())
    assert clone.evaluate(space.to_vectors(["NaCl"]), return_as_dictionary=True)["F"].shape == (1, 3)


def test_objective_names_are_checked(space):
    with pytest.raises(ValueError, match="not predicted by the surrogate"):
        make_problem(space, objectives=[Objective("c", "max")])
    with pytest.raises(ValueError, match="analytic but no function"):
        DesignProblem(space, [Objective("hhi_reserve", "min")], [], predictor=None)
