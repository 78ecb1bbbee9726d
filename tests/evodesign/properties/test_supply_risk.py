from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.hhi import HHIModel
from pymatgen.core import Composition, Element

from evodesign.exceptions import DataError
from evodesign.properties import SupplyRisk
from evodesign.representation import CompositionSpace

# H .. Pu: every element pymatgen's HHI file has, plus the ones it lacks (H, noble gases, ...)
SYMBOLS = [Element.from_Z(z).symbol for z in range(1, 95)]
KNOWN = ["Fe2O3", "Bi2Te3", "NaCl", "PbTe", "Cu2ZnSnS4", "SiGe", "Mg2Si", "CoSb3", "ZnO", "Si"]
WITHOUT_DATA = ["H2O", "XeF2", "NaH", "UO2", "KrF2", "TcO2", "ThO2", "Ne", "LiAlH4"]


def _counts(formulas: list[str]) -> np.ndarray:
    index = {s: i for i, s in enumerate(SYMBOLS)}
    out = np.zeros((len(formulas), len(SYMBOLS)), dtype=np.int64)
    for row, formula in enumerate(formulas):
        for el, amount in Composition(formula).get_el_amt_dict().items():
            out[row, index[el]] = int(amount)
    return out


def _random_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros((n, len(SYMBOLS)), dtype=np.int64)
    for row in range(n):
        cols = rng.choice(len(SYMBOLS), rng.integers(1, 5), replace=False)
        out[row, cols] = rng.integers(1, 9, size=len(cols))
    return out


def _formula(counts_row: np.ndarray) -> str:
    return " ".join(f"{SYMBOLS[j]}{counts_row[j]}" for j in np.flatnonzero(counts_row))


@pytest.mark.parametrize("kind", ["production", "reserve"])
def test_equals_pymatgen_on_known_and_random_formulas(kind):
    counts = np.vstack(
        [_counts(KNOWN + WITHOUT_DATA), _random_counts(np.random.default_rng(0), 300)]
    )
    model = HHIModel()
    getter = model.get_hhi_production if kind == "production" else model.get_hhi_reserve
    expected = np.array(
        [np.nan if (v := getter(_formula(row))) is None else v for row in counts], dtype=float
    )
    hhi = SupplyRisk(SYMBOLS, kind=kind)
    got = hhi(counts)
    assert got.shape == (len(counts),)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert np.isnan(got[len(KNOWN) : len(KNOWN) + len(WITHOUT_DATA)]).all()
    assert 0.1 < np.isnan(expected).mean() < 0.9  # the random rows exercise both branches
    np.testing.assert_array_equal(hhi.missing_mask(counts), np.isnan(expected))


def test_fractions_give_the_same_values_as_counts():
    counts = _random_counts(np.random.default_rng(1), 50)
    hhi = SupplyRisk(SYMBOLS)
    fractions = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(hhi(fractions), hhi(counts), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(hhi(counts * 3), hhi(counts), rtol=1e-12, equal_nan=True)


def test_names_tables_and_missing_elements():
    space = CompositionSpace(["Xe", "O", "Fe", "H", "Te"])
    hhi = SupplyRisk(space, kind="reserve")  # a space gives its elements
    assert hhi.name == "hhi_reserve" and hhi.direction == "min"
    assert SupplyRisk(space).name == "hhi_production"
    assert hhi.elements == space.elements == ("H", "O", "Fe", "Te", "Xe")
    assert hhi.missing_elements == ("H", "Xe")
    assert hhi.hhi.shape == hhi.atomic_mass.shape == (5,)
    assert np.isnan(hhi.hhi[[0, 4]]).all() and np.isfinite(hhi.hhi[1:4]).all()
    assert "reserve" in hhi.describe()
    counts = np.array([[0, 3, 2, 0, 0], [2, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1]])
    np.testing.assert_array_equal(hhi.missing_mask(counts), [False, True, False, True])
    np.testing.assert_array_equal(hhi.n_missing(counts), [0, 1, 0, 2])
    values = hhi(counts)
    assert np.isfinite(values[0]) and np.isnan(values[1:]).all()  # empty row: NaN, not 0


def test_errors():
    with pytest.raises(DataError, match="production"):
        SupplyRisk(["Fe"], kind="mining")
    with pytest.raises(DataError, match="Xx"):
        SupplyRisk(["Fe", "Xx"])
    hhi = SupplyRisk(["O", "Fe"])
    with pytest.raises(DataError, match=r"\(n, 2\)"):
        hhi(np.ones((3, 3)))
    with pytest.raises(DataError, match="non-negative"):
        hhi([[1, -1]])
