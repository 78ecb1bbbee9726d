from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition

from evodesign.exceptions import DataError
from evodesign.representation import CompositionSpace

ELEMENTS = ["Fe", "O", "Bi", "Te", "Ba", "Ti", "Na", "Cl", "Cu", "In", "Ga", "Se"]


@pytest.fixture()
def space() -> CompositionSpace:
    return CompositionSpace(ELEMENTS, max_atoms=20, max_elements=4)


def vec(space: CompositionSpace, amounts: dict[str, float]) -> np.ndarray:
    x = np.zeros(space.n_var)
    for el, amount in amounts.items():
        x[space.elements.index(el)] = amount
    return x


def test_vocabulary_sorted_by_atomic_number(space):
    assert space.elements[:3] == ("O", "Na", "Cl")
    assert space.n_var == len(ELEMENTS)


@pytest.mark.parametrize(
    ("amounts", "formula"),
    [
        ({"Fe": 0.398, "O": 0.602}, "Fe2O3"),
        ({"Bi": 0.4012, "Te": 0.5988}, "Bi2Te3"),
        ({"Ba": 0.2, "Ti": 0.2, "O": 0.6}, "BaTiO3"),
        ({"Na": 0.5, "Cl": 0.5}, "NaCl"),
        ({"Cu": 1, "In": 0.5, "Ga": 0.5, "Se": 2}, "InGa(CuSe2)2"),  # pymatgen/Materials Project reduced-formula convention
    ],
)
def test_decode_gives_simple_integer_formulas(space, amounts, formula):
    counts = space.decode(vec(space, amounts)[None])
    assert counts.dtype == np.int64
    assert space.formulas(counts) == [formula]


def test_decode_respects_limits_on_random_vectors(space):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, space.n_var))
    counts = space.decode(X)
    assert counts.shape == X.shape
    assert (counts >= 0).all()
    assert ((counts > 0).sum(axis=1) <= space.max_elements).all()
    assert (counts.sum(axis=1) <= space.max_atoms).all()
    assert (counts.sum(axis=1) >= 1).all()
    # reduced: the gcd of every row is 1
    assert (np.gcd.reduce(counts, axis=1) == 1).all()
    # readable: no fractional amounts ever appear in a formula
    for f in space.formulas(counts[:200]):
        assert "." not in f


def test_decode_is_deterministic_and_scale_invariant(space):
    rng = np.random.default_rng(1)
    X = rng.random((500, space.n_var))
    a = space.decode(X)
    assert np.array_equal(a, space.decode(X.copy()))
    assert np.array_equal(a, space.decode(3.7 * X))


def test_round_trip_of_known_integer_formulas(space):
    comps = [Composition(f) for f in ["Fe2O3", "Bi2Te3", "BaTiO3", "NaCl", "CuInSe2", "Na3Cl"]]
    counts = space.decode(space.to_vectors(comps))
    assert space.formulas(counts) == [c.reduced_formula for c in comps]
    assert [c.reduced_formula for c in space.to_compositions(space.to_vectors(comps))] == [
        c.reduced_formula for c in comps
    ]


def test_max_elements_keeps_the_largest_fractions():
    space = CompositionSpace(ELEMENTS, max_atoms=20, max_elements=2)
    counts = space.decode(vec(space, {"Fe": 0.5, "O": 0.4, "Na": 0.1})[None])
    assert space.formulas(counts) == ["Fe5O4"]
    assert (counts > 0).sum() == 2


def test_degenerate_rows_still_decode(space):
    X = np.stack([np.full(space.n_var, -1.0), np.full(space.n_var, np.nan)])
    X[0, space.elements.index("Fe")] = -0.5
    counts = space.decode(X)
    assert space.formulas(counts[:1]) == ["Fe"]
    assert counts[1].sum() == 1


def test_fractions_and_row_ids(space):
    counts = space.decode(space.to_vectors(["Fe2O3", "Fe4O6", "FeO"]))
    np.testing.assert_allclose(space.fractions(counts).sum(axis=1), 1.0)
    ids = space.row_ids(counts)
    assert ids.shape == (3,)
    assert ids[0] == ids[1] and ids[0] != ids[2]
    assert np.isin(ids, ids[2:]).tolist() == [False, False, True]
    assert len(np.unique(ids)) == 2


def test_bad_input_errors(space):
    with pytest.raises(DataError, match=r"element 'Li' of composition 'Li2 O1' \(row 1\)"):
        space.to_vectors(["Fe2O3", "Li2O"])
    with pytest.raises(DataError, match=r"expected vectors of shape \(n, 12\)"):
        space.decode(np.zeros((3, 5)))
    with pytest.raises(DataError, match="unknown element 'Xx'"):
        CompositionSpace(["Fe", "Xx"])
    with pytest.raises(DataError, match="listed twice"):
        CompositionSpace(["Fe", "Fe"])
    with pytest.raises(DataError, match="max_atoms must be >= 1"):
        CompositionSpace(["Fe"], max_atoms=0)


def test_dict_round_trip(space):
    assert CompositionSpace.from_dict(space.to_dict()) == space
    assert CompositionSpace.from_compositions(["Fe2O3", "NaCl"]).elements == ("O", "Na", "Cl", "Fe")


def test_repair_prefers_formulas_that_pass_the_check(space):
    from evodesign.chemistry import SmactValidity

    rng = np.random.default_rng(3)
    X = rng.random((300, space.n_var)) ** 6
    plain = space.decode(X)
    # a check that accepts everything, or nothing, leaves the plain decoding unchanged
    np.testing.assert_array_equal(space.decode(X, check=lambda c: np.ones(len(c), bool)), plain)
    np.testing.assert_array_equal(space.decode(X, check=lambda c: np.zeros(len(c), bool)), plain)

    valid = SmactValidity(space.elements)
    x = vec(space, {"Fe": 0.451, "O": 0.549})[None]  # not exactly a formula (Fe9O11 is)
    assert not valid(space.decode(x))[0]  # Fe4O5 (or similar) is not charge-balanced
    repaired = space.decode(x, check=valid)
    assert valid(repaired)[0]
    # Fe3O4 would need Fe(+8/3): SMACT allows one state per element, so it fails too
    assert space.formulas(repaired)[0] in {"Fe2O3", "FeO"}  # balanced, 0.1 away
    fixed = space.decode(X, check=valid, repair_tol=0.1)
    assert valid(fixed).mean() > valid(plain).mean()
    f_plain, f_fixed = space.fractions(plain), space.fractions(fixed)
    moved = np.abs(f_fixed - f_plain).sum(axis=1)
    assert moved.max() <= 0.1 + 0.1 + 1e-9  # both within repair_tol (+ tol slack) of the best


def test_random_vectors(space):
    rng = np.random.default_rng(0)
    X = space.random_vectors(500, rng, min_elements=2, exclude=["O"])
    np.testing.assert_allclose(X.sum(axis=1), 1.0)
    nnz = (X > 0).sum(axis=1)
    assert nnz.min() == 2 and nnz.max() == 4
    assert (X[:, space.elements.index("O")] == 0).all()
    again = space.random_vectors(500, np.random.default_rng(0), min_elements=2, exclude=["O"])
    np.testing.assert_array_equal(X, again)
    with pytest.raises(DataError, match="min_elements must be in"):
        space.random_vectors(3, rng, min_elements=5)


@pytest.mark.parametrize("with_repair", [False, True])
def test_decoding_is_idempotent_and_exact_formulas_decode_to_themselves(with_repair):
    from evodesign.chemistry import SmactValidity

    elements = ["Li", "B", "O", "F", "Na", "Mg", "Al", "Si", "S", "Cl", "Fe", "Co", "Cu", "Zn", "Te", "Bi", "Ho"]
    space = CompositionSpace(elements, max_atoms=20, max_elements=4)
    repair = SmactValidity(space.elements) if with_repair else None
    rng = np.random.default_rng(1)
    X = space.random_vectors(5000, rng, min_elements=2)
    X = X + rng.random(X.shape) * 0.02 * (X > 0)
    counts = space.decode(X, check=repair)
    np.testing.assert_array_equal(space.decode(space.fractions(counts), check=repair), counts)
    exact = space.to_vectors(["Fe10O9", "Ho2Co17", "Bi2Te3", "Li2B4O7"])
    assert space.formulas(space.decode(exact, check=repair)) == ["Fe10O9", "Ho2Co17", "Bi2Te3", "Li2B4O7"]
