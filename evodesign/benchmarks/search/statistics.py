"""Summaries over seeds and paired tests of ``evodesign bench search``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["evals_to_reach", "summarize", "wilcoxon_paired"]


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Median, quartiles, range and count of the finite ``values`` (None and NaN skipped);
    ``values`` keeps every seed's value (None where it was missing or not finite)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return {"median": None, "q25": None, "q75": None, "min": None, "max": None, "n": 0, "values": list(values)}
    return {
        "median": float(np.median(v)),
        "q25": float(np.quantile(v, 0.25)),
        "q75": float(np.quantile(v, 0.75)),
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(len(v)),
        "values": [None if x is None or not np.isfinite(x) else float(x) for x in values],
    }


def wilcoxon_paired(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Paired two-sided Wilcoxon signed-rank test of ``a`` vs ``b`` (seeds paired)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    out: dict[str, Any] = {"n": int(len(a)), "wins": int((a > b).sum()), "losses": int((a < b).sum())}
    try:
        from scipy.stats import wilcoxon
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return {**out, "p_value": None, "note": "scipy not installed"}
    if len(a) < 2 or np.all(a == b):
        return {**out, "p_value": None, "note": "too few seeds or no differences"}
    p = float(wilcoxon(a, b, alternative="two-sided").pvalue)
    note = f"smallest possible two-sided p with {len(a)} pairs is {2 / 2 ** len(a):.3g}"
    return {**out, "p_value": p, "note": note}


def evals_to_reach(trajectory: list[tuple[int, float]], target: float) -> int | None:
    """The first ``n_eval`` of ``(n_eval, hv)`` pairs whose HV reaches ``target``, or None."""
    for n_eval, hv in trajectory:
        if hv >= target:
            return int(n_eval)
    return None

