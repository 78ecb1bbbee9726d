from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from evodesign.datasets import MaterialsDataset, load_dataset, load_transport
from evodesign.datasets import transport as transport_module
from evodesign.datasets.transport import LOG10_COLUMNS, RAW_COLUMNS
from evodesign.exceptions import DataError


@pytest.fixture(scope="module")
def data() -> MaterialsDataset:
    return load_transport()


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return transport_module._read(transport_module.transport_file())


def test_counts(data, raw):
    assert len(raw) == data.n_raw_rows == 47_737
    assert raw["pretty_formula"].nunique() == data.report["n_unique_pretty_formulas"] == 34_631
    # "F" (mp-21848, mp-760482) and "F2" share pymatgen's reduced formula "F2"
    assert len(data) == 34_630
    assert data.frame["formula"].is_unique
    assert len(data.elements) == 89
    assert data.elements[:3] == ("H", "He", "Li") and data.elements[-1] == "Pu"
    assert data.frame["n_polymorphs"].sum() == 47_737
    ids = ";".join(data.frame["mp_ids"]).split(";")
    assert len(ids) == len(set(ids)) == 47_737
    assert data.report["n_rows_dropped"] == 0


def test_columns_and_targets(data):
    assert data.targets == RAW_COLUMNS + LOG10_COLUMNS
    assert len(data.targets) == 18
    assert list(data.frame.columns) == [
        "formula", "composition", *RAW_COLUMNS, *LOG10_COLUMNS, "n_polymorphs", "mp_ids"
    ]
    assert "Ricci" in data.source and "170085" in data.source
    assert np.isfinite(data.frame[list(data.targets)].to_numpy()).all()


def test_log10_of_single_polymorph_formulas(data):
    single = data.frame[data.frame["n_polymorphs"] == 1]
    assert len(single) == 34_630 - 5_147
    for column in RAW_COLUMNS:
        if column.startswith("S_"):
            continue
        np.testing.assert_allclose(single[f"log10_{column}"], np.log10(single[column]))


def test_seebeck_stays_signed(data):
    assert "log10_S_p" not in data.frame.columns and "log10_S_n" not in data.frame.columns
    assert (data.frame["S_n"] < 0).mean() > 0.5  # n-type mostly negative
    assert (data.frame["S_p"] > 0).mean() > 0.5
    assert (data.frame["S_p"] < 0).any()


def test_median_over_polymorphs(data, raw):
    frame = data.frame.set_index("formula")
    cs = raw[raw["pretty_formula"] == "Cs"]
    assert len(cs) == frame.loc["Cs", "n_polymorphs"] == 7
    assert frame.loc["Cs", "PF_p"] == pytest.approx(cs["PF_p"].median())
    assert frame.loc["Cs", "mp_ids"] == ";".join(cs["mp_id"])
    # an even count: the log10 column is the median of the logs, not the log of the median
    fluorine = raw[raw["pretty_formula"].isin(["F", "F2"])]
    assert len(fluorine) == frame.loc["F2", "n_polymorphs"] == 4
    assert frame.loc["F2", "sigma_p"] == pytest.approx(fluorine["sigma_p"].median())
    median_of_logs = np.median(np.log10(fluorine["sigma_p"]))
    assert frame.loc["F2", "log10_sigma_p"] == pytest.approx(median_of_logs)
    assert frame.loc["F2", "log10_sigma_p"] != pytest.approx(np.log10(frame.loc["F2", "sigma_p"]))


def test_polymorph_spread_is_reported_without_warning(data):
    assert data.report["n_duplicate_formulas"] == 5_147
    assert data.report["n_rows_merged"] == 47_737 - 34_630
    assert 0 < data.report["conflicting_duplicates"] <= 5_147
    assert len(data.report["conflict_examples"]) == 5


def test_cached_and_copy_safe(data):
    from evodesign.datasets.transport import _load_cached

    hits = _load_cached.cache_info().hits
    again = load_transport()
    assert _load_cached.cache_info().hits == hits + 1  # served from memory, not re-parsed
    again.frame.loc[0, "PF_p"] = -1.0
    again.report["n_rows"] = 0
    fresh = load_transport()
    assert fresh.frame.loc[0, "PF_p"] == data.frame.loc[0, "PF_p"] != -1.0
    assert fresh.report["n_rows"] == 34_630


def test_registry_and_other_aggregate(data):
    by_name = load_dataset("transport")
    pd.testing.assert_frame_equal(by_name.frame, data.frame)
    means = load_dataset("transport", aggregate="mean").frame.set_index("formula")
    medians = data.frame.set_index("formula")
    assert means.loc["Cs", "PF_p"] != pytest.approx(medians.loc["Cs", "PF_p"])
    with pytest.raises(DataError, match="aggregate='mode' is not one of"):
        load_transport(aggregate="mode")


def test_summary(data):
    summary = data.summary()
    assert summary["n_rows"] == 34_630 and summary["n_elements"] == 89
    assert sum(summary["elements_per_formula"].values()) == 34_630
    assert summary["elements_per_formula"][1] == 84
    assert summary["targets"]["PF_p"]["count"] == 34_630


def test_missing_matminer_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install matminer"):
        transport_module.transport_file()


def test_missing_file_says_how_to_reinstall(monkeypatch):
    monkeypatch.setattr(transport_module, "_RELATIVE_PATH", ("utils", "nothing.tar.xz"))
    with pytest.raises(DataError, match="pip install --force-reinstall matminer"):
        transport_module.transport_file()


def test_strict_parser_agrees_with_pymatgen(raw):
    from pymatgen.core import Composition

    from evodesign.datasets.formula import parse_formula

    sample = raw["pretty_formula"].drop_duplicates().sample(2_000, random_state=0)
    for text in sample:
        assert parse_formula(text).reduced_formula == Composition(text).reduced_formula
