"""MagpieFeaturizer against matminer's ElementProperty.from_preset("magpie")."""

from __future__ import annotations

import tarfile
from pathlib import Path

import matminer
import numpy as np
import pandas as pd
import pytest
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition
from sklearn.base import clone

import evodesign.featurizers.magpie as magpie_module
from evodesign.exceptions import DataError
from evodesign.featurizers import MAGPIE_PROPERTIES, MAGPIE_STATS, MagpieFeaturizer

RTOL = 1e-6
# Statistics that are zero in exact arithmetic (avg_dev of one element) are ~1e-14 round-off.
ATOL = 1e-9

# Unary, binary, ternary, quaternary, a five-way tie (mode), a pair tie, a tie only within
# np.isclose, and non-integer amounts.
HAND_PICKED = [
    "Cs",
    "NaCl",
    "Fe2O3",
    "BaTiO3",
    "CuInGaSe2",
    "CrMnFeCoNi",
    "Na1.000001Cl1",
    "Li0.5Co0.25Ni0.25O2",
    "Bi2Te3",
]


@pytest.fixture(scope="module")
def compositions() -> list[Composition]:
    path = Path(matminer.__file__).parent.joinpath(
        "utils", "data_files", "mp_transport", "transport_database.tar.xz"
    )
    with tarfile.open(path) as archive:
        formulas = pd.read_csv(archive.extractfile("transport_database.csv"))["pretty_formula"]
    sample = formulas.drop_duplicates().sample(200, random_state=0).tolist()
    return [Composition(f) for f in sample + HAND_PICKED]


@pytest.fixture(scope="module")
def elements(compositions: list[Composition]) -> list[str]:
    present = {el for c in compositions for el in c.elements}
    return [el.symbol for el in sorted(present, key=lambda el: el.Z)]


@pytest.fixture(scope="module")
def reference() -> ElementProperty:
    featurizer = ElementProperty.from_preset("magpie")
    featurizer.set_n_jobs(1)
    return featurizer


@pytest.fixture(scope="module")
def expected(reference: ElementProperty, compositions: list[Composition]) -> np.ndarray:
    return np.asarray(reference.featurize_many(compositions, pbar=False), dtype=float)


@pytest.fixture(scope="module")
def featurizer(elements: list[str]) -> MagpieFeaturizer:
    return MagpieFeaturizer(elements).fit()


def test_sample_covers_one_to_four_elements(compositions: list[Composition]) -> None:
    assert {1, 2, 3, 4, 5} <= {len(c) for c in compositions}


def test_matches_matminer(
    featurizer: MagpieFeaturizer, compositions: list[Composition], expected: np.ndarray
) -> None:
    got = featurizer.transform_compositions(compositions)
    assert got.shape == (len(compositions), 132)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_matches_matminer_across_chunks_and_shuffled(
    featurizer: MagpieFeaturizer,
    compositions: list[Composition],
    expected: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small chunks put rows of mixed element counts into several groups per chunk.
    monkeypatch.setattr(magpie_module, "_CHUNK_ROWS", 7)
    order = np.random.default_rng(1).permutation(len(compositions))
    X = featurizer.composition_matrix(compositions)[order]
    np.testing.assert_allclose(featurizer.transform(X), expected[order], rtol=RTOL, atol=ATOL)


def test_hand_picked_modes(featurizer: MagpieFeaturizer) -> None:
    labels = featurizer.feature_labels()
    got = featurizer.transform_compositions(["NaCl", "Na1.000001Cl1", "Fe2O3", "CrMnFeCoNi"])
    number_mode = got[:, labels.index("MagpieData mode Number")]
    # Ties go to the smallest value: Na (11) over Cl (17), Cr (24) among Cr..Ni.
    np.testing.assert_array_equal(number_mode, [11, 11, 8, 24])


def test_labels_and_citation_match_matminer(
    featurizer: MagpieFeaturizer, reference: ElementProperty
) -> None:
    assert featurizer.feature_labels() == reference.feature_labels()
    assert featurizer.feature_labels()[0] == "MagpieData minimum Number"
    assert list(featurizer.get_feature_names_out()) == reference.feature_labels()
    assert featurizer.citations() == reference.citations()
    assert len(MAGPIE_PROPERTIES) == 22 and len(MAGPIE_STATS) == 6


def test_table_shape(featurizer: MagpieFeaturizer, elements: list[str]) -> None:
    assert featurizer.table_.shape == (len(elements), 22)
    assert np.isfinite(featurizer.table_).all()


def test_clone_and_params(featurizer: MagpieFeaturizer) -> None:
    copy = clone(featurizer)
    assert not hasattr(copy, "table_")
    assert copy.get_params() == featurizer.get_params()
    X = np.eye(len(featurizer.elements))[:5]
    np.testing.assert_array_equal(copy.fit().transform(X), featurizer.transform(X))


def test_fractions_equal_amounts(featurizer: MagpieFeaturizer) -> None:
    amounts = featurizer.composition_matrix(["Fe2O3", "BaTiO3", "CuInGaSe2"])
    fractions = amounts / amounts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        featurizer.transform(fractions), featurizer.transform(amounts), rtol=1e-12, atol=1e-12
    )
    integers = amounts.astype(np.int64)
    np.testing.assert_array_equal(featurizer.transform(integers), featurizer.transform(amounts))


def test_stats_subset_and_order(featurizer: MagpieFeaturizer) -> None:
    X = featurizer.composition_matrix(["Fe2O3", "NaCl", "Cs", "CuInGaSe2"])
    full = featurizer.transform(X)
    stats = ("mode", "range", "avg_dev")
    properties = ("Electronegativity", "Number")
    subset = MagpieFeaturizer(featurizer.elements, stats=stats, properties=properties).fit()
    labels = featurizer.feature_labels()
    columns = [labels.index(label) for label in subset.feature_labels()]
    np.testing.assert_allclose(subset.transform(X), full[:, columns], rtol=1e-12, atol=1e-12)


def test_float32(featurizer: MagpieFeaturizer, compositions: list[Composition]) -> None:
    f32 = MagpieFeaturizer(featurizer.elements, dtype=np.float32).fit()
    X = featurizer.composition_matrix(compositions)
    got = f32.transform(X)
    assert got.dtype == np.float32 and f32.table_.dtype == np.float32
    np.testing.assert_allclose(got, featurizer.transform(X), rtol=1e-4, atol=1e-3)


def test_empty_batch(featurizer: MagpieFeaturizer) -> None:
    assert featurizer.transform(np.zeros((0, len(featurizer.elements)))).shape == (0, 132)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"O": -1.0, "Fe": 2.0}, r"row 1 of X has amount -1\.0 for element 'O'"),
        ({"O": np.nan}, r"row 1 of X has amount nan for element 'O'"),
        ({"O": np.inf}, r"row 1 of X has amount inf for element 'O'"),
        ({}, r"row 1 of X is all zero"),
    ],
)
def test_bad_rows(featurizer: MagpieFeaturizer, row: dict[str, float], message: str) -> None:
    X = featurizer.composition_matrix(["NaCl", "NaCl"])
    X[1] = 0.0
    for symbol, amount in row.items():
        X[1, featurizer.element_index_[symbol]] = amount
    with pytest.raises(DataError, match=message):
        featurizer.transform(X)


def test_wrong_width(featurizer: MagpieFeaturizer) -> None:
    n = len(featurizer.elements)
    with pytest.raises(DataError, match=rf"X has {n + 1} columns .* n_elements={n}"):
        featurizer.transform(np.ones((3, n + 1)))
    with pytest.raises(DataError, match="must be 2-D"):
        featurizer.transform(np.ones(n))


def test_unknown_element_and_bad_formula() -> None:
    featurizer = MagpieFeaturizer(["Na", "Cl", "O"]).fit()
    with pytest.raises(DataError, match=r"unknown element 'Fe' in composition 1 \('Fe2 O3'\)"):
        featurizer.transform_compositions(["NaCl", "Fe2O3"])
    with pytest.raises(DataError, match=r"composition 0 \('Xx2'\) is not a valid formula"):
        featurizer.transform_compositions(["Xx2"])


def test_bad_hyperparameters() -> None:
    with pytest.raises(DataError, match="unknown element symbol 'Xx'"):
        MagpieFeaturizer(["Na", "Xx"]).fit()
    with pytest.raises(DataError, match=r"duplicates: \['Na'\]"):
        MagpieFeaturizer(["Na", "Na"]).fit()
    with pytest.raises(ValueError, match="unsupported stats"):
        MagpieFeaturizer(["Na"], stats=("median",)).fit()
    with pytest.raises(ValueError, match="unknown Magpie property 'Colour'"):
        MagpieFeaturizer(["Na"], properties=("Colour",)).fit()
    with pytest.raises(ValueError, match="floating"):
        MagpieFeaturizer(["Na"], dtype=np.int64).fit()


def test_transform_before_fit() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MagpieFeaturizer(["Na"]).transform([[1.0]])
