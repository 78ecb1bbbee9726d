"""Strict chemical-formula validation at the data boundary.

pymatgen's formula parser is forgiving in ways that corrupt a data set without a word:
``Composition("Fe0O3")`` is ``O3``, ``"D2O"`` becomes ``H2O`` and ``"Fe1e30O3"`` is accepted
with 10**30 iron atoms. So every formula is first matched against a strict grammar here
(vectorized over the whole column), then walked token by token once per *unique* string, and
only then handed to pymatgen.

The grammar: element symbols (a capital letter and at most one lowercase letter) each with an
optional positive amount (``2``, ``0.5``, ``1e-3``), and parenthesised groups with an optional
multiplier, e.g. ``Fe2O3``, ``Li0.5CoO2``, ``Ca(OH)2``. Whitespace between tokens is allowed
(pymatgen writes ``"Fe2 O3"``) and removed; whitespace inside a token is not.

Hydrates and other adducts are parts joined by a dot operator ``·`` (or ``•``, ``∙``, ``⋅``,
``*``), each part after the first with an optional multiplier: ``CuSO4·5H2O`` is
CuS O9 H10, ``CaSO4*0.5H2O`` is CaS O4.5 H1. A full stop ``.`` stays a decimal point, as in
pymatgen: ``CuSO4.5H2O`` reads as ``CuSO4.5 H2O`` (O5.5), so write hydrates with ``·``
or ``*``.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

__all__ = [
    "MAX_ATOMS_PER_FORMULA_UNIT",
    "MISSING_MARKERS",
    "ParsedFormula",
    "check_formula_column",
    "parse_formula",
]

#: Largest number of atoms a formula unit may hold. The largest Materials Project cells hold a
#: few thousand atoms, so a million is never chemistry: it is a typo or an overflowed number.
MAX_ATOMS_PER_FORMULA_UNIT = 1e6

#: Cell texts that spreadsheets and pandas write for "no value". ``"NaN"`` also reads as the
#: formula Na1N1, but in a formula column it is far more likely a lost value than that compound.
MISSING_MARKERS = frozenset(
    {"", "NA", "N/A", "n/a", "na", "NaN", "nan", "-NaN", "-nan", "NAN", "None", "none",
     "NONE", "null", "NULL", "Null", "<NA>", "#N/A", "#NA", "-", "?"}
)

_KNOWN_SYMBOLS = frozenset(element.symbol for element in Element)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # asking for a missing electronegativity warns
    _NO_ELECTRONEGATIVITY = frozenset(e.symbol for e in Element if math.isnan(e.X))
_LOWER_SYMBOLS = {symbol.lower(): symbol for symbol in _KNOWN_SYMBOLS}

# A sign is admitted by the grammar only so that "Fe-2O3" gets a "negative amount" message
# instead of a vague "invalid characters" one; the token walk rejects it.
_AMOUNT = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_PART = rf"\s*(?:(?:[A-Z][a-z]?|\))(?:{_AMOUNT})?\s*|\(\s*)+"
#: what joins the parts of a hydrate or adduct (CuSO4·5H2O): middle dot, bullet, bullet
#: operator, dot operator, asterisk
_HYDRATE_SEPARATORS = "\u00b7\u2022\u2219\u22c5*"
_MULTIPLIER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_GRAMMAR = rf"{_PART}(?:[{_HYDRATE_SEPARATORS}]\s*{_MULTIPLIER}?{_PART})*"
_HYDRATE_PART = re.compile(rf"\s*({_MULTIPLIER}?)(.*)", re.DOTALL)
_TOKEN = re.compile(rf"([A-Z][a-z]?)|(\()|(\))|({_AMOUNT})")
_ALLOWED_CHARACTER = re.compile(rf"[A-Za-z0-9().\s+\-{_HYDRATE_SEPARATORS}]")
#: element names, lowercase, to their symbols ('iron' -> 'Fe'), for messages
_NAMES = {element.long_name.lower(): element.symbol for element in Element}


@dataclass(frozen=True)
class ParsedFormula:
    """One formula string after validation.

    Attributes:
        reduced_formula: pymatgen's reduced formula, e.g. ``"Fe2O3"`` for ``"Fe4O6"``.
        composition: the composition of one reduced formula unit,
            ``Composition(reduced_formula)``.
    """

    reduced_formula: str
    composition: Composition


def check_formula_column(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Strip a column of formula cells and flag those that cannot be formulas.

    Vectorized: this is the cheap screen over every row; :func:`parse_formula` then runs
    once per unique string that passed.

    Args:
        values: the formula column, length ``n_rows``; cells may be strings or, from a
            DataFrame, anything else (``None``, NaN, numbers), which is flagged.

    Returns:
        ``(texts, bad)``: the cells as strings without surrounding whitespace (``n_rows``;
        non-string cells become ``""``), and a boolean array of length ``n_rows`` that is
        true where the cell is not a string, is a missing-value marker, or breaks the
        grammar. Cells that pass may still be invalid (unknown element, zero amount,
        unbalanced parentheses); :func:`parse_formula` says so.
    """
    if values.dtype == object:
        is_text = values.map(type).eq(str).to_numpy()
        texts = values.where(is_text, "")
    else:
        is_text = np.ones(len(values), dtype=bool)
        texts = values.astype(str)
    texts = texts.str.strip()
    bad = ~is_text | texts.isin(MISSING_MARKERS).to_numpy()
    bad |= ~texts.str.fullmatch(_GRAMMAR).to_numpy(dtype=bool)
    return texts, bad


@functools.lru_cache(maxsize=2**16)
def parse_formula(text: str) -> ParsedFormula | str:
    """Validate one formula string and reduce it.

    Args:
        text: a formula without surrounding whitespace, e.g. ``"Fe2O3"``, ``"Fe2 O3"`` or
            ``"Ca(OH)2"``.

    Returns:
        A :class:`ParsedFormula`, or a message saying what is wrong and what would be
        valid. A string rather than an exception so that failures are cached too and the
        caller can name the row.

    Example:
        >>> parse_formula("Fe4O6").reduced_formula
        'Fe2O3'
        >>> parse_formula("Xx2O3")
        "invalid formula 'Xx2O3': unknown element 'Xx'"
    """
    if text in MISSING_MARKERS:
        return _missing_message(text)
    if re.fullmatch(_GRAMMAR, text) is None:
        return _grammar_message(text)
    amounts = _amounts("".join(text.split()))
    if isinstance(amounts, str):
        unknown = re.match(r"unknown element '([A-Z][a-z])'$", amounts)
        # 'Xx' or 'Fo' is a misspelt symbol ('FO' is no help); 'E' of 'FE2O3' is a case slip
        hint = _symbol_hint(unknown.group(1)) if unknown else _capitalisation_hint(text)
        return f"invalid formula {text!r}: {amounts}" + (f"; {hint}" if hint else "")
    composition = Composition(amounts, strict=True)
    if _NO_ELECTRONEGATIVITY.isdisjoint(amounts):
        reduced, factor = composition.get_reduced_formula_and_factor()
    else:
        with warnings.catch_warnings():
            # pymatgen warns while it orders such elements in the reduced formula, which is
            # harmless here; catch_warnings is slow, so only these formulas pay for it
            warnings.filterwarnings("ignore", message="No Pauling electronegativity")
            reduced, factor = composition.get_reduced_formula_and_factor()
    if factor != 1:
        composition = composition / factor
    return ParsedFormula(reduced, composition)


def _is_valid(text: str) -> bool:
    return (
        text not in MISSING_MARKERS
        and re.fullmatch(_GRAMMAR, text) is not None
        and not isinstance(_amounts("".join(text.split())), str)
    )


def _amounts(text: str) -> dict[str, float] | str:
    """Element amounts of a grammatical formula without whitespace, or what is wrong."""
    amounts = _hydrate(text) if re.search(f"[{_HYDRATE_SEPARATORS}]", text) else _walk(text)
    if isinstance(amounts, str):
        return amounts
    total = sum(amounts.values())
    if total > MAX_ATOMS_PER_FORMULA_UNIT:
        return (
            f"{total:g} atoms per formula unit exceeds the limit of "
            f"{MAX_ATOMS_PER_FORMULA_UNIT:g}; check the amounts"
        )
    return amounts


def _hydrate(text: str) -> dict[str, float] | str:
    """Sum the parts of a grammatical hydrate or adduct ('CuSO4·5H2O'), or say what is wrong."""
    total: dict[str, float] = {}
    for number, part in enumerate(re.split(f"[{_HYDRATE_SEPARATORS}]", text), start=1):
        match = _HYDRATE_PART.fullmatch(part)
        multiplier_text, formula = match.group(1), match.group(2)
        multiplier = float(multiplier_text) if multiplier_text else 1.0
        if multiplier <= Composition.amount_tolerance:
            return (
                f"zero multiplier {multiplier_text} of part {number} ({formula!r}) of the "
                "hydrate; multipliers must be positive, e.g. 'CuSO4·5H2O'"
            )
        amounts = _walk(formula)
        if isinstance(amounts, str):
            return amounts
        for element, count in amounts.items():
            total[element] = total.get(element, 0.0) + count * multiplier
    return total


def _walk(text: str) -> dict[str, float] | str:
    """Sum element amounts over a grammatical formula, or say what is wrong."""
    # each level of parentheses is a list of [amounts, multiplier, name] items; an amount token
    # sets the multiplier of the item before it. Multiplying, not adding "amount - 1",
    # keeps "Fe0.1" exactly 0.1.
    levels: list[list[list]] = [[]]
    for symbol, opening, closing, amount_text in _TOKEN.findall(text):
        if symbol:
            if symbol not in _KNOWN_SYMBOLS:
                hint = ""
                if symbol in ("D", "T"):
                    hint = " (isotope labels are not supported; write H)"
                return f"unknown element {symbol!r}{hint}"
            levels[-1].append([{symbol: 1.0}, 1.0, repr(symbol)])
        elif opening:
            levels.append([])
        elif closing:
            if len(levels) == 1:
                return "unbalanced parentheses: ')' without a matching '('"
            group = _merge(levels.pop())
            if not group:
                return "empty parentheses '()'"
            levels[-1].append([group, 1.0, "a (...) group"])
        else:
            owner = levels[-1][-1][2]  # the grammar puts amounts only after a symbol or ')'
            amount = float(amount_text)  # "1e400" overflows to inf rather than raising
            if amount < 0:
                return f"negative amount {amount_text} of {owner}; amounts must be positive"
            if amount <= Composition.amount_tolerance:
                return (
                    f"zero amount {amount_text} of {owner}; amounts must be positive "
                    "(leave out elements that are absent)"
                )
            if not math.isfinite(amount) or amount > MAX_ATOMS_PER_FORMULA_UNIT:
                return (
                    f"amount {amount_text} of {owner} is too large; the limit is "
                    f"{MAX_ATOMS_PER_FORMULA_UNIT:g} atoms per formula unit"
                )
            levels[-1][-1][1] = amount
    if len(levels) != 1:
        return "unbalanced parentheses: '(' without a matching ')'"
    return _merge(levels[0])


def _merge(items: list[list]) -> dict[str, float]:
    total: dict[str, float] = {}
    for amounts, multiplier, _ in items:
        for element, count in amounts.items():
            total[element] = total.get(element, 0.0) + count * multiplier
    return total


def _missing_message(text: str) -> str:
    if not text:
        return "empty formula; every row needs a formula like 'Fe2O3'"
    message = f"invalid formula {text!r}: looks like a missing-value marker, not a formula"
    # only an unambiguous respelling is worth showing ('NA' -> 'Na'; not 'None' -> 'NoNe')
    candidates = [c for c in _recapitalised(text) if c != text]
    return message + (f"; did you mean {candidates[0]!r}?" if len(candidates) == 1 else "")


def _grammar_message(text: str) -> str:
    message = f"invalid formula {text!r}: "
    odd = sorted({char for char in text if not _ALLOWED_CHARACTER.fullmatch(char)})
    if odd:
        message += "characters " + ", ".join(repr(char) for char in odd) + " are not allowed"
        cleaned = "".join(char for char in text if char not in odd).strip()
        if cleaned and _is_valid(cleaned):
            return message + f"; did you mean {''.join(cleaned.split())!r}?"
        return message + "; " + _GRAMMAR_HELP
    if text.count("(") != text.count(")"):
        return message + "unbalanced parentheses; " + _GRAMMAR_HELP
    joined = "".join(text.split())
    if joined != text and _is_valid(joined):
        return message + f"spaces inside an element token; did you mean {joined!r}?"
    # A capitalised word of three or more letters is an element name ('Iron'), or an unknown
    # element ('Foo', 'Fee') unless it is a capitalisation slip ('Nacl' -> 'NaCl').
    words = re.findall(r"[A-Z][a-z]{2,}", text)
    named = [w for w in words if w.lower() in _NAMES]
    if named:
        return message + f"{named[0]!r} is an element name, not a symbol; {_symbol_hint(named[0])}"
    hint = _capitalisation_hint(text)
    unknown = [w for w in words if w[:2] not in _KNOWN_SYMBOLS or not hint]
    if unknown:
        return (
            message + f"unknown element {unknown[0]!r}: an element symbol is a capital letter "
            f"and at most one lowercase letter; {_symbol_hint(unknown[0])}"
        )
    return message + (hint or _GRAMMAR_HELP)


_GRAMMAR_HELP = (
    "a formula is element symbols (a capital letter, then at most one lowercase letter) "
    "with optional positive amounts and parenthesised groups, like 'Fe2O3' or 'Ca(OH)2', "
    "and hydrates like 'CuSO4·5H2O'"
)


def _symbol_hint(word: str) -> str:
    """What an unknown element ``word`` may have meant: the symbol of an element of that
    name ('Iron' -> 'Fe'), else the symbols that start with its capital."""
    if word.lower() in _NAMES:
        return f"did you mean {_NAMES[word.lower()]!r} ({word.lower()})?"
    first = word[:1].upper()
    same = sorted(s for s in _KNOWN_SYMBOLS if s[0] == first)
    if not same:
        return "valid symbols are those of the periodic table, e.g. 'Fe', 'O', 'Na', 'Cl'"
    return f"symbols that start with {first!r}: " + ", ".join(repr(s) for s in same)


def _capitalisation_hint(text: str) -> str:
    """Suggest re-capitalised spellings that are valid formulas ('fe2o3' -> 'Fe2O3')."""
    candidates = [c for c in _recapitalised(text) if c != text]
    if not candidates:
        return ""
    shown = " or ".join(repr(c) for c in candidates)
    return (
        "element symbols are a capital letter and at most one lowercase letter; "
        f"did you mean {shown}?"
    )


def _recapitalised(text: str, limit: int = 3) -> list[str]:
    if not re.fullmatch(rf"[A-Za-z0-9().{_HYDRATE_SEPARATORS}]+", text):
        return []
    pieces = re.findall(r"[A-Za-z]+|[^A-Za-z]+", text)
    options = [
        _split_symbols(piece.lower()) if piece.isalpha() else [piece] for piece in pieces
    ]
    if not all(options):
        return []
    found = []
    for combination in itertools.product(*options):
        candidate = "".join(combination)
        if _is_valid(candidate):
            found.append(candidate)
            if len(found) == limit:
                break
    return found


@functools.lru_cache(maxsize=1024)
def _split_symbols(letters: str) -> list[str]:
    """All ways to read a run of lowercase letters as element symbols ('co' -> Co, CO)."""
    if not letters:
        return [""]
    readings = []
    for width in (2, 1):
        symbol = _LOWER_SYMBOLS.get(letters[:width]) if len(letters) >= width else None
        if symbol is not None:
            readings += [symbol + rest for rest in _split_symbols(letters[width:])]
    return readings
