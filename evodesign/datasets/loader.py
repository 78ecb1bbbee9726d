"""Loading a user's table of formulas and properties into a :class:`MaterialsDataset`.

Everything is checked at this boundary and nothing is written anywhere. A bad cell stops
the load with a :class:`~evodesign.exceptions.DataError` that names the file (or
"DataFrame"), the 1-based data row (and, for a CSV, the line of the file), the column, the
offending value and what would be valid, e.g.::

    data.csv, row 3 (line 4), column 'formula': invalid formula 'Xx2O3': unknown element 'Xx'

Rows whose targets are missing are dropped (and counted) or rejected, as the caller
chooses; rows that share a reduced formula are merged (see
:mod:`evodesign.datasets.aggregation`).

Values no model can learn from are always refused, never dropped, since they are typos or
unit slips the user must see: an infinite target (``inf``, ``1e400``) and a target whose
magnitude exceeds :data:`MAX_ABS_TARGET` (``1e150``). The bound keeps every square of a
value, and the sum of squares of up to 1e8 of them, finite in float64, so means, variances
and the standardisation of every surrogate stay finite; no physical property in any unit
comes near it. A target column without a single value is refused with its name.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evodesign.datasets.aggregation import AGGREGATES, aggregate_by_formula
from evodesign.datasets.dataset import MaterialsDataset
from evodesign.datasets.formula import (
    MISSING_MARKERS,
    ParsedFormula,
    check_formula_column,
    parse_formula,
)
from evodesign.datasets.location import CsvRows, FrameRows, RowLocator
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    import os

__all__ = ["MAX_ABS_TARGET", "ON_INVALID_TARGET", "from_frame", "load_csv"]

#: What to do with a row whose target is NaN or missing.
ON_INVALID_TARGET = ("drop", "raise")
#: Largest accepted magnitude of a target value: its square (1e300), summed over up to
#: 1e8 rows, stays below float64's 1.8e308, so a variance of the column is finite.
MAX_ABS_TARGET = 1e150
_RESERVED = ("formula", "composition")
_N_OTHER_ROWS = 5


def load_csv(
    path: str | os.PathLike[str],
    formula_column: str = "formula",
    targets: Sequence[str] | str | None = None,
    *,
    on_invalid_target: str = "drop",
    aggregate: str = "median",
    name: str | None = None,
) -> MaterialsDataset:
    """Read a comma-separated file with one formula column and numeric target columns.

    The file is UTF-8 text with a header line. Cells are read as text first (so "Na" and
    "NA" stay as written) and converted here: a target cell that is empty or a missing-value
    marker ("NA", "NaN", "None", ...) counts as missing; any other non-number stops the load,
    and so does an infinite value ("inf", "1e400") or one larger in magnitude than
    :data:`MAX_ABS_TARGET` (1e150).

    Args:
        path: the CSV file.
        formula_column: the column holding formulas like ``"Fe2O3"`` or ``"Ca(OH)2"``.
        targets: the target columns, in the order wanted. ``None`` means every column other
            than the formula column in which most non-empty cells are numbers; columns left
            out are listed in ``report["ignored_columns"]``.
        on_invalid_target: ``"drop"`` drops rows with a missing target, warns and counts
            them per column in ``report["dropped_invalid_target"]``; ``"raise"`` stops at
            the first such row.
        aggregate: how rows with the same reduced formula are merged, per target: one of
            ``"median"`` (default), ``"mean"``, ``"min"``, ``"max"``.
        name: the data set's name; default the file name without extension.

    Returns:
        A :class:`MaterialsDataset` with one row per unique reduced formula, in order of
        first appearance.

    Raises:
        DataError: the file is missing, empty or unreadable, a column is missing or has
            no values, or a cell is invalid (not a number, infinite, beyond 1e150); the
            message names file, row, line, column and value.

    Example:
        >>> dataset = load_csv("data.csv", targets=["band_gap"])  # doctest: +SKIP
    """
    file = Path(path)
    label = str(path)
    if not file.exists():
        raise DataError(f"file not found: {label!r}{_nearby_files_hint(file)}")
    if file.is_dir():
        raise DataError(f"{label!r} is a directory, not a CSV file")
    if file.stat().st_size == 0:
        raise DataError(
            f"{label} is empty (0 bytes): expected a header line naming a "
            f"{formula_column!r} column, then one row per material"
        )
    try:
        frame = pd.read_csv(
            file, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError as err:
        raise DataError(
            f"{label} has no header line (only blank lines): expected a header line naming "
            f"a {formula_column!r} column, then one row per material"
        ) from err
    except pd.errors.ParserError as err:
        raise DataError(f"{label} is not a readable CSV file: {err}") from err
    except UnicodeDecodeError as err:
        raise DataError(f"{label} is not UTF-8 text ({err}); save it as UTF-8 CSV") from err
    # spreadsheet exports often pad headers ("formula, band_gap"); users name them unpadded
    frame.columns = [column.strip() for column in frame.columns]
    if len(frame) == 0:
        raise DataError(
            f"{label} has a header line but no data rows (columns: "
            f"{_column_list(frame.columns)})"
        )
    dataset, _, _ = build_dataset(
        frame,
        CsvRows(path),
        formula_column=formula_column,
        targets=targets,
        on_invalid_target=on_invalid_target,
        aggregate=aggregate,
        name=file.name.split(".")[0] if name is None else name,
        source=f"CSV file {label}",
    )
    return dataset


def from_frame(
    df: pd.DataFrame,
    formula_column: str = "formula",
    targets: Sequence[str] | str | None = None,
    *,
    on_invalid_target: str = "drop",
    aggregate: str = "median",
    name: str = "frame",
    source: str | None = None,
) -> MaterialsDataset:
    """Validate an in-memory table; the same rules as :func:`load_csv`.

    Args:
        df: ``n_rows`` rows with a formula column (strings) and target columns (numbers, or
            text that parses as numbers). Not modified.
        formula_column: the column holding formulas.
        targets: the target columns; ``None`` means all numeric columns except the formula
            column (and text columns whose non-empty cells are mostly numbers).
        on_invalid_target: ``"drop"`` or ``"raise"``, as in :func:`load_csv`.
        aggregate: ``"median"``, ``"mean"``, ``"min"`` or ``"max"``, as in :func:`load_csv`.
        name: the data set's name.
        source: provenance sentence; default ``"in-memory DataFrame"``.

    Returns:
        A :class:`MaterialsDataset` with one row per unique reduced formula.

    Raises:
        DataError: as :func:`load_csv`; messages say "DataFrame, row 3" (plus the index
            label when the index is not the default ``0..n-1``).
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise DataError(f"DataFrame has no rows (columns: {_column_list(df.columns)})")
    not_text = [c for c in df.columns if not isinstance(c, str)]
    if not_text:
        raise DataError(f"DataFrame column names must be strings; got {not_text[:5]}")
    if not df.columns.is_unique:
        repeated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataError(f"DataFrame has repeated column names: {repeated}")
    dataset, _, _ = build_dataset(
        df,
        FrameRows(df.index),
        formula_column=formula_column,
        targets=targets,
        on_invalid_target=on_invalid_target,
        aggregate=aggregate,
        name=name,
        source="in-memory DataFrame" if source is None else source,
    )
    return dataset


def build_dataset(
    frame: pd.DataFrame,
    rows: RowLocator,
    *,
    formula_column: str,
    targets: Sequence[str] | str | None,
    on_invalid_target: str,
    aggregate: str,
    name: str,
    source: str,
    warn_on_conflicts: bool = True,
) -> tuple[MaterialsDataset, np.ndarray, np.ndarray]:
    """Validate, drop, merge: the steps shared by every loader.

    Args:
        frame: ``n_raw_rows`` rows as read; not modified.
        rows: names rows of ``frame`` in messages.
        formula_column, targets, on_invalid_target, aggregate, name, source: as in
            :func:`load_csv`.
        warn_on_conflicts: warn when rows of one formula disagree. Off for data sets where
            that is expected, such as polymorphs.

    Returns:
        ``(dataset, kept, codes)``: the data set; the positions in ``frame`` of the rows
        that survived dropping (``n_kept``); and the output row each of them went into
        (``n_kept``), so that a caller can merge further columns the same way.
    """
    _check_choice("on_invalid_target", on_invalid_target, ON_INVALID_TARGET)
    _check_choice("aggregate", aggregate, AGGREGATES)
    _require_column(frame, formula_column, rows.label, "formula column")
    target_names, ignored = _resolve_targets(frame, formula_column, targets, rows.label)

    reduced, compositions = _reduce_formulas(frame[formula_column], rows, formula_column)
    values = pd.DataFrame(
        {t: _to_float(frame[t], rows, t) for t in target_names}, index=pd.RangeIndex(len(frame))
    )
    _refuse_unusable(frame, values, rows)
    report: dict = {
        "n_raw_rows": len(frame),
        "formula_column": formula_column,
        "ignored_columns": ignored,
        "empty_columns": [c for c in ignored if _all_missing(frame[c])],
        "dropped_invalid_target": {},
        "n_rows_dropped": 0,
    }

    invalid = ~np.isfinite(values.to_numpy())  # n_raw_rows x n_targets
    kept = np.arange(len(frame))
    if invalid.any():
        if on_invalid_target == "raise":
            _raise_invalid_target(frame, invalid, target_names, rows)
        bad_rows = invalid.any(axis=1)
        kept = np.flatnonzero(~bad_rows)
        report["dropped_invalid_target"] = {
            t: int(n) for t, n in zip(target_names, invalid.sum(axis=0)) if n
        }
        report["n_rows_dropped"] = int(bad_rows.sum())
        counts = ", ".join(f"{t}: {n}" for t, n in report["dropped_invalid_target"].items())
        if len(kept) == 0:
            raise DataError(
                f"{rows.label}: every row has a missing target ({counts}); "
                "nothing is left to load"
            )
        warnings.warn(
            f"{rows.label}: dropped {report['n_rows_dropped']} of {len(frame)} rows with "
            f"missing targets ({counts})",
            UserWarning,
            stacklevel=3,
        )
        values = values.iloc[kept]

    aggregated, codes, merge_report = aggregate_by_formula(
        values, reduced[kept], aggregate, lambda position: rows.row(int(kept[position]))
    )
    report.update(merge_report)
    if warn_on_conflicts and report["conflicting_duplicates"]:
        example = report["conflict_examples"][0]
        warnings.warn(
            f"{rows.label}: {report['conflicting_duplicates']} formulas appear in several rows "
            f"with different target values, merged by {aggregate}; e.g. "
            f"{example['formula']} {example['column']} = {example['values']} "
            "(all of them: data_report.json in a campaign's run folder, or "
            "dataset.report['conflict_examples'] in Python)",
            UserWarning,
            stacklevel=3,
        )

    formulas = pd.unique(reduced[kept])
    out = pd.DataFrame(
        {"formula": formulas, "composition": [compositions[f] for f in formulas]}
    )
    out = pd.concat([out, aggregated.astype(float)], axis=1)
    report["n_rows"] = len(out)
    dataset = MaterialsDataset(
        name=name,
        frame=out,
        targets=tuple(target_names),
        source=source,
        n_raw_rows=len(frame),
        report=report,
    )
    return dataset, kept, codes


def _refuse_unusable(frame: pd.DataFrame, values: pd.DataFrame, rows: RowLocator) -> None:
    """Refuse infinite or absurdly large targets, and target columns without any value."""
    for column in values.columns:
        v = values[column].to_numpy()
        if not np.isfinite(v).any() and not np.isinf(v).any():
            raise DataError(
                f"target column {column!r} in {rows.label} has no values: all {len(v)} cells "
                "are empty or missing-value markers (NaN, NA, ...); fill it in, or leave it "
                "out of the targets (delete the column)"
            )
    with np.errstate(invalid="ignore"):
        bad = np.isinf(values.to_numpy()) | (np.abs(values.to_numpy()) > MAX_ABS_TARGET)
    if not bad.any():
        return
    first = int(np.flatnonzero(bad.any(axis=1))[0])
    j = int(np.argmax(bad[first]))
    column = values.columns[j]
    cell = frame[column].iloc[first]
    number = float(values[column].iloc[first])
    cell = cell if isinstance(cell, str) else number  # not "np.float64(...)" in a message
    kind = "infinite" if math.isinf(number) else "larger in magnitude than 1e150"
    others = np.flatnonzero(bad[:, j])
    also = [str(values.columns[k]) for k in np.flatnonzero(bad.any(axis=0)) if k != j]
    raise DataError(
        f"{rows.cell(first, column)}: target value {cell!r} is {kind}; targets must be finite "
        "numbers between -1e150 and 1e150, or no model can learn from the column (is the "
        "exponent or the unit wrong?). Correct the value, or empty the cell to leave this row "
        "out"
        + _other_rows(others, rows, "such values")
        + (f" (other columns with such values: {also})" if also else "")
    )


def _all_missing(column: pd.Series) -> bool:
    """Whether every cell of a column is empty, None/NaN or a missing-value marker."""
    if column.dtype.kind in "iufb":
        return bool(column.isna().all())
    texts = column.map(
        lambda c: "" if c is None or (isinstance(c, float) and math.isnan(c)) else str(c).strip()
    )
    return bool(texts.isin(["", *MISSING_MARKERS]).all())


def _check_choice(argument: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise DataError(f"{argument}={value!r} is not one of {valid}")


def _require_column(frame: pd.DataFrame, column: str, label: str, role: str) -> None:
    if column in frame.columns:
        return
    available = [str(c) for c in frame.columns]
    message = f"{role} {column!r} not found in {label}"
    # a case slip ('PF_P' for 'PF_p') is the likeliest typo, so it is suggested first
    matches = [c for c in available if c.lower() == str(column).lower()]
    matches += [
        c for c in difflib.get_close_matches(str(column), available, n=3, cutoff=0.6)
        if c not in matches
    ]
    if matches:
        message += "; did you mean " + " or ".join(repr(m) for m in matches) + "?"
    message += f" available: {_column_list(available)}"
    if len(available) == 1 and any(sep in available[0] for sep in ";\t|"):
        message += (
            " (only one column was found: is the file separated by something else than commas?)"
        )
    raise DataError(message)


def _column_list(columns: Sequence[object]) -> str:
    return ", ".join(repr(str(c)) for c in columns)


def _resolve_targets(
    frame: pd.DataFrame,
    formula_column: str,
    targets: Sequence[str] | str | None,
    label: str,
) -> tuple[list[str], list[str]]:
    """The target columns to load and, when inferred, the columns left out."""
    others = [c for c in frame.columns if c != formula_column]
    if targets is None:
        chosen = [c for c in others if _looks_numeric(frame[c])]
        ignored = [str(c) for c in others if c not in chosen]
    else:
        # a bare string is one column name, not a sequence of one-letter names
        chosen = [targets] if isinstance(targets, str) else list(targets)
        ignored = []
        for target in chosen:
            _require_column(frame, target, label, "target column")
        if formula_column in chosen:
            raise DataError(f"{formula_column!r} is the formula column and cannot be a target")
        repeated = sorted({t for t in chosen if chosen.count(t) > 1})
        if repeated:
            raise DataError(f"target columns listed more than once: {repeated}")
    clashing = [t for t in chosen if t in _RESERVED]
    if clashing:
        raise DataError(
            f"target column {clashing[0]!r} in {label} clashes with a column the data set "
            f"adds itself ({', '.join(_RESERVED)}); rename it"
        )
    return [str(t) for t in chosen], ignored


def _looks_numeric(column: pd.Series) -> bool:
    """Whether a column holds numbers: a numeric dtype, or mostly number-like text."""
    if column.dtype.kind in "iuf":
        return True
    if column.dtype.kind != "O" and not isinstance(column.dtype, pd.StringDtype):
        return False
    numbers, rejected = _parse_numbers(column)
    n_numbers = int((~np.isnan(numbers)).sum())
    return n_numbers > 0 and n_numbers >= len(rejected)


def _reduce_formulas(
    column: pd.Series, rows: RowLocator, name: str
) -> tuple[np.ndarray, dict[str, object]]:
    """The reduced formula of every row, and the composition of each reduced formula.

    Returns:
        ``(reduced, compositions)``: an ``n_rows`` array of str and a dict from reduced
        formula to pymatgen ``Composition``.
    """
    texts, bad = check_formula_column(column)
    unique = pd.unique(texts[~bad])
    parsed = {text: parse_formula(text) for text in unique}  # each unique string once
    failed = {text for text, result in parsed.items() if not isinstance(result, ParsedFormula)}
    if failed:
        bad |= texts.isin(failed).to_numpy()
    if bad.any():
        positions = np.flatnonzero(bad)
        first = int(positions[0])
        problem = _formula_problem(column.iloc[first], texts.iloc[first])
        raise DataError(
            f"{rows.cell(first, name)}: {problem}"
            + _other_rows(positions, rows, "invalid formulas")
        )
    reduced_of = {text: result.reduced_formula for text, result in parsed.items()}
    compositions = {result.reduced_formula: result.composition for result in parsed.values()}
    reduced = texts.map(reduced_of).to_numpy(dtype=object)
    return reduced, compositions


def _formula_problem(cell: object, text: str) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
        return "missing formula (empty cell); every row needs a formula like 'Fe2O3'"
    if not isinstance(cell, str):
        return f"expected a formula string like 'Fe2O3', got {type(cell).__name__} {cell!r}"
    return str(parse_formula(text))


def _other_rows(positions: np.ndarray, rows: RowLocator, what: str) -> str:
    others = positions[1:]
    if len(others) == 0:
        return ""
    numbers = ", ".join(str(int(p) + 1) for p in others[:_N_OTHER_ROWS])
    more = ", ..." if len(others) > _N_OTHER_ROWS else ""
    return f" ({len(others)} more rows with {what} in this column: rows {numbers}{more})"


def _to_float(column: pd.Series, rows: RowLocator, name: str) -> np.ndarray:
    """A target column as ``n_rows`` floats; missing cells become NaN, text is rejected."""
    if column.dtype.kind == "b":
        raise DataError(f"target column {name!r} in {rows.label} holds booleans, not numbers")
    if column.dtype.kind in "iuf":
        return column.to_numpy(dtype=float)
    numbers, rejected = _parse_numbers(column)
    if len(rejected):
        first = int(rejected[0])
        raise DataError(
            f"{rows.cell(first, name)}: non-numeric value {column.iloc[first]!r}; a target "
            "must be a number like 1.5 or 2e-3 (leave the cell empty or write NaN if missing)"
            + _other_rows(rejected, rows, "non-numeric values")
        )
    return numbers


def _parse_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Read text cells as numbers.

    Returns:
        ``(numbers, rejected)``: ``n_rows`` floats, NaN where the cell is missing (empty,
        ``None`` or a marker such as "NA") or not a number; and the positions of the cells
        that are not numbers.
    """
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    rejected = []
    for position in np.flatnonzero(np.isnan(numbers) & column.notna().to_numpy()):
        text = str(column.iloc[position]).strip()
        if text in MISSING_MARKERS:
            continue
        try:
            # pandas gives up on overflow ("1e400"); Python reads it as inf, which is then
            # handled like any other invalid target
            numbers[position] = float(text)
        except ValueError:
            rejected.append(position)
    return numbers, np.asarray(rejected, dtype=int)


def _raise_invalid_target(
    frame: pd.DataFrame, invalid: np.ndarray, targets: list[str], rows: RowLocator
) -> None:
    """Stop at the first missing target (infinite and huge ones were refused before)."""
    bad_rows = np.flatnonzero(invalid.any(axis=1))
    first = int(bad_rows[0])
    column = targets[int(np.argmax(invalid[first]))]
    cell = frame[column].iloc[first]
    raise DataError(
        f"{rows.cell(first, column)}: target value {cell!r} is missing; targets must be finite "
        "numbers (pass on_invalid_target='drop' to drop such rows)"
        + (
            f" ({len(bad_rows) - 1} more rows have missing targets)"
            if len(bad_rows) > 1
            else ""
        )
    )


def _nearby_files_hint(file: Path) -> str:
    parent = file.parent
    if not parent.is_dir():
        return f" (the folder {str(parent)!r} does not exist either)"
    names = [p.name for p in parent.iterdir() if p.is_file()]
    matches = difflib.get_close_matches(file.name, names, n=3, cutoff=0.6)
    if matches:
        return "; did you mean " + " or ".join(repr(str(parent / m)) for m in matches) + "?"
    return ""
