"""SystemNicheSurvival: the cap per chemical system, pymoo's result without it, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from evodesign.search.survival import (
    SystemNicheSurvival,
    chemical_system_ids,
    chemical_system_names,
    system_occurrence,
)


def _problem(n_ieq: int = 0) -> Problem:
    return Problem(n_var=6, n_obj=3, n_ieq_constr=n_ieq, xl=0.0, xu=1.0)


def _population(X, F, G=None) -> Population:
    pop = Population.new("X", np.asarray(X, dtype=float), "F", np.asarray(F, dtype=float))
    if G is not None:
        G = np.asarray(G, dtype=float)
        cv = np.maximum(G, 0).sum(axis=1, keepdims=True)
        pop.set("G", G, "CV", cv)
    return pop


def _random_rows(rng, n, n_var=6, n_systems=None):
    """Compositions over `n_var` elements: `(n, n_var)` fractions with 1-3 elements each."""
    mask = rng.random((n, n_var)) < 0.4
    mask[np.arange(n), rng.integers(0, n_var, n)] = True
    X = rng.random((n, n_var)) * mask
    return X / X.sum(axis=1, keepdims=True)


def _state(pop):
    return pop.get("X"), pop.get("F"), pop.get("rank"), pop.get("crowding")


def _same(a, b):
    for x, y in zip(_state(a), _state(b)):
        np.testing.assert_array_equal(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


# ---------------------------------------------------------------------- system ids
def test_system_ids_group_rows_by_their_nonzero_pattern():
    X = np.array([[0.5, 0.5, 0, 0], [0.1, 0.9, 0, 0], [0, 0.5, 0.5, 0], [1.0, 0, 0, 0], [0.2, 0.8, 0, 0]])
    ids = chemical_system_ids(X)
    assert ids[0] == ids[1] == ids[4]
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert set(ids.tolist()) == {0, 1, 2}
    # many elements: more than one packed byte per row
    wide = np.zeros((3, 20))
    wide[0, [1, 17]] = 1
    wide[1, [1, 17]] = 2
    wide[2, [1, 16]] = 1
    ids = chemical_system_ids(wide)
    assert ids[0] == ids[1] != ids[2]
    assert chemical_system_ids(np.zeros((0, 5))).shape == (0,)


def test_system_names_sorted_alphabetically():
    X = np.array([[1, 0, 2, 1], [0, 3, 0, 0], [2, 1, 0, 1]])
    assert chemical_system_names(X, ["Ni", "Li", "N", "Co"]) == ["Co-N-Ni", "Li", "Co-Li-Ni"]


def test_system_occurrence_counts_in_the_given_order():
    ids = np.array([7, 3, 7, 7, 3, 1])
    order = np.array([3, 0, 1, 5, 4, 2])
    np.testing.assert_array_equal(system_occurrence(ids, order), [0, 1, 0, 0, 1, 2])
    assert system_occurrence(ids, np.zeros(0, dtype=int)).shape == (0,)


# ---------------------------------------------------------------------- the cap
def test_cap_diversifies_a_population_one_system_dominates():
    rng = np.random.default_rng(0)
    n_var = 6
    # 60 designs of one system (elements 0 and 1) that dominate everything else
    family = np.zeros((60, n_var))
    family[:, 0] = rng.uniform(0.1, 0.9, 60)
    family[:, 1] = 1 - family[:, 0]
    # 40 designs spread over 20 other systems (two per system)
    others = np.zeros((40, n_var))
    pairs = [(i, j) for i in range(n_var) for j in range(i + 1, n_var) if (i, j) != (0, 1)]
    for k in range(40):
        i, j = pairs[k // 2 % len(pairs)]
        others[k, [i, j, (j + 1) % n_var if k >= 28 else i]] = rng.uniform(0.1, 1.0, 3)
    X = np.vstack([family, others])
    t = rng.random(60)
    F = np.vstack([np.column_stack([t, 1 - t, np.zeros(60)]), rng.uniform(1.0, 2.0, (40, 3))])
    problem = _problem()

    plain = RankAndCrowding().do(problem, _population(X, F), n_survive=40, random_state=np.random.default_rng(1))
    assert len(np.unique(chemical_system_ids(plain.get("X")))) == 1

    niche = SystemNicheSurvival(max_per_system=2).do(
        problem, _population(X, F), n_survive=40, random_state=np.random.default_rng(1)
    )
    ids = chemical_system_ids(niche.get("X"))
    counts = np.bincount(ids)
    n_systems_available = len(np.unique(chemical_system_ids(X)))
    assert len(niche) == 40
    assert len(counts) == n_systems_available  # every system is represented
    # the 2 best of the dominant family, then every other design under the cap first
    family_kept = (niche.get("X")[:, 2:] == 0).all(axis=1)
    assert family_kept.sum() >= 2
    assert (niche.get("rank") >= 0).all() and np.isfinite(niche.get("rank")).all()
    # survivors carry rank and crowding, ordered by rank as pymoo orders them
    assert (np.diff(niche.get("rank").astype(int)) >= 0).all()


def test_cap_keeps_the_least_crowded_designs_of_a_system():
    # one system, cap 2, room for 2 of it: the extremes (infinite crowding) survive
    X = np.tile([0.5, 0.5, 0, 0, 0, 0], (5, 1))
    t = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    F = np.column_stack([t, 1 - t, np.zeros(5)])
    # three designs of other systems, dominated
    X = np.vstack([X, np.eye(6)[2:5]])
    F = np.vstack([F, np.full((3, 3), 2.0) + np.arange(3)[:, None] * np.array([[1, -1, 0]]) * 0.1])
    out = SystemNicheSurvival(max_per_system=2).do(_problem(), _population(X, F), n_survive=5, random_state=np.random.default_rng(0))
    kept_t = sorted(out.get("F")[:, 0][out.get("F")[:, 2] == 0].tolist())
    assert kept_t == [0.0, 1.0]
    assert len(out) == 5


def test_beyond_the_cap_designs_fill_the_remaining_room():
    X = np.tile([0.5, 0.5, 0, 0, 0, 0], (10, 1))
    t = np.linspace(0, 1, 10)
    F = np.column_stack([t, 1 - t, np.zeros(10)])
    out = SystemNicheSurvival(max_per_system=2).do(_problem(), _population(X, F), n_survive=6, random_state=np.random.default_rng(0))
    assert len(out) == 6


def test_infeasible_designs_come_after_feasible_ones_as_in_pymoo():
    rng = np.random.default_rng(3)
    X = _random_rows(rng, 80)
    F = rng.random((80, 3))
    G = rng.normal(size=(80, 1))
    problem = _problem(n_ieq=1)
    out = SystemNicheSurvival(max_per_system=1).do(problem, _population(X, F, G), n_survive=60, random_state=np.random.default_rng(0))
    feasible = (G[:, 0] <= 0).sum()
    assert len(out) == 60
    assert (out.get("CV")[:feasible, 0] <= 0).all()  # every feasible design, even beyond the cap
    assert (out.get("CV")[feasible:, 0] > 0).all()
    # the infeasible ones by ascending violation
    assert (np.diff(out.get("CV")[feasible:, 0]) >= 0).all()


def test_rejects_a_cap_below_one():
    with pytest.raises(ValueError, match="max_per_system"):
        SystemNicheSurvival(max_per_system=0)


# ---------------------------------------------------------------------- pymoo's result without it
@pytest.mark.parametrize("n_survive", [1, 7, 50, 99, 120])
@pytest.mark.parametrize("with_constraints", [False, True])
def test_without_cap_identical_to_pymoo(n_survive, with_constraints):
    rng = np.random.default_rng(n_survive)
    n = 120
    X = _random_rows(rng, n)
    # coarse objectives: ties in rank and crowding, so the random tie-breaks matter
    F = np.round(rng.random((n, 3)) * 6) / 6
    G = rng.normal(size=(n, 2)) - 0.5 if with_constraints else None
    problem = _problem(n_ieq=2 if with_constraints else 0)
    a_rng, b_rng = np.random.default_rng(11), np.random.default_rng(11)
    ref = RankAndCrowding().do(problem, _population(X, F, G), n_survive=n_survive, random_state=a_rng)
    out = SystemNicheSurvival(max_per_system=None).do(problem, _population(X, F, G), n_survive=n_survive, random_state=b_rng)
    _same(out, ref)
    assert a_rng.random() == b_rng.random()  # the same random numbers drawn


@pytest.mark.parametrize("n_survive", [10, 40, 77])
def test_cap_that_never_binds_identical_to_pymoo(n_survive):
    rng = np.random.default_rng(n_survive)
    n = 100
    # every design its own system: no cap binds
    X = np.zeros((n, 16))
    patterns = rng.permutation(2**16 - 1)[:n] + 1
    bits = (patterns[:, None] >> np.arange(16)) & 1
    X[bits.astype(bool)] = 1.0
    F = np.round(rng.random((n, 3)) * 5) / 5
    problem = _problem()
    a_rng, b_rng = np.random.default_rng(5), np.random.default_rng(5)
    ref = RankAndCrowding().do(problem, _population(X, F), n_survive=n_survive, random_state=a_rng)
    out = SystemNicheSurvival(max_per_system=1).do(problem, _population(X, F), n_survive=n_survive, random_state=b_rng)
    _same(out, ref)
    assert a_rng.random() == b_rng.random()


def test_cap_binding_only_beyond_the_survivors_identical_to_pymoo():
    # one large system, but all its designs rank last: the cap never changes who survives
    rng = np.random.default_rng(2)
    X = np.vstack([np.eye(6)[[0, 1, 2, 3, 4, 5]], np.tile([0.5, 0.5, 0, 0, 0, 0], (20, 1))])
    F = np.vstack([rng.random((6, 3)), rng.random((20, 3)) + 5])
    problem = _problem()
    ref = RankAndCrowding().do(problem, _population(X, F), n_survive=6, random_state=np.random.default_rng(0))
    out = SystemNicheSurvival(max_per_system=1).do(problem, _population(X, F), n_survive=6, random_state=np.random.default_rng(0))
    _same(out, ref)


def test_deterministic_with_the_same_random_state():
    rng = np.random.default_rng(4)
    X = _random_rows(rng, 300)
    F = np.round(rng.random((300, 3)) * 4) / 4
    runs = [
        SystemNicheSurvival(max_per_system=2).do(_problem(), _population(X, F), n_survive=100, random_state=np.random.default_rng(9))
        for _ in range(2)
    ]
    _same(*runs)


def test_no_state_kept_between_calls():
    rng = np.random.default_rng(6)
    X, F = _random_rows(rng, 200), rng.random((200, 3))
    survival = SystemNicheSurvival(max_per_system=2)
    first = survival.do(_problem(), _population(X, F), n_survive=50, random_state=np.random.default_rng(1))
    survival.do(_problem(), _population(_random_rows(rng, 90), rng.random((90, 3))), n_survive=30, random_state=np.random.default_rng(0))
    again = survival.do(_problem(), _population(X, F), n_survive=50, random_state=np.random.default_rng(1))
    _same(first, again)


def test_ten_thousand_rows_well_under_a_second():
    rng = np.random.default_rng(7)
    n, n_var = 10_000, 86
    mask = rng.random((n, n_var)) < 0.03
    mask[np.arange(n), rng.integers(0, n_var, n)] = True
    X = rng.random((n, n_var)) * mask
    F = rng.random((n, 3))
    pop = _population(X, F)
    survival = SystemNicheSurvival(max_per_system=2)
    survival.do(_problem(), pop[:200], n_survive=100, random_state=np.random.default_rng(0))  # warm up
    start = time.perf_counter()
    out = survival.do(_problem(), pop, n_survive=5_000, random_state=np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert len(out) == 5_000
    assert elapsed < 0.5, f"{elapsed:.3f} s"


def test_design_nsga2_uses_the_cap():
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM

    from evodesign.search.algorithm import design_nsga2

    class Space:
        n_var = 4

    algorithm = design_nsga2(Space(), 10, np.full((10, 4), 0.25), SBX(), PM(), max_per_system=3)
    assert isinstance(algorithm.survival, SystemNicheSurvival)
    assert algorithm.survival.max_per_system == 3
    plain = design_nsga2(Space(), 10, np.full((10, 4), 0.25), SBX(), PM())
    assert isinstance(plain.survival, RankAndCrowding)
