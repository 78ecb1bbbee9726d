from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from pymatgen.core import Composition

from evodesign.chemistry import SmactValidity
from evodesign.constraints import (
    FAILED_VIOLATION,
    ChargeBalance,
    Constraint,
    DesignBatch,
    ElementFilter,
    KnownSupplyRisk,
    MaxAtoms,
    MaxElements,
    MinElements,
    MissingTargetError,
    NONMETALS,
    NotOnlyNonmetals,
    Novelty,
    PropertyWindow,
    SurrogateTrust,
    evaluate_constraints,
    known_formula_counts,
    nearest_known,
)
from evodesign.constraints.composition import counts_of as batch_counts, empty_rows
from evodesign.exceptions import DataError
from evodesign.properties import SupplyRisk
from evodesign.representation import CompositionSpace

ELEMENTS = ["H", "O", "Na", "Cl", "Fe", "Cu", "Zn", "Te", "Xe", "Pb", "Bi", "S", "Mg", "Si"]


@pytest.fixture(scope="module")
def space() -> CompositionSpace:
    return CompositionSpace(ELEMENTS, max_atoms=20, max_elements=4)


def counts_of(space: CompositionSpace, formulas: list[str]) -> np.ndarray:
    """`(n, n_var)` counts; "" gives an empty row."""
    out = np.zeros((len(formulas), space.n_var), dtype=np.int64)
    for row, formula in enumerate(formulas):
        if formula:
            for el, amount in Composition(formula).get_el_amt_dict().items():
                out[row, space.elements.index(el)] = int(amount)
    return out


def batch_of(space, formulas, **kwargs) -> DesignBatch:
    return DesignBatch.of(counts_of(space, formulas), **kwargs)


def random_counts(space, n, seed=0, max_elements=4):
    rng = np.random.default_rng(seed)
    out = np.zeros((n, space.n_var), dtype=np.int64)
    for row in range(n):
        cols = rng.choice(space.n_var, rng.integers(1, max_elements + 1), replace=False)
        out[row, cols] = rng.integers(1, 7, size=len(cols))
    return out


# ---------------------------------------------------------------------------- batch
def test_design_batch_and_formula_validation(space):
    batch = batch_of(space, ["Fe2O3", ""])
    counts = batch_counts(batch)
    assert counts.dtype == np.int64 and len(batch) == 2
    np.testing.assert_array_equal(empty_rows(counts), [False, True])
    with pytest.raises(DataError, match=r"expected \(2,\)"):
        batch_of(space, ["Fe2O3", "NaCl"], std={"S_p": np.ones(3)})
    # formula constraints refuse designs that are not atom counts, naming what is wrong
    with pytest.raises(DataError, match="non-negative"):
        MaxAtoms(5)(DesignBatch.of(-np.ones((1, space.n_var), dtype=np.int64)))
    with pytest.raises(DataError, match="integers"):
        MaxAtoms(5)(DesignBatch.of(np.full((1, 2), 0.5)))


# ---------------------------------------------------------------------------- charge balance
def test_charge_balance_strict_and_cdvae(space):
    formulas = ["NaCl", "NaCl2", "Fe2O3", "CuZn", "Fe", "Na2Cl2", ""]
    batch = batch_of(space, formulas)
    strict = ChargeBalance(space)(batch)
    cdvae = ChargeBalance(space, mode="cdvae")(batch)
    assert strict.shape == cdvae.shape == (len(formulas), 1)
    np.testing.assert_array_equal(strict[:, 0], [0, 1, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(cdvae[:, 0], [0, 1, 0, 0, 0, 0, 1])
    assert "strict" in ChargeBalance(space).describe()
    with pytest.raises(DataError, match="'strict' or 'cdvae'"):
        ChargeBalance(space, mode="loose")


@pytest.mark.parametrize("cache_size", [0, 7, 200_000])
def test_charge_balance_cache_gives_the_uncached_answers(space, cache_size):
    reference = SmactValidity(space.elements)
    constraint = ChargeBalance(space, cache_size=cache_size)
    for seed in range(3):  # later calls repeat earlier formulas (hits), small caches overflow
        counts = np.vstack([random_counts(space, 60, seed), random_counts(space, 60, 0)])
        expected = np.where(reference(counts), 0.0, 1.0)
        np.testing.assert_array_equal(constraint(DesignBatch.of(counts))[:, 0], expected)
    assert len(constraint._validity) <= cache_size


def test_charge_balance_rejects_another_vocabulary(space):
    with pytest.raises(DataError, match="same composition space"):
        ChargeBalance(space)(DesignBatch.of(np.ones((2, 3), dtype=np.int64)))


# ---------------------------------------------------------------------------- size limits
def test_max_elements_and_max_atoms(space):
    batch = batch_of(space, ["Fe2O3", "Cu2ZnSnS4".replace("Sn", "Si"), "Bi2Te3", ""])
    np.testing.assert_array_equal(MaxElements(3)(batch)[:, 0], [-1, 1, -1, 1])
    np.testing.assert_array_equal(MaxAtoms(5)(batch)[:, 0], [0, 3, 0, 1])
    assert MaxAtoms(20).describe() == "at most 20 atoms per formula unit"
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="positive integer"):
            MaxElements(bad)


# ---------------------------------------------------------------------------- element filter
def test_element_filter_deny_and_allow(space):
    batch = batch_of(space, ["PbTe", "Bi2Te3", "PbS", "Fe2O3", ""])
    deny = ElementFilter(space, deny=["Pb", "Cd", "Hg", "Tl", "As", "Be"])  # Cd... not in space
    np.testing.assert_array_equal(deny(batch)[:, 0], [1, 0, 1, 0, 1])
    assert deny.forbidden == ("Pb",)
    allow = ElementFilter(space, allow=["Te", "Bi", "S", "Pb"], deny=["Pb"])
    np.testing.assert_array_equal(allow(batch)[:, 0], [1, 0, 1, 2, 1])
    assert "only Te, Bi, S, Pb" in allow.describe() and "no Pb" in allow.describe()
    np.testing.assert_array_equal(ElementFilter(space)(batch)[:, 0], [0, 0, 0, 0, 1])


def test_element_filter_errors_list_valid_symbols(space):
    with pytest.raises(DataError, match="'Xx'") as err:
        ElementFilter(space, deny=["Pb", "Xx"])
    assert "Fe, Cu" in str(err.value)  # the space's elements are listed
    with pytest.raises(DataError, match="did you mean") as err:
        ElementFilter(space, allow=["Fe", "pb"])
    assert "Pb" in str(err.value)
    with pytest.raises(DataError, match="not in the search space") as err:
        ElementFilter(space, allow=["Fe", "Cd"])
    assert "Cd" in str(err.value) and "Bi" in str(err.value)
    with pytest.raises(DataError, match="empty"):
        ElementFilter(space, allow=[])
    with pytest.raises(DataError, match="lists of element symbols"):
        ElementFilter(space, deny="Pb")


# ---------------------------------------------------------------------------- supply risk
def test_known_supply_risk(space):
    hhi = SupplyRisk(space)
    constraint = KnownSupplyRisk(hhi)
    batch = batch_of(space, ["NaCl", "H2O", "XeH2", ""])
    np.testing.assert_array_equal(constraint(batch)[:, 0], [0, 1, 2, 1])
    assert constraint.labels() == ["known_hhi_production"]
    assert "H, Xe" in constraint.describe()
    feasible = constraint(batch)[:, 0] <= 0
    assert np.isfinite(hhi(batch.designs)[feasible]).all()


# ---------------------------------------------------------------------------- novelty
def test_novelty_on_reduced_formulas(space):
    known = ["Fe2O3", "NaCl", "Bi2Te3", "CdTe", "Fe0.5O0.5"]  # CdTe: outside the space
    novelty = Novelty(space, known)
    np.testing.assert_array_equal(novelty.known_index, [0, 1, 2, 4])
    batch = batch_of(space, ["Fe4O6", "NaCl2", "NaCl", "FeO", "BiTe", ""])
    np.testing.assert_array_equal(novelty(batch)[:, 0], [1, 0, 1, 1, 0, 1])
    # the same known formulas given as counts
    as_counts = Novelty(space, counts_of(space, ["Fe2O3", "Na2Cl2", "Bi2Te3", "FeO"]))
    np.testing.assert_array_equal(as_counts(batch), novelty(batch))
    assert "4 known" in novelty.describe()
    nothing = Novelty(space, [])
    np.testing.assert_array_equal(nothing(batch)[:, 0], [0, 0, 0, 0, 0, 1])


def test_known_formula_counts_integerizes_and_checks(space):
    counts, index = known_formula_counts(space, ["Bi0.5Te0.75", "Fe2O3"])
    assert counts.tolist() == counts_of(space, ["Bi2Te3", "Fe2O3"]).tolist()
    np.testing.assert_array_equal(index, [0, 1])
    with pytest.raises(DataError, match="row 1"):
        known_formula_counts(space, ["Fe2O3", "Fe2Q3"])
    with pytest.raises(DataError, match="shape"):
        known_formula_counts(space, np.ones((2, 3), dtype=np.int64))
    with pytest.raises(DataError, match="integers"):
        known_formula_counts(space, np.full((1, space.n_var), 0.5))


def brute_force_nearest(designs, known):
    a = designs / designs.sum(axis=1, keepdims=True)
    b = known / known.sum(axis=1, keepdims=True)
    dist = np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2)
    return dist.argmin(axis=1), dist.min(axis=1)


@pytest.mark.parametrize("max_bytes", [1, 10_000, 64 * 2**20])  # 1: one row per chunk
def test_nearest_known_matches_brute_force(space, max_bytes):
    designs = random_counts(space, 80, seed=3)
    known = np.vstack([random_counts(space, 150, seed=4, max_elements=6), designs[:5] * 2])
    index, distance = nearest_known(space, designs, known, max_bytes=max_bytes)
    expected_index, expected_distance = brute_force_nearest(designs, known)
    np.testing.assert_allclose(distance, expected_distance, atol=1e-12)
    a = designs / designs.sum(axis=1, keepdims=True)
    b = known[index] / known[index].sum(axis=1, keepdims=True)
    chosen = np.abs(a - b).sum(axis=1)
    np.testing.assert_allclose(chosen, expected_distance, atol=1e-12)  # ties may differ
    np.testing.assert_allclose(distance[:5], 0.0, atol=1e-12)
    assert index.dtype == np.int64 and ((distance >= 0) & (distance <= 2)).all()


def test_nearest_known_empty_rows_and_original_indices(space):
    novelty = Novelty(space, ["CdTe", "Fe2O3", "NaCl"])  # CdTe skipped, indices still 1, 2
    index, distance = novelty.nearest(counts_of(space, ["Na2Cl2", "Fe3O4", ""]))
    np.testing.assert_array_equal(index, [2, 1, -1])
    assert distance[0] == pytest.approx(0.0, abs=1e-12) and np.isnan(distance[2])
    assert distance[1] == pytest.approx(2 * abs(3 / 7 - 2 / 5))
    with pytest.raises(DataError, match="no known"):
        nearest_known(space, counts_of(space, ["NaCl"]), np.zeros((0, space.n_var)))


# ---------------------------------------------------------------------------- surrogates
def test_surrogate_trust(space):
    constraint = SurrogateTrust({"S_p": 20.0, "log10_PF_p": 0.3})
    std = {
        "S_p": np.array([10.0, 30.0, 10.0, np.nan]),
        "log10_PF_p": np.array([0.1, 0.1, 0.5, 0.1]),
    }
    batch = batch_of(space, ["NaCl", "NaCl", "NaCl", "NaCl"], std=std, mean={"S_p": np.zeros(4)})
    np.testing.assert_allclose(constraint(batch)[:, 0], [-0.2, 10.0, 0.2, FAILED_VIOLATION])
    assert "std(S_p) <= 20" in constraint.describe()
    with pytest.raises(MissingTargetError, match=r"\['kappa_p'\].*\['S_p', 'log10_PF_p'\]"):
        SurrogateTrust({"kappa_p": 1.0})(batch)
    with pytest.raises(KeyError):  # MissingTargetError is a KeyError
        SurrogateTrust({"kappa_p": 1.0})(batch)
    with pytest.raises(DataError, match="positive"):
        SurrogateTrust({"S_p": -1.0})
    with pytest.raises(DataError, match="at least one"):
        SurrogateTrust({})


# ---------------------------------------------------------------------------- all together
def all_constraints(space):
    return [
        ChargeBalance(space),
        MaxElements(4),
        MaxAtoms(20),
        ElementFilter(space, deny=["Pb"]),
        Novelty(space, ["NaCl", "Fe2O3"]),
        SurrogateTrust({"S_p": 1.0}),
        KnownSupplyRisk(SupplyRisk(space)),
    ]


def test_evaluate_constraints_shapes_labels_and_finite(space):
    counts = np.vstack([random_counts(space, 40, seed=5), np.zeros((2, space.n_var), np.int64)])
    std = {"S_p": np.where(np.arange(42) % 3 == 0, np.nan, 0.5)}
    batch = DesignBatch.of(counts, std=std)
    constraints = all_constraints(space)
    G, labels = evaluate_constraints(constraints, batch)
    assert G.shape == (42, 7) and G.dtype == np.float64
    assert labels == [
        "charge_balance",
        "max_elements",
        "max_atoms",
        "element_filter",
        "novelty",
        "surrogate_trust",
        "known_hhi_production",
    ]
    assert np.isfinite(G).all()
    formula_columns = [i for i, label in enumerate(labels) if label != "surrogate_trust"]
    assert (G[-2:, formula_columns] == 1).all()  # empty rows violate every formula rule
    for constraint in constraints:
        assert isinstance(constraint.describe(), str) and constraint.describe()
        assert constraint(batch).shape == (42, len(constraint.labels()))
    empty_batch = DesignBatch.of(np.zeros((0, space.n_var), np.int64), std={"S_p": []})
    G0, _ = evaluate_constraints(constraints, empty_batch)
    assert G0.shape == (0, 7)
    G_none, labels_none = evaluate_constraints([], batch)
    assert G_none.shape == (42, 0) and labels_none == []
    with pytest.raises(ValueError, match="max_atoms"):
        evaluate_constraints([MaxAtoms(10), MaxAtoms(20)], batch)


class _Broken(Constraint):
    name = "broken"

    def describe(self) -> str:
        return "returns NaN and inf"

    def _evaluate(self, batch):
        return np.array([np.nan, np.inf, -np.inf, 0.5])[: len(batch)]


def test_non_finite_values_become_failed_violations(space):
    batch = batch_of(space, ["NaCl"] * 4)
    np.testing.assert_array_equal(
        _Broken()(batch)[:, 0], [FAILED_VIOLATION, FAILED_VIOLATION, FAILED_VIOLATION, 0.5]
    )
    with pytest.raises(ValueError, match="shape"):
        _Broken()(batch_of(space, ["NaCl"] * 5))


# ---------------------------------------------------------------------------- plausibility
def test_min_elements(space):
    G = MinElements(2)(batch_of(space, ["Fe", "S", "NaCl", "NaFeClO", ""]))[:, 0]
    np.testing.assert_array_equal(G, [1, 1, 0, -2, 1])
    assert MinElements(2).describe() == "at least 2 elements per formula"
    with pytest.raises(DataError, match="min_elements must be a positive integer"):
        MinElements(0)


def test_not_only_nonmetals(space):
    # non-metals only (molecular): fail; any metal or metalloid (Si, Te): pass
    formulas = ["SO2", "S", "H2O", "XeO3", "ClO2", "NaCl", "SiO2", "TeO2", "Fe2O3", "SiH4", ""]
    G = NotOnlyNonmetals(space)(batch_of(space, formulas))[:, 0]
    np.testing.assert_array_equal(G, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1])
    assert {"H", "He", "C", "N", "O", "F", "P", "S", "Se", "Xe"} <= set(NONMETALS)
    assert not {"B", "Si", "Ge", "As", "Sb", "Te", "Fe", "Na"} & set(NONMETALS)


# ---------------------------------------------------------------------------- windows
def window_batch(space, mean, std):
    n = len(mean)
    return batch_of(space, ["NaCl"] * n, mean={"S_p": mean}, std={"S_p": std})


def test_window_inside_outside_edge_graded_by_scale(space):
    window = PropertyWindow("S_p", 100.0, 300.0, scale=50.0)
    G = window(window_batch(space, [50.0, 100.0, 150.0, 200.0, 300.0, 400.0], [0.0] * 6))[:, 0]
    # distance to the nearer bound in units of 50 uV/K; edges count as inside (G = 0)
    np.testing.assert_allclose(G, [1.0, 0.0, -1.0, -2.0, 0.0, 2.0])
    assert window.labels() == ["range_S_p"]
    assert window.describe() == "S_p in [100, 300] µV/K with probability >= 0.5"


def test_window_confidence_uses_the_std(space):
    z = NormalDist().inv_cdf(0.9)
    window = PropertyWindow("S_p", 100.0, 300.0, confidence=0.9, scale=1.0)
    G = window(window_batch(space, [150.0, 150.0, 290.0], [10.0, 50.0, 0.0]))[:, 0]
    np.testing.assert_allclose(G, [max(100 - (150 - 10 * z), 150 + 10 * z - 300),
                                   100 - (150 - 50 * z), -10.0])
    assert G[0] < 0 < G[1]  # same mean: the wider prediction fails at 90%
    # at 0.5 the std does not matter; below 0.5 it is lenient
    half = PropertyWindow("S_p", 100.0, 300.0, confidence=0.5)
    assert half(window_batch(space, [150.0], [50.0]))[0, 0] == -50.0
    lenient = PropertyWindow("S_p", 100.0, 300.0, confidence=0.1)
    assert lenient(window_batch(space, [90.0], [50.0]))[0, 0] < 0


def test_window_infinite_bounds_and_failures(space):
    window = PropertyWindow("S_p", 100.0, np.inf, scale=10.0)
    G = window(window_batch(space, [1e9, 100.0, 90.0, np.nan], [1.0, 1.0, 1.0, 1.0]))[:, 0]
    np.testing.assert_allclose(G, [-(1e9 - 100) / 10, 0.0, 1.0, FAILED_VIOLATION])
    assert window.describe() == "S_p in [100, inf) µV/K with probability >= 0.5"
    upper = PropertyWindow("x", -np.inf, 3.0)
    assert upper.describe() == "x in (-inf, 3] with probability >= 0.5"
    b = DesignBatch.of([[1, 1]] * 2, mean={"x": [2.0, 4.0]}, std={"x": [0.0, 0.0]})
    np.testing.assert_allclose(upper(b)[:, 0], [-1.0, 1.0])
    with pytest.raises(MissingTargetError, match="window on 'S_p'"):
        window(DesignBatch.of([[1, 1]]))


def test_window_on_an_analytic_property(space):
    hhi = SupplyRisk(space.elements, kind="production")
    batch = batch_of(space, ["NaCl", "Fe2O3", "Bi2Te3"], std={"hhi_production": [1e9] * 3})
    values = hhi(batch.designs)
    window = PropertyWindow("hhi_production", -np.inf, 2000.0, confidence=0.9, scale=1000.0,
                            analytic=hhi)
    # std 0 for an analytic property: the confidence does not widen anything
    np.testing.assert_allclose(window(batch)[:, 0], (values - 2000.0) / 1000.0)
    assert window.describe() == "hhi_production in (-inf, 2000] with probability >= 0.9"


def test_window_validation():
    with pytest.raises(DataError, match="low < high"):
        PropertyWindow("S_p", 300.0, 100.0)
    with pytest.raises(DataError, match="low < high"):
        PropertyWindow("S_p", 100.0, 100.0)
    with pytest.raises(DataError, match="NaN"):
        PropertyWindow("S_p", np.nan, 100.0)
    with pytest.raises(DataError, match="at least one finite bound"):
        PropertyWindow("S_p", -np.inf, np.inf)
    for c in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(DataError, match="strictly between 0 and 1"):
            PropertyWindow("S_p", 100.0, np.inf, confidence=c)
    with pytest.raises(DataError, match="scale"):
        PropertyWindow("S_p", 100.0, np.inf, scale=0.0)
