from __future__ import annotations

import numpy as np
import pytest
from smact.screening import smact_validity

from evodesign.chemistry import SmactValidity
from evodesign.datasets import load_transport
from evodesign.exceptions import DataError
from evodesign.representation import CompositionSpace


@pytest.fixture(scope="module")
def space() -> CompositionSpace:
    return CompositionSpace(load_transport().elements, max_atoms=20, max_elements=4)


def formula_strings(space, counts):
    return [" ".join(f"{space.elements[j]}{row[j]}" for j in np.flatnonzero(row)) for row in counts]


@pytest.mark.parametrize("include_alloys", [False, True])
def test_equals_smact_on_known_and_random_formulas(space, include_alloys):
    data = load_transport()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(data.frame), 400, replace=False)
    comps = [data.compositions[i] for i in rows]
    atoms = np.array([sum(c.get_el_amt_dict().values()) for c in comps])
    known = np.rint(space.to_vectors(comps) * atoms[:, None]).astype(np.int64)  # up to 8 elements
    raw = np.zeros((400, space.n_var))
    for i in range(400):
        cols = rng.choice(space.n_var, rng.integers(2, 5), replace=False)
        raw[i, cols] = rng.dirichlet(np.ones(len(cols)))
    counts = np.vstack([known, space.decode(raw)])
    expected = np.array(
        [
            smact_validity(f, use_pauling_test=True, include_alloys=include_alloys)
            for f in formula_strings(space, counts)
        ]
    )
    got = SmactValidity(space.elements)(counts, include_alloys=include_alloys)
    np.testing.assert_array_equal(got, expected)
    assert 0.05 < expected[400:].mean() < 0.95  # the sample has both outcomes


def test_examples_and_invariances():
    check = SmactValidity(["O", "Na", "Cl", "Ar", "Fe", "Cu", "Zn"])
    counts = np.array(
        [
            [3, 0, 0, 0, 2, 0, 0],  # Fe2O3: valid
            [6, 0, 0, 0, 4, 0, 0],  # Fe4O6: same formula, same answer
            [0, 1, 2, 0, 0, 0, 0],  # NaCl2: not charge-balanced
            [0, 0, 0, 0, 1, 0, 0],  # Fe: single element passes
            [0, 0, 0, 0, 0, 1, 1],  # CuZn: an alloy, valid only with include_alloys
            [0, 0, 2, 1, 0, 0, 0],  # ArCl2: Ar has no Pauling electronegativity
        ]
    )
    assert check(counts).tolist() == [True, True, False, True, False, False]
    assert check(counts, include_alloys=True).tolist() == [True, True, False, True, True, False]
    assert check(np.zeros((0, 7), dtype=int)).shape == (0,)


def test_bad_input():
    check = SmactValidity(["O", "Fe"])
    with pytest.raises(DataError, match=r"expected counts of shape \(n, 2\)"):
        check([[1, 2, 3]])
    with pytest.raises(DataError, match="non-negative"):
        check([[-1, 2]])


def test_common_oxidation_states_drop_rare_ones_and_keep_thermoelectrics():
    from evodesign.chemistry import SmactValidity
    from evodesign.representation import CompositionSpace

    space = CompositionSpace(["Zn", "F", "Na", "S", "O", "Ge", "Te", "Co", "Sb", "Mg", "Si", "Bi"], max_atoms=20)
    formulas = ["ZnF3", "NaS2O13", "GeTe", "CoSb3", "Mg2Si", "Bi2Te3", "ZnO"]
    counts = space.decode(space.to_vectors(formulas))
    every = dict(zip(formulas, SmactValidity(space.elements)(counts)))
    common = dict(zip(formulas, SmactValidity(space.elements, min_state_share=0.5)(counts)))
    assert every["ZnF3"] and every["NaS2O13"]  # Zn+3, O-1: rare states SMACT lists
    assert not common["ZnF3"] and not common["NaS2O13"]
    assert all(common[f] for f in ("GeTe", "CoSb3", "Mg2Si", "Bi2Te3", "ZnO"))
    with pytest.raises(DataError, match="percentage"):
        SmactValidity(space.elements, min_state_share=100)
