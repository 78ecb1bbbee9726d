from __future__ import annotations

import pandas as pd
import pytest
from pymatgen.core import Composition

from evodesign.datasets import load_csv
from evodesign.datasets.formula import check_formula_column, parse_formula


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("CuSO4·5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4 · 5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4*5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4•5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CuSO4⋅5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CaSO4·0.5H2O", {"Ca": 1, "S": 1, "O": 4.5, "H": 1}),
        ("Na2CO3·10H2O", {"Na": 2, "C": 1, "O": 13, "H": 20}),
        ("K4(Fe(CN)6)·3H2O", {"K": 4, "Fe": 1, "C": 6, "N": 6, "H": 6, "O": 3}),
        ("MgSO4·H2O", {"Mg": 1, "S": 1, "O": 5, "H": 2}),
        ("NH3·BH3", {"N": 1, "B": 1, "H": 6}),
    ],
)
def test_hydrates_and_adducts_are_summed(text, amounts):
    parsed = parse_formula(text)
    assert not isinstance(parsed, str), parsed
    expected = Composition(amounts)
    assert parsed.reduced_formula == expected.reduced_formula
    assert parsed.composition.almost_equals(expected.reduced_composition)


def test_a_full_stop_stays_a_decimal_point_as_in_pymatgen():
    parsed = parse_formula("CuSO4.5H2O")
    assert parsed.composition.almost_equals(Composition("CuSO4.5H2O"))
    assert parsed.composition["O"] == 5.5


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("Foo2O3", ["unknown element 'Foo'", "symbols that start with 'F': 'F', 'Fe', 'Fl', 'Fm', 'Fr'"], "FOO2O3"),
        ("Fee2O3", ["unknown element 'Fee'", "'Fe'"], None),
        ("Fo2O3", ["unknown element 'Fo'", "symbols that start with 'F'"], "FO2O3"),
        ("Xx2O3", ["unknown element 'Xx'", "symbols that start with 'X': 'Xe'"], None),
        ("Qq", ["unknown element 'Qq'", "those of the periodic table"], None),
        ("Iron2O3", ["'Iron' is an element name, not a symbol", "did you mean 'Fe' (iron)?"], "IrON"),
        ("Oxygen", ["did you mean 'O' (oxygen)?"], None),
        ("CuSO4·0H2O", ["zero multiplier 0 of part 2 ('H2O')", "'CuSO4·5H2O'"], None),
        ("CuSO4·", ["hydrates like 'CuSO4·5H2O'"], "CuSO4'"),
        ("CuSO4·5Hh2O", ["unknown element 'Hh'", "'He'"], None),
        # the hints that were right stay
        ("Nacl", ["did you mean 'NaCl'?"], None),
        ("FE2O3", ["unknown element 'E'", "did you mean 'Fe2O3'?"], None),
        ("fe2o3", ["did you mean 'Fe2O3'?"], None),
    ],
)
def test_messages_for_unknown_elements_and_bad_hydrates(text, expected, absent):
    message = parse_formula(text)
    assert isinstance(message, str)
    assert message.startswith(f"invalid formula {text!r}: ")
    for part in expected:
        assert part in message, message
    if absent:
        assert absent not in message.split(": ", 1)[1], message


def test_column_screen_accepts_hydrates():
    texts, bad = check_formula_column(pd.Series(["CuSO4·5H2O", " CaSO4*0.5H2O ", "CuSO4··H2O", "·H2O"]))
    assert bad.tolist() == [False, False, True, True]
    assert texts.tolist()[1] == "CaSO4*0.5H2O"


def test_csv_with_a_hydrate_loads_and_a_bad_one_names_the_row(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("formula,y\nCuSO4·5H2O,1.0\nFe2O3,2.0\n", encoding="utf-8")
    data = load_csv(path)
    assert Composition("CuH10SO9").reduced_formula in data.formulas.tolist()
    path.write_text("formula,y\nFe2O3,2.0\nFoo2O3,1.0\n", encoding="utf-8")
    with pytest.raises(Exception) as info:
        load_csv(path)
    message = str(info.value)
    assert "data.csv, row 2 (line 3), column 'formula'" in message and "unknown element 'Foo'" in message
