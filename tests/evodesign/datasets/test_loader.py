from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition

from evodesign.datasets import (
    MaterialsDataset,
    from_frame,
    list_datasets,
    load_csv,
    load_dataset,
)
from evodesign.datasets.formula import MAX_ATOMS_PER_FORMULA_UNIT
from evodesign.exceptions import DataError

GOOD = """formula,band_gap,PF_p,mp_id
Fe2O3,2.0,1.5,mp-19770
Na,0.0,3.0,mp-127
Ca(OH)2,5.0,0.5,mp-23879
Fe2 O3,2.0,1.5,mp-24
LiCoO2,2.5,7.0,mp-22526
"""


def csv_with(cell: str, column: str = "formula") -> str:
    """A small CSV whose second data row (line 3) has ``cell`` in ``column``."""
    rows = [["Fe2O3", "1.0"], ["NaCl", "2.0"], ["MgO", "3.0"]]
    rows[1][0 if column == "formula" else 1] = cell
    return "formula,PF_p\n" + "".join(f"{a},{b}\n" for a, b in rows)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------- good input


def test_round_trip(write_csv, tmp_path):
    path = write_csv(GOOD)
    data = load_csv(path)
    assert isinstance(data, MaterialsDataset)
    assert data.name == "data"
    assert data.targets == ("band_gap", "PF_p")
    assert data.report["ignored_columns"] == ["mp_id"]
    assert list(data.frame.columns) == ["formula", "composition", "band_gap", "PF_p"]
    # "Fe2 O3" (pymatgen's own spelling) merges with "Fe2O3"; first-appearance order kept
    assert data.formulas.tolist() == ["Fe2O3", "Na", "Ca(HO)2", "LiCoO2"]
    assert data.compositions[2] == Composition("Ca(OH)2")
    assert data.frame["PF_p"].tolist() == [1.5, 3.0, 0.5, 7.0]
    assert data.n_raw_rows == 5 and len(data) == 4
    assert data.report["n_duplicate_formulas"] == 1
    assert data.report["conflicting_duplicates"] == 0
    assert data.elements == ("H", "Li", "O", "Na", "Ca", "Fe", "Co")  # by atomic number
    summary = data.summary()
    assert summary["n_rows"] == 4 and summary["n_raw_rows"] == 5
    assert summary["n_elements"] == 7
    assert summary["elements_per_formula"] == {1: 1, 2: 1, 3: 2}
    assert summary["targets"]["PF_p"]["median"] == pytest.approx(2.25)
    assert set(summary["targets"]["PF_p"]) == {"count", "mean", "std", "min", "median", "max"}
    # nothing is written next to the input
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]


def test_explicit_targets_and_name(write_csv):
    data = load_csv(write_csv(GOOD), targets="PF_p", name="mine")
    assert data.targets == ("PF_p",) and data.name == "mine"
    assert list(data.frame.columns) == ["formula", "composition", "PF_p"]


def test_other_formula_column_and_padded_header(write_csv):
    data = load_csv(write_csv("id, compound, y\n1, Fe2O3 , 2.5\n"), formula_column="compound")
    assert data.formulas.tolist() == ["Fe2O3"]
    assert data.targets == ("id", "y")


def test_sodium_loads_but_NA_is_an_invalid_formula(write_csv):
    assert load_csv(write_csv("formula,y\nNa,1\nNaCl,2\n")).formulas.tolist() == ["Na", "NaCl"]
    message = error_of(load_csv, write_csv(csv_with("NA")))
    assert "data.csv, row 2 (line 3), column 'formula'" in message
    assert "invalid formula 'NA'" in message
    assert "did you mean 'Na'?" in message


# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Xx2O3", ["invalid formula 'Xx2O3'", "unknown element 'Xx'"]),
        ("Fe0O3", ["zero amount 0 of 'Fe'", "must be positive"]),
        ("Fe1e-30O3", ["zero amount 1e-30 of 'Fe'"]),
        ("Fe-2O3", ["negative amount -2 of 'Fe'"]),
        ("Fe1e400O3", ["amount 1e400 of 'Fe' is too large", "1e+06 atoms per formula unit"]),
        ("Fe1e30O3", ["amount 1e30 of 'Fe' is too large"]),
        ("Fe(O1000)2000", ["2e+06 atoms per formula unit exceeds the limit"]),
        ("fe2o3", ["capital letter", "did you mean 'Fe2O3'?"]),
        ("FE2O3", ["unknown element 'E'", "did you mean 'Fe2O3'?"]),
        ("co", ["did you mean 'Co' or 'CO'?"]),
        ("Fe2O3)", ["unbalanced parentheses", "')' without a matching '('"]),
        ("(Fe2O3", ["'(' without a matching ')'"]),
        ("Fe2 O3 !!", ["invalid formula 'Fe2 O3 !!'", "'!' are not allowed", "'Fe2O3'"]),
        ("Fe 2O3", ["spaces inside an element token", "did you mean 'Fe2O3'?"]),
        ("Fe2O3+", ["like 'Fe2O3' or 'Ca(OH)2'"]),
        ("D2O", ["unknown element 'D'", "write H"]),
        ("NaN", ["invalid formula 'NaN'", "missing-value marker"]),
        ("None", ["invalid formula 'None'", "missing-value marker"]),
        ("", ["empty formula"]),
    ],
)
def test_invalid_formula_names_file_row_line_column(write_csv, cell, expected):
    message = error_of(load_csv, write_csv(csv_with(cell)))
    assert "data.csv, row 2 (line 3), column 'formula': " in message
    for part in expected:
        assert part in message


def test_limit_is_documented_value():
    assert MAX_ATOMS_PER_FORMULA_UNIT == 1e6


def test_every_unique_bad_formula_is_counted(write_csv):
    text = "formula,y\nFe2O3,1\nXx,2\nYy,3\nXx,4\n"
    message = error_of(load_csv, write_csv(text))
    assert "row 2 (line 3)" in message and "unknown element 'Xx'" in message
    assert "2 more rows with invalid formulas in this column: rows 3, 4" in message


def test_line_numbers_follow_blank_lines_and_multiline_cells(write_csv):
    text = 'formula,note,y\n\nFe2O3,"two\nlines",1\n\nXx2O3,x,2\n'
    message = error_of(load_csv, write_csv(text), targets=["y"])
    assert "data.csv, row 2 (line 6), column 'formula'" in message


# ---------------------------------------------------------------- files and columns


def test_missing_file_names_path_and_suggests(write_csv, tmp_path):
    write_csv(GOOD, name="data.csv")
    message = error_of(load_csv, tmp_path / "dta.csv")
    assert f"file not found: '{tmp_path / 'dta.csv'}'" in message
    assert "did you mean" in message and "data.csv" in message


def test_directory_is_not_a_file(tmp_path):
    assert "is a directory" in error_of(load_csv, tmp_path)


def test_empty_file(write_csv):
    message = error_of(load_csv, write_csv("", name="empty.csv"))
    assert "empty.csv is empty (0 bytes)" in message
    assert "'formula' column" in message


def test_blank_lines_only(write_csv):
    assert "has no header line" in error_of(load_csv, write_csv("\n\n", name="blank.csv"))


def test_header_only(write_csv):
    message = error_of(load_csv, write_csv("formula,PF_p\n", name="header.csv"))
    assert "header.csv has a header line but no data rows" in message
    assert "'formula', 'PF_p'" in message


def test_misspelled_target_lists_columns_and_suggests(write_csv):
    path = write_csv("formula,PF_p,PF_n,S_p\nFe2O3,1,2,3\n")
    message = error_of(load_csv, path, targets=["PF_P"])
    assert f"column 'PF_P' not found in {path}; did you mean 'PF_p'" in message
    assert "available: 'formula', 'PF_p', 'PF_n', 'S_p'" in message


def test_missing_formula_column_suggests(write_csv):
    message = error_of(load_csv, write_csv("Formula,y\nFe2O3,1\n"))
    assert "formula column 'formula' not found" in message
    assert "did you mean 'Formula'?" in message


def test_semicolon_file_gets_a_separator_hint(write_csv):
    message = error_of(load_csv, write_csv("formula;y\nFe2O3;1\n"))
    assert "separated by something else than commas" in message


def test_bad_options(write_csv):
    path = write_csv(GOOD)
    assert "one of 'drop', 'raise'" in error_of(load_csv, path, on_invalid_target="skip")
    assert "one of 'median', 'mean'" in error_of(load_csv, path, aggregate="mode")
    assert "cannot be a target" in error_of(load_csv, path, targets=["formula"])
    assert "more than once" in error_of(load_csv, path, targets=["PF_p", "PF_p"])


# ---------------------------------------------------------------- targets


def test_non_numeric_target(write_csv):
    message = error_of(load_csv, write_csv(csv_with("abc", column="PF_p")), targets=["PF_p"])
    assert "data.csv, row 2 (line 3), column 'PF_p': non-numeric value 'abc'" in message
    assert "must be a number" in message


def test_non_numeric_target_in_inferred_column(write_csv):
    # one typo in a column of numbers still makes it a target, so the typo is caught
    message = error_of(load_csv, write_csv(csv_with("1,5", column="PF_p").replace("1,5", '"1,5"')))
    assert "column 'PF_p': non-numeric value '1,5'" in message


NAN_CSV = "formula,PF_p,S_p\nFe2O3,1,10\nNaCl,NaN,20\nMgO,NA,\nZnO,4,40\nCuO,,50\n"


def test_invalid_targets_dropped_with_warning_and_report(write_csv):
    with pytest.warns(UserWarning, match=r"dropped 3 of 5 rows .*PF_p: 3, S_p: 1"):
        data = load_csv(write_csv(NAN_CSV))
    assert data.formulas.tolist() == ["Fe2O3", "ZnO"]
    assert data.report["dropped_invalid_target"] == {"PF_p": 3, "S_p": 1}
    assert data.report["n_rows_dropped"] == 3
    assert np.isfinite(data.frame[list(data.targets)].to_numpy()).all()


def test_invalid_targets_raise(write_csv):
    message = error_of(load_csv, write_csv(NAN_CSV), on_invalid_target="raise")
    assert "data.csv, row 2 (line 3), column 'PF_p': target value 'NaN' is missing" in message
    assert "on_invalid_target='drop'" in message
    assert "2 more rows" in message


@pytest.mark.parametrize("on_invalid_target", ["drop", "raise"])
def test_infinite_target_is_refused_not_dropped(write_csv, on_invalid_target):
    message = error_of(
        load_csv, write_csv("formula,y\nFe2O3,1\nMgO,1e400\n"), on_invalid_target=on_invalid_target
    )
    assert "data.csv, row 2 (line 3), column 'y': target value '1e400' is infinite" in message
    message = error_of(load_csv, write_csv("formula,y\nFe2O3,1\nMgO,-inf\n"))
    assert "row 2 (line 3), column 'y': target value '-inf' is infinite" in message


def test_absurdly_large_target_is_refused_naming_file_row_and_column(write_csv):
    # 1e308 is finite, but its square is not: the surrogate's scale would become inf
    path = write_csv("formula,PF_p,S_p\nFe2O3,1,2\n\nMgO,1e308,3\nZnO,-2e200,4\nCuO,5,inf\n")
    message = error_of(load_csv, path)
    assert "data.csv, row 2 (line 4), column 'PF_p': target value '1e308'" in message
    assert "between -1e150 and 1e150" in message
    assert "1 more rows with such values in this column: rows 3" in message
    assert "other columns with such values: ['S_p']" in message
    # the bound itself is fine, and so is a DataFrame near it
    assert load_csv(write_csv("formula,y\nFe2O3,1e150\nMgO,-1e150\n")).frame["y"].abs().max() == 1e150
    df = pd.DataFrame({"formula": ["Fe2O3", "MgO"], "y": [1.0, 1e151]})
    assert "DataFrame, row 2, column 'y': target value 1e+151 is larger in magnitude" in error_of(from_frame, df)


def test_all_rows_invalid(write_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        message = error_of(load_csv, write_csv("formula,y,z\nFe2O3,NA,1\nMgO,2,\n"), targets=["y", "z"])
    assert "every row has a missing target (y: 1, z: 1)" in message


def test_named_target_column_without_values_is_refused_by_name(write_csv):
    message = error_of(load_csv, write_csv("formula,y,z\nFe2O3,NA,1\nMgO,,2\n"), targets=["y", "z"])
    assert "target column 'y' in" in message and "data.csv has no values: all 2 cells" in message
    df = pd.DataFrame({"formula": ["Fe2O3", "MgO"], "band_gap": [math.nan, math.nan], "z": [1.0, 2.0]})
    assert "target column 'band_gap' in DataFrame has no values" in error_of(from_frame, df)


def test_column_without_numbers_is_not_inferred_as_target(write_csv):
    data = load_csv(write_csv("formula,y,z,note\nFe2O3,NA,1,a\nMgO,,2,\n"))
    assert data.targets == ("z",) and data.report["ignored_columns"] == ["y", "note"]
    # an all-empty column is reported as such (a campaign that asks for it names it)
    assert data.report["empty_columns"] == ["y"]


# ---------------------------------------------------------------- duplicates


def test_equal_duplicates_merge_silently(write_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_csv(write_csv("formula,y\nFe2O3,1.0\nFe4O6,1.005\nMgO,2\n"))
    assert data.formulas.tolist() == ["Fe2O3", "MgO"]
    assert data.report["n_duplicate_formulas"] == 1
    assert data.report["n_rows_merged"] == 1
    assert data.report["conflicting_duplicates"] == 0  # 0.5 % apart: within the 1 % rule


def test_conflicting_duplicates_median_report_and_warning(write_csv):
    text = "formula,y,z\nFe2O3,1,5\nMgO,7,7\nFe4O6,2,5\nFe6O9,10,5\n"
    with pytest.warns(UserWarning, match="1 formulas appear in several rows"):
        data = load_csv(write_csv(text))
    assert data.frame.set_index("formula").loc["Fe2O3", "y"] == 2.0  # median of 1, 2, 10
    report = data.report
    assert report["n_duplicate_formulas"] == 1 and report["n_rows_merged"] == 2
    assert report["conflicting_duplicates"] == 1
    assert report["conflicting_duplicates_by_column"] == {"y": 1}
    (example,) = report["conflict_examples"]
    assert example["formula"] == "Fe2O3" and example["column"] == "y"
    assert example["values"] == [1.0, 2.0, 10.0]
    assert example["rows"][0].endswith("data.csv, row 1 (line 2)")


def test_aggregate_mean(write_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_csv(write_csv("formula,y\nFe2O3,1\nFe4O6,2\nFe2O3,9\n"), aggregate="mean")
    assert data.frame["y"].tolist() == [4.0]


# ---------------------------------------------------------------- from_frame


def test_from_frame_does_not_modify_input():
    df = pd.DataFrame({"formula": ["Fe2O3", "Fe4O6", "NaCl"], "y": [1.0, 1.0, 2.0]})
    before = df.copy()
    data = from_frame(df, name="mine", source="test")
    pd.testing.assert_frame_equal(df, before)
    assert data.formulas.tolist() == ["Fe2O3", "NaCl"]
    assert data.source == "test" and data.name == "mine"
    assert data.frame["y"].dtype == float


def test_from_frame_missing_formula_and_index_label():
    df = pd.DataFrame({"formula": ["Fe2O3", None], "y": [1.0, 2.0]}, index=["a", "b"])
    message = error_of(from_frame, df)
    assert "DataFrame, row 2 (index 'b'), column 'formula': missing formula" in message


def test_from_frame_non_string_formula_and_text_target():
    message = error_of(from_frame, pd.DataFrame({"formula": ["Fe2O3", 5], "y": [1, 2]}))
    assert "DataFrame, row 2, column 'formula': expected a formula string" in message
    df = pd.DataFrame({"formula": ["Fe2O3", "MgO"], "y": ["1.5", "abc"]})
    message = error_of(from_frame, df, targets=["y"])
    assert "DataFrame, row 2, column 'y': non-numeric value 'abc'" in message


def test_from_frame_misspelled_column():
    df = pd.DataFrame({"formula": ["Fe2O3"], "PF_p": [1.0]})
    message = error_of(from_frame, df, targets=["PF_P"])
    assert "column 'PF_P' not found in DataFrame; did you mean 'PF_p'?" in message


def test_from_frame_drops_nan_and_keeps_numbers_only():
    df = pd.DataFrame(
        {"formula": ["Fe2O3", "MgO"], "y": [1.0, math.nan], "flag": [True, False], "note": "x"}
    )
    with pytest.warns(UserWarning, match="dropped 1 of 2 rows"):
        data = from_frame(df)
    assert data.targets == ("y",)
    assert data.report["ignored_columns"] == ["flag", "note"]


def test_from_frame_without_targets_is_a_composition_list():
    data = from_frame(pd.DataFrame({"formula": ["Fe2O3", "Fe4O6"]}))
    assert data.targets == () and data.formulas.tolist() == ["Fe2O3"]


def test_dataset_refuses_nan_targets():
    frame = pd.DataFrame(
        {"formula": ["Fe2O3"], "composition": [Composition("Fe2O3")], "y": [np.nan]}
    )
    with pytest.raises(DataError, match="finite"):
        MaterialsDataset("x", frame, ("y",), "test", 1)


# ---------------------------------------------------------------- registry


def test_registry():
    assert list_datasets() == ["microstructures", "transport"]
    assert list_datasets(generated=False) == ["transport"]
    message = error_of(load_dataset, "transprot")
    assert "unknown data set 'transprot'; did you mean 'transport'?" in message
    assert "available: 'microstructures', 'transport'" in message


def test_data_error_is_a_value_error(write_csv):
    with pytest.raises(ValueError):
        load_csv(write_csv(csv_with("Xx")))


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Fe0.1O", {"Fe": 0.1, "O": 1.0}),
        ("K4(Fe(CN)6)", {"K": 4.0, "Fe": 1.0, "C": 6.0, "N": 6.0}),
        ("FeOFe2", {"Fe": 3.0, "O": 1.0}),
        ("Fe2 O3", {"Fe": 2.0, "O": 3.0}),
    ],
)
def test_parse_formula_amounts_are_exact(text, amounts):
    from evodesign.datasets.formula import parse_formula

    parsed = parse_formula(text)
    composition = Composition(amounts)
    assert parsed.reduced_formula == composition.reduced_formula
    assert parsed.composition.get_el_amt_dict() == composition.reduced_composition.get_el_amt_dict()
