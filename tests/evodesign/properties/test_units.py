"""Units and display names of known properties."""

from __future__ import annotations

import math
from types import SimpleNamespace

from evodesign.properties.units import axis_label, format_value, format_window, short_header, unit


def test_units_of_the_transport_data_as_its_source_states_them() -> None:
    assert unit("S_p") == "µV/K"
    assert unit("PF_p") == "µW/(cm K² s)"  # matminer's dataset_metadata.json: PF.p [µW/cm/K²/s]
    assert unit("log10_PF_p") == "log10 µW/(cm K² s)"
    assert unit("sigma_n") == "1/(Ω m s)"
    assert unit("kappa_p") == "W/(K m s)"
    assert unit("m_p") == "mₑ"
    assert unit("band_gap") == "eV"
    assert unit("hhi_production") == ""  # dimensionless


def test_unknown_properties_get_no_unit() -> None:
    assert unit("my_column") == ""
    assert unit("PF") == ""
    assert unit("band_gap_eV") == "eV"  # read from the name
    assert unit("S_p_eV") == ""  # the suffix contradicts the known unit: neither is shown
    assert short_header("my_column") == "my_column"


def test_axis_labels() -> None:
    assert axis_label("S_p", direction="max") == "Seebeck coefficient S_p (µV/K), max"
    assert axis_label("log10_PF_p", direction="max") == "log10 power factor PF_p (PF_p in µW/(cm K² s)), max"
    assert axis_label("hhi_production", direction="min") == "supply risk, production HHI (0–10,000), min"
    target = SimpleNamespace(target=(1.1, 1.7), direction="min", label=None)
    assert axis_label("band_gap", target) == "band gap (eV), target 1.1–1.7"
    labelled = SimpleNamespace(target=(1.1, 1.7), direction="min", label="band gap (eV), target 1.1-1.7")
    assert axis_label("band_gap", labelled) == "band gap (eV), target 1.1-1.7"  # not said twice
    assert axis_label("x", direction="min") == "x, min"


def test_windows_and_numbers() -> None:
    assert format_window(100, math.inf, "S_p") == "≥ 100 µV/K"
    assert format_window(-math.inf, 3, "band_gap") == "≤ 3 eV"
    assert format_window(1.1, 1.7) == "1.1–1.7"
    assert format_value(123.456, 7.89) == "123 ± 7.9"
    assert format_value(2345.6, 250.0) == "2,346 ± 250"
    assert format_value(float("nan")) == "n/a"
    assert format_value("GaAs") == "GaAs"


def test_a_label_with_an_ascii_micro_unit_gets_no_second_unit():
    from evodesign.properties.units import axis_label

    assert axis_label("S_p", label="Seebeck coefficient S_p (uV/K)", direction="max") == "Seebeck coefficient S_p (uV/K), max"
