"""Merging rows that share a reduced formula, and saying how much they disagreed.

A composition-based model sees "Fe2O3" and "Fe4O6" (or two polymorphs of Fe2O3) as the same
input, so the data set keeps one row per reduced formula. Duplicates that disagree are
counted, never silently averaged away: the rule is that values ``a`` and ``b`` of one
formula conflict when ``|a - b| > CONFLICT_ATOL + CONFLICT_RTOL * max(|a|, |b|)``, i.e. they
differ by more than 1 % of the larger magnitude (and by more than 1e-9 absolute, so that
zeros and round-off do not count).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["AGGREGATES", "CONFLICT_ATOL", "CONFLICT_RTOL", "aggregate_by_formula"]

#: How duplicate rows of one formula can be combined, per target column.
AGGREGATES = ("median", "mean", "min", "max")
CONFLICT_RTOL = 0.01
CONFLICT_ATOL = 1e-9
_N_EXAMPLES = 5
_N_EXAMPLE_ROWS = 10  # SiO2 has 246 polymorphs; an example need not list them all


def aggregate_by_formula(
    values: pd.DataFrame,
    keys: np.ndarray,
    how: str,
    describe_row: Callable[[int], str],
) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Combine rows with equal keys, in order of first appearance.

    Args:
        values: ``n_rows x n_targets`` finite floats.
        keys: ``n_rows`` reduced formulas.
        how: one of :data:`AGGREGATES`.
        describe_row: turns a row position of ``values`` into words for the report.

    Returns:
        ``(aggregated, codes, report)``: an ``n_formulas x n_targets`` frame with a
        RangeIndex, the ``n_rows`` group number of each row, and a report with
        ``n_duplicate_formulas`` (formulas seen more than once), ``n_rows_merged`` (rows
        that disappeared into another), ``conflicting_duplicates`` (formulas whose rows
        conflict in at least one target), ``conflicting_duplicates_by_column`` and
        ``conflict_examples`` (up to five formulas, each with its first conflicting
        column, ``n_rows``, and the values and rows of up to ten of them).
    """
    codes, uniques = pd.factorize(keys)
    sizes = np.bincount(codes, minlength=len(uniques))
    duplicated = sizes > 1
    report: dict = {
        "aggregate": how,
        "n_duplicate_formulas": int(duplicated.sum()),
        "n_rows_merged": int(len(keys) - len(uniques)),
        "conflict_rule": (
            f"|a - b| > {CONFLICT_ATOL:g} + {CONFLICT_RTOL:g} * max(|a|, |b|) "
            "between rows of one formula"
        ),
        "conflicting_duplicates": 0,
        "conflicting_duplicates_by_column": {},
        "conflict_examples": [],
    }
    if not duplicated.any():
        return values.reset_index(drop=True), codes, report
    if values.shape[1] == 0:
        return pd.DataFrame(index=pd.RangeIndex(len(uniques))), codes, report

    grouped = values.groupby(codes, sort=True)
    aggregated = grouped.agg(how).reset_index(drop=True)

    low = grouped.min().to_numpy()
    high = grouped.max().to_numpy()
    tolerance = CONFLICT_ATOL + CONFLICT_RTOL * np.maximum(np.abs(low), np.abs(high))
    conflict = (high - low) > tolerance  # n_formulas x n_targets; singletons have 0 spread
    report["conflicting_duplicates"] = int(conflict.any(axis=1).sum())
    report["conflicting_duplicates_by_column"] = {
        column: int(count) for column, count in zip(values.columns, conflict.sum(axis=0)) if count
    }
    # one example per formula (its first conflicting column) shows more variety than
    # every column of the first formula
    for group in np.flatnonzero(conflict.any(axis=1))[:_N_EXAMPLES]:
        column = int(np.argmax(conflict[group]))
        positions = np.flatnonzero(codes == group)[:_N_EXAMPLE_ROWS]
        report["conflict_examples"].append(
            {
                "formula": str(uniques[group]),
                "column": str(values.columns[column]),
                "n_rows": int(sizes[group]),
                "values": [float(v) for v in values.iloc[positions, column]],
                "rows": [describe_row(int(p)) for p in positions],
            }
        )
    return aggregated, codes, report
