"""Evaluating a batch of designs in parallel: joblib on one machine, its dask backend beyond.

A loop's evaluator is any callable ``evaluate(designs_chunk) -> DataFrame`` (one row per
design, one column per target, NaN = failed evaluation). :func:`evaluate_batch` cuts the batch
into contiguous chunks, runs them through ``joblib.Parallel`` and puts the rows back in the
input order, so the result does not depend on ``n_jobs``, the backend or the chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs, parallel_config

from evodesign.exceptions import DataError, UsageError

__all__ = ["BACKENDS", "SolverEvaluator", "evaluate_batch"]

BACKENDS = ("loky", "threading", "dask")

Designs = pd.DataFrame | np.ndarray
Evaluate = Callable[[Designs], Any]


@dataclass(frozen=True)
class SolverEvaluator:
    """The physics solver as a loop's evaluator: images -> effective conductivities.

    A plain module-level dataclass, so joblib's loky and dask workers unpickle it by reference.

    Args:
        conductivity: ``(k_matrix, k_filler)``, both > 0.

    Example:
        >>> stripes = np.zeros((1, 4, 4), dtype=np.uint8); stripes[0, :2] = 1
        >>> SolverEvaluator((1.0, 10.0))(stripes).round(6).to_dict("records")
        [{'k_xx': 5.5, 'k_yy': 1.818182}]
    """

    conductivity: tuple[float, float] = (1.0, 10.0)

    targets = ("k_xx", "k_yy")

    def __call__(self, images: np.ndarray) -> pd.DataFrame:
        """Args: images: ``(n, H, W)`` 0/1 (1 = filler). Returns: ``n`` rows, ``k_xx``, ``k_yy``."""
        from evodesign.physics import effective_conductivity

        images = np.asarray(images)
        if len(images) == 0:
            return pd.DataFrame({"k_xx": np.empty(0), "k_yy": np.empty(0)})
        k = effective_conductivity(images, tuple(self.conductivity), direction="both")
        return pd.DataFrame({"k_xx": k[:, 0], "k_yy": k[:, 1]})


def evaluate_batch(
    evaluate: Evaluate,
    designs: Designs,
    targets: Sequence[str],
    n_jobs: int = 1,
    backend: str | None = None,
    chunk_size: int | None = None,
) -> pd.DataFrame:
    """Evaluate ``designs`` in chunks, in parallel, keeping their order.

    Args:
        evaluate: ``evaluate(chunk) -> DataFrame`` (or a dict of arrays) with one row per design
            of the chunk and a numeric column per target; NaN marks a failed evaluation. With
            ``n_jobs != 1`` it must be picklable (a module-level function or class instance).
        designs: a DataFrame (one design per row), or an array of ``n`` designs: images
            ``(n, H, W)`` or vectors ``(n, n_var)``.
        targets: the columns to return.
        n_jobs: joblib workers (``-1``: all cores, or all dask workers' threads).
        backend: None (in-process for ``n_jobs == 1``, else ``"loky"``), ``"loky"``,
            ``"threading"`` or ``"dask"`` (needs a running ``dask.distributed.Client``).
        chunk_size: designs per call of ``evaluate``; by default the batch split in about two
            chunks per worker (one chunk in all when ``n_jobs == 1``).

    Returns:
        float64 frame: ``n`` rows in ``designs``' order (a DataFrame's index kept), columns
        ``targets``.

    Raises:
        UsageError: unknown backend, bad ``n_jobs`` / ``chunk_size``, dask without a client.
        DataError: ``evaluate`` returned something else than one numeric row per design for
            each target; the message names the chunk's first row.
    """
    if isinstance(targets, str) or not list(targets):
        raise UsageError(f"targets must be a non-empty list of column names, got {targets!r}")
    targets = list(targets)
    if not isinstance(designs, (pd.DataFrame, np.ndarray)):
        raise UsageError(f"designs must be a pandas DataFrame or a numpy array, got {type(designs).__name__}")
    if isinstance(designs, np.ndarray) and designs.ndim < 2:
        raise UsageError(f"an array of designs must be (n, n_var) or (n, H, W), got shape {designs.shape}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise UsageError(f"n_jobs must be a positive integer or -1 (all workers), got {n_jobs!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise UsageError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if backend is not None and backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    n = len(designs)
    index = designs.index if isinstance(designs, pd.DataFrame) else pd.RangeIndex(n)
    if n == 0:
        return pd.DataFrame({t: np.empty(0) for t in targets}, index=index)
    if backend is None:
        backend = "sequential" if n_jobs == 1 else "loky"
    if backend == "dask":
        _require_dask_client()
    with parallel_config(backend=backend):
        # under dask, -1 means every worker thread of the cluster: ask the active backend
        workers = 1 if backend == "sequential" else effective_n_jobs(n_jobs)
        size = chunk_size or math.ceil(n / (1 if workers == 1 else 2 * workers))
        starts = range(0, n, size)
        chunks = [designs.iloc[a : a + size] if isinstance(designs, pd.DataFrame) else designs[a : a + size] for a in starts]
        outputs = Parallel(n_jobs=n_jobs)(delayed(evaluate)(chunk) for chunk in chunks)
    parts = [_checked_output(out, len(chunk), start, targets) for out, chunk, start in zip(outputs, chunks, starts)]
    result = np.concatenate(parts)
    return pd.DataFrame(result, index=index, columns=targets)


def _require_dask_client() -> None:
    try:
        from distributed import get_client
    except ImportError as error:  # pragma: no cover - dask is an optional extra
        raise UsageError("backend 'dask' needs dask[distributed]: pip install 'evodesign[dask]'") from error
    try:
        get_client()
    except ValueError as error:
        raise UsageError(
            "backend 'dask' needs a running dask.distributed.Client in this process: start one "
            "first, e.g. `client = distributed.Client('tcp://HOST:8786')` (the address printed by "
            "`dask scheduler`) or `distributed.Client(distributed.LocalCluster())` on one machine"
        ) from error


def _checked_output(out: object, n: int, start: int, targets: list[str]) -> np.ndarray:
    """One chunk's result as an ``(n, n_targets)`` float array, or a DataError naming the chunk."""
    where = f"evaluate() on the chunk of designs starting at row {start} ({n} designs)"
    if isinstance(out, Mapping) and not isinstance(out, pd.DataFrame):
        lengths = {key: np.shape(value)[0] if np.ndim(value) else None for key, value in out.items()}
        if any(length != n for key, length in lengths.items() if key in targets):
            raise DataError(f"{where} returned arrays of lengths {lengths}; expected {n} values per target")
        out = pd.DataFrame({key: value for key, value in out.items() if key in targets})
    if not isinstance(out, pd.DataFrame):
        raise DataError(f"{where} returned a {type(out).__name__}; expected a pandas DataFrame or a dict of arrays")
    if len(out) != n:
        raise DataError(f"{where} returned {len(out)} rows; expected one per design ({n})")
    missing = [t for t in targets if t not in out.columns]
    if missing:
        raise DataError(f"{where} returned no column {', '.join(map(repr, missing))} (it has {list(out.columns)})")
    columns = []
    for target in targets:
        column = out[target]
        if pd.api.types.is_bool_dtype(column):
            raise DataError(f"{where}: column {target!r} is boolean; expected numbers (NaN = failure)")
        try:
            values = pd.to_numeric(column, errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            raise DataError(f"{where}: column {target!r} is not numeric ({error})") from error
        if np.isinf(values).any():
            row = start + int(np.flatnonzero(np.isinf(values))[0])
            raise DataError(f"{where}: column {target!r} is infinite at row {row}; return NaN for a failure")
        columns.append(values)
    return np.stack(columns, axis=1)
