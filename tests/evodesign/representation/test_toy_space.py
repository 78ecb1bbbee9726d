"""A new design space needs its own module and a registration, nothing else (issue 13).

The toy space (bit strings, tests/evodesign/representation/toy_space.py) runs through the
same problem, constraints, repair, deduplication and NSGA-II as compositions, and the
search finds the exact Pareto front, computed here by enumerating all 2**6 designs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.optimize import minimize

from evodesign.constraints import PropertyWindow
from evodesign.objectives import Objective
from evodesign.problem import DesignProblem
from evodesign.representation import DesignSpace, KnownDesigns, registry, space_from_dict
from evodesign.search.algorithm import design_nsga2

from toy_space import AlternationModel, BitStringSpace, ones


def _problem(space: BitStringSpace, window: bool = False) -> DesignProblem:
    analytic = {name: factory(space) for name, factory in registry.analytic_properties.items(space.kind).items()}
    constraints = [PropertyWindow("alternation", 2.0, float("inf"), confidence=0.5)] if window else []
    return DesignProblem(
        space,
        [Objective("ones", "max"), Objective("alternation", "max")],
        constraints,
        predictor=AlternationModel(),
        analytic=analytic,
    )


def _search(space: BitStringSpace, seed: int, window: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    algorithm = design_nsga2(space, 16, space.random_vectors(16, rng), SBX(prob=0.9, eta=15), PM(eta=20))
    result = minimize(_problem(space, window), algorithm, ("n_gen", 25), seed=seed)
    X = np.atleast_2d(result.pop.get("X"))
    return X, np.atleast_2d(result.F)


def _true_front(space: BitStringSpace, min_alternation: float = -np.inf) -> set[tuple[float, float]]:
    designs = np.array(list(itertools.product([0, 1], repeat=space.n_bits)), dtype=np.uint8)
    values = np.column_stack([ones(space)(designs), AlternationModel().predict(designs)[0][:, 0]])
    values = values[values[:, 1] >= min_alternation]
    front = {
        (a, b) for a, b in values
        if not ((values[:, 0] >= a) & (values[:, 1] >= b) & ((values[:, 0] > a) | (values[:, 1] > b))).any()
    }
    return front


def test_the_toy_space_is_a_design_space_and_is_registered():
    space = BitStringSpace(6)
    assert isinstance(space, DesignSpace)
    assert "bitstring" in registry.spaces.names()
    assert "ones" in registry.analytic_properties.names("bitstring")
    assert space_from_dict(space.to_dict()).n_bits == 6
    assert Objective("ones", "max").analytic  # found through the registry, nowhere else
    with pytest.raises(registry.RegistryError, match="valid: 'bitstring', 'composition'"):
        space_from_dict({"kind": "bitstrng"})


def test_known_designs_of_the_toy_space():
    space = BitStringSpace(4)
    # a data row that is not exactly a design's vector is no design the search can make
    known = KnownDesigns.from_vectors(space, [[1, 0, 1, 0], [0.9, 0.1, 0.7, 0.2], [0, 1, 0, 1]])
    assert known.labels == ("1010", "0101") and known.rows.tolist() == [0, 2]
    assert known.contains(space.ids(space.decode([[1, 0, 1, 0], [1, 1, 1, 1]]))).tolist() == [True, False]


def test_nsga2_finds_the_exact_front_of_the_toy_space():
    space = BitStringSpace(6)
    X, F = _search(space, seed=1)
    # repaired: every vector is a canonical bit string, and no design twice
    assert np.array_equal(X, space.repair(X))
    assert len(np.unique(space.ids(space.decode(X)))) == len(X)
    found = {(float(-a), float(-b)) for a, b in F}
    assert found == _true_front(space)


def test_constraints_of_any_space_apply_to_the_toy_space():
    space = BitStringSpace(6)
    _, F = _search(space, seed=2, window=True)
    found = {(float(-a), float(-b)) for a, b in F}
    # the window alternation >= 2 (std 0.1 at confidence 0.5: the mean must reach it)
    assert found == _true_front(space, min_alternation=2.0)


def test_same_seed_same_front_other_seed_runs_too():
    space = BitStringSpace(6)
    X1, _ = _search(space, seed=3)
    X2, _ = _search(space, seed=3)
    np.testing.assert_array_equal(X1, X2)
