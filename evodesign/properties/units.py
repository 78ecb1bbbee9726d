"""Units and display names of the properties evodesign knows, for plots and tables.

The transport data's units are the ones its source states: matminer's
``dataset_metadata.json``, entry ``ricci_boltztrap_mp_tabular`` (Ricci et al., Sci. Data 4,
170085 (2017)), which lists

* ``S.p [µV/K]``: the Seebeck coefficient, µV/K;
* ``σ.p [1/Ω/m/s]``: the conductivity, 1/(Ω m s);
* ``κₑ.p [W/K/m/s]``: the electronic thermal conductivity, W/(K m s);
* ``PF.p [µW/cm/K²/s]``: the power factor, µW/(cm K² s);
* ``mₑᶜ.p.ε̄ [mₑ]``: the conductivity effective mass, in electron masses.

The trailing "/s" of σ, κ and PF is BoltzTraP's constant-relaxation-time convention (the
quantity per unit relaxation time τ); the values in the file are of the size a τ of 1e-14 s
gives (PF of a few to tens, as measured power factors in µW/(cm K²)), so read their absolute
scale as nominal. The units are shown exactly as the source states them.

``log10_<name>`` columns are log10 of the raw value in the raw unit: their unit reads
``log10 µW/(cm K² s)``. The supply-risk indices (HHI, pymatgen's tables) are dimensionless,
0 to 10,000. A property this module does not know gets no unit: an empty unit is better
than a wrong one. A CSV column whose name ends in a unit (``band_gap_eV``) is read so.

    >>> unit("S_p")
    'µV/K'
    >>> unit("log10_PF_p")
    'log10 µW/(cm K² s)'
    >>> unit("my_column")
    ''
    >>> axis_label("band_gap", target=(1.1, 1.7))
    'band gap (eV), target 1.1–1.7'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PROPERTIES",
    "PropertyInfo",
    "axis_label",
    "display_name",
    "format_value",
    "format_window",
    "property_info",
    "short_header",
    "unit",
]

_PF_UNIT = "µW/(cm K² s)"


@dataclass(frozen=True)
class PropertyInfo:
    """What a property is called and measured in.

    Attributes:
        name: display name, e.g. ``"Seebeck coefficient S_p"``.
        unit: the unit, ``""`` for a dimensionless or unknown property.
        short: a short column header, e.g. ``"S_p"``.
        note: extra text for a legend or footnote (e.g. the range of an index).
    """

    name: str
    unit: str = ""
    short: str = ""
    note: str = ""


def _transport() -> dict[str, PropertyInfo]:
    out: dict[str, PropertyInfo] = {}
    kinds = {"p": "p-type", "n": "n-type"}
    for c, kind in kinds.items():
        out[f"S_{c}"] = PropertyInfo(f"Seebeck coefficient S_{c}", "µV/K", f"S_{c}", f"{kind}, 300 K, 1e18 cm⁻³")
        for raw, long, u in (
            ("PF", "power factor", _PF_UNIT),
            ("sigma", "conductivity", "1/(Ω m s)"),
            ("kappa", "electronic thermal conductivity", "W/(K m s)"),
            ("m", "conductivity effective mass", "mₑ"),
        ):
            out[f"{raw}_{c}"] = PropertyInfo(f"{long} {raw}_{c}", u, f"{raw}_{c}", f"{kind}, 300 K, 1e18 cm⁻³")
            out[f"log10_{raw}_{c}"] = PropertyInfo(
                f"log10 {long} {raw}_{c}", f"log10 {u}", f"log10 {raw}_{c}", f"{kind}, 300 K, 1e18 cm⁻³"
            )
    return out


#: Every property with a known unit, by column name.
PROPERTIES: dict[str, PropertyInfo] = {
    **_transport(),
    "hhi_production": PropertyInfo("supply risk, production HHI", "", "HHI prod.", "0–10,000"),
    "hhi_reserve": PropertyInfo("supply risk, reserves HHI", "", "HHI res.", "0–10,000"),
    "band_gap": PropertyInfo("band gap", "eV", "band gap"),
    "gap": PropertyInfo("band gap", "eV", "gap"),
    "e_form": PropertyInfo("formation energy", "eV/atom", "E_form"),
    "formation_energy_per_atom": PropertyInfo("formation energy", "eV/atom", "E_form"),
    "e_above_hull": PropertyInfo("energy above hull", "eV/atom", "E_hull"),
}

# Unit suffixes of CSV column names, read only when they end the name after "_".
_SUFFIXES = {
    "eV": "eV",
    "meV": "meV",
    "eV_atom": "eV/atom",
    "K": "K",
    "GPa": "GPa",
    "uV_K": "µV/K",
    "muV_K": "µV/K",
    "W_mK": "W/(m K)",
}


def property_info(name: str) -> PropertyInfo:
    """The :class:`PropertyInfo` of a property name (case kept; unknown: no unit).

    Args:
        name: a column name (``"S_p"``, ``"log10_PF_p"``, ``"band_gap_eV"``, ...).

    Returns:
        The known entry, one read from a unit suffix of the name, or a bare entry whose
        name is ``name`` with underscores kept and whose unit is empty.
    """
    if name in PROPERTIES:
        return PROPERTIES[name]
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        stem = name[: -len(suffix) - 1]
        if name.endswith("_" + suffix) and stem:
            base = PROPERTIES.get(stem)
            if base is not None and base.unit and base.unit != _SUFFIXES[suffix]:
                break  # the known unit and the suffix disagree: show neither
            return PropertyInfo(base.name if base else stem.replace("_", " "), _SUFFIXES[suffix], stem, "")
    return PropertyInfo(name, "", name, "")


def unit(name: str) -> str:
    """The unit of a property, ``""`` when dimensionless or unknown."""
    return property_info(name).unit


def display_name(name: str, label: str | None = None) -> str:
    """A readable name: the user's ``label`` if given, else the known name, else ``name``."""
    return label or property_info(name).name


def short_header(name: str) -> str:
    """A short table header for a property (``"S_p"``, ``"log10 PF_p"``, ``"HHI prod."``)."""
    return property_info(name).short or name


def _num(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:g}"


def format_window(low: float, high: float, name: str | None = None) -> str:
    """``"1.1–1.7"``, ``"≥ 100"``, ``"≤ 3"`` (with the unit of ``name`` when it has one)."""
    u = unit(name) if name else ""
    tail = f" {u}" if u else ""
    if math.isinf(high) and not math.isinf(low):
        return f"≥ {_num(low)}{tail}"
    if math.isinf(low) and not math.isinf(high):
        return f"≤ {_num(high)}{tail}"
    return f"{_num(low)}–{_num(high)}{tail}"


def axis_label(
    name: str,
    objective: Any = None,
    *,
    target: tuple[float, float] | None = None,
    direction: str | None = None,
    label: str | None = None,
) -> str:
    """An axis label with the unit, and the aim of the objective.

    Args:
        name: the property.
        objective: optional objective (anything with ``target``, ``direction`` and
            ``label`` attributes: :class:`evodesign.objectives.Objective` or the config's
            ``[[objectives]]`` entry); its fields fill the keywords left unset.
        target: a range target ``(low, high)``: shown as ``"target low–high"``.
        direction: ``"max"`` or ``"min"``: shown as ``"(max)"``/``"(min)"`` without a target.
        label: the user's label: it replaces the name; the unit and the target are added
            only when the label does not already say them.

    Returns:
        e.g. ``"Seebeck coefficient S_p (µV/K), max"``, ``"band gap (eV), target 1.1–1.7"``
        or ``"log10 power factor PF_p (PF_p in µW/(cm K² s)), max"``.
    """
    if objective is not None:
        target = target if target is not None else getattr(objective, "target", None)
        direction = direction or getattr(objective, "direction", None)
        label = label or getattr(objective, "label", None)
    info = property_info(name)
    text = label or info.name
    if info.unit.startswith("log10 ") and name.startswith("log10_"):
        raw = info.unit.removeprefix("log10 ")
        if raw not in text:
            text += f" ({name.removeprefix('log10_')} in {raw})"
    elif info.unit and info.unit not in text and info.unit.replace("µ", "u") not in text:
        text += f" ({info.unit})"
    elif not info.unit and info.note and not label:
        text += f" ({info.note})"
    if target is not None:
        if "target" not in text.lower():
            text += f", target {format_window(*target)}"
    elif direction in ("max", "min") and direction not in text:
        text += f", {direction}"
    return text


def format_value(value: Any, std: Any = None) -> str:
    """A compact number for a table: 3 significant figures, ``± std`` when given.

    >>> format_value(123.456, 7.89)
    '123 ± 7.9'
    >>> format_value(2345.6)
    '2,346'
    >>> format_value(0.01234, 0.5)
    '0.0123 ± 0.5'
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "n/a" if math.isnan(v) else _num(v)
    if abs(v) >= 1000:
        text = f"{v:,.0f}"
    elif abs(v) >= 100:
        text = f"{v:.0f}"
    else:
        text = f"{v:.3g}"
    try:
        s = float(std) if std is not None else float("nan")
    except (TypeError, ValueError):
        s = float("nan")
    if math.isfinite(s):
        text += f" ± {s:,.0f}" if s >= 100 else f" ± {s:.2g}"
    return text
