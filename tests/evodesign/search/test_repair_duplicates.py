"""SpaceRepair (Lamarckian snapping to exact formula fractions) and hash-based duplicates."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.optimize import minimize

from evodesign.chemistry import SmactValidity
from evodesign.representation import CompositionSpace
from evodesign.search import HashDuplicateElimination, SpaceRepair, duplicate_mask
from evodesign.search.duplicates import formula_keys

ELEMENTS = ["H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "S", "Cl", "K", "Ca",
            "Ti", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Se", "Sr", "Sn", "Te", "Ba", "Bi"]


@pytest.fixture(scope="module")
def space() -> CompositionSpace:
    return CompositionSpace(ELEMENTS, max_atoms=20, max_elements=4)


def noisy(space: CompositionSpace, n: int, seed: int = 0) -> np.ndarray:
    """`(n, n_var)` operator-like vectors: sparse compositions plus small dense noise."""
    rng = np.random.default_rng(seed)
    return space.random_vectors(n, rng) + 0.01 * rng.random((n, space.n_var))


@pytest.mark.parametrize("check", [None, "smact"])
def test_repair_gives_exact_formula_fractions_and_is_idempotent(space, check):
    check = SmactValidity(space.elements) if check else None
    repair = SpaceRepair(space, check=check)
    X = noisy(space, 2000)
    Y = repair._do(None, X)
    counts = repair.designs(X)
    assert Y.shape == X.shape and Y.dtype == np.float64
    assert np.array_equal(Y, counts / counts.sum(axis=1, keepdims=True))  # exact fractions
    assert np.all((counts > 0).sum(axis=1) <= space.max_elements)
    assert np.all(counts.sum(axis=1) <= space.max_atoms)
    # a repaired row decodes to its own formula, so repairing again changes no bit
    assert np.array_equal(space.decode(Y, check=check), counts)
    assert np.array_equal(repair._do(None, Y), Y)
    # the same formula gives bit-identical rows
    ids = space.row_ids(counts)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    assert np.array_equal(Y, Y[first][inverse.reshape(-1)])


def test_repair_differs_from_one_decode_only_by_shrinking_the_formula(space):
    X = noisy(space, 2000, seed=1)
    once = space.decode(X)
    fixed = SpaceRepair(space).designs(X)
    moved = (once != fixed).any(axis=1)
    assert moved.mean() < 0.2
    assert np.all(fixed[moved].sum(axis=1) < once[moved].sum(axis=1))


def test_repair_keeps_degenerate_rows_well_defined(space):
    X = np.zeros((4, space.n_var))
    X[1] = -1.0
    X[2] = np.nan
    X[3, 5] = 1e-300
    Y = SpaceRepair(space)._do(None, X)
    assert np.all(np.isfinite(Y)) and np.allclose(Y.sum(axis=1), 1.0)
    assert np.array_equal((Y > 0).sum(axis=1), [1, 1, 1, 1])
    assert Y[3, 5] == 1.0
    assert SpaceRepair(space)._do(None, np.zeros((0, space.n_var))).shape == (0, space.n_var)


def test_repair_keeps_the_population_attributes(space):
    X = noisy(space, 6)
    pop = Population.new(X=X)
    pop.set("operator", [f"op{i}" for i in range(6)], "parents", ["a,b"] * 6)
    out = SpaceRepair(space).do(None, pop)
    assert out is pop
    assert list(pop.get("operator")) == [f"op{i}" for i in range(6)]
    assert list(pop.get("parents")) == ["a,b"] * 6
    assert np.array_equal(pop.get("X"), SpaceRepair(space)._do(None, X))
    # plain arrays work too (and are not modified)
    Z = X.copy()
    assert np.array_equal(SpaceRepair(space).do(None, Z), pop.get("X"))
    assert np.array_equal(Z, X)


def test_duplicate_mask_within_and_against_others():
    X = np.array([[0.5, 0.5, 0.0], [0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [-0.0, 1.0, 0.0],
                  [0.0, 1.0, 0.0], [0.5, 0.5, 1e-17]])
    assert duplicate_mask(X).tolist() == [False, False, True, False, True, False]
    others = np.array([[0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])
    assert duplicate_mask(X, others).tolist() == [False, True, True, False, True, False]
    assert duplicate_mask(X, others, to_itself=False).tolist() == [False, True] + [False] * 4
    assert duplicate_mask(np.zeros((0, 3)), others).shape == (0,)
    assert len(set(k.tobytes() for k in formula_keys(X))) == 4


def test_duplicate_mask_agrees_with_exact_comparison(space):
    """No false positives or negatives on many repaired rows with many repeats."""
    rng = np.random.default_rng(3)
    small = CompositionSpace(["Li", "O", "Fe", "S"], max_atoms=6)
    X = SpaceRepair(small)._do(None, small.random_vectors(3000, rng))
    A, B = X[:2000], X[2000:]
    ids_a, ids_b = formula_keys(A), formula_keys(B)
    first = np.zeros(len(A), dtype=bool)
    first[np.unique(ids_a, return_index=True)[1]] = True
    expected = ~first | np.isin(ids_a, ids_b)
    assert 0 < expected.mean() < 1
    assert np.array_equal(duplicate_mask(A, B), expected)


def test_elimination_has_pymoos_semantics(space):
    X = SpaceRepair(space)._do(None, noisy(space, 300, seed=4))
    X = np.vstack([X, X[:50], X[10:20]])  # repeats within
    pop, other = Population.new(X=X[:320]), Population.new(X=X[300:])
    ours, pymoos = HashDuplicateElimination(), DefaultDuplicateElimination()
    for args in [(), (other,), (other, Population.new(X=X[:5]))]:
        kept, keep_idx, dup_idx = ours.do(pop, *args, return_indices=True)
        ref, ref_keep, ref_dup = pymoos.do(pop, *args, return_indices=True)
        assert keep_idx == ref_keep and dup_idx == ref_dup
        assert np.array_equal(kept.get("X"), ref.get("X"))
        for to_itself in (True, False):
            assert np.array_equal(
                ours.do(pop, *args, to_itself=to_itself).get("X"),
                pymoos.do(pop, *args, to_itself=to_itself).get("X"),
            )
    # the protected hook, as pymoo's own do would call it
    marks = ours._do(pop, None, np.zeros(len(pop), dtype=bool))
    assert np.array_equal(marks, pymoos._do(pop, None, np.zeros(len(pop), dtype=bool)))
    assert len(ours.do(Population.new(X=np.zeros((0, space.n_var))), pop)) == 0


def test_elimination_by_decoded_formula_without_repair(space):
    X = np.zeros((3, space.n_var))
    X[0, [0, 5]] = [0.3333, 0.6667]
    X[1, [0, 5]] = [0.334, 0.666]  # same formula (HO2 ratio), different vectors
    X[2, [0, 5]] = [0.5, 0.5]
    pop = Population.new(X=X)
    assert len(HashDuplicateElimination().do(pop)) == 3
    assert len(HashDuplicateElimination(space=space).do(pop)) == 2


class _Trivial(Problem):
    def __init__(self, n_var: int) -> None:
        super().__init__(n_var=n_var, n_obj=2, xl=0.0, xu=1.0)

    def _evaluate(self, X, out, *args, **kwargs):
        out["F"] = np.column_stack([X[:, :10].sum(axis=1), X[:, 10:].sum(axis=1)])


def test_nsga2_with_repair_and_elimination_has_no_duplicate_formulas(space):
    X0 = space.random_vectors(20, np.random.default_rng(0))
    algorithm = NSGA2(
        pop_size=20, sampling=X0, repair=SpaceRepair(space),
        eliminate_duplicates=HashDuplicateElimination(),
    )
    res = minimize(_Trivial(space.n_var), algorithm, ("n_gen", 3), seed=1)
    X = res.pop.get("X")
    assert X.shape == (20, space.n_var)
    counts = space.decode(X)
    assert np.array_equal(space.fractions(counts), X)  # every individual is snapped
    assert len(np.unique(space.row_ids(counts))) == 20
