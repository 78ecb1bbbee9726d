"""Checks of the vectors the models and operators accept: non-negative rows summing to 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from operators.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["check_simplex", "check_shape"]

_SUM_TOLERANCE = 1e-6


def check_shape(X: ArrayLike, n_var: int, name: str = "X") -> NDArray[np.float64]:
    """``X`` as a float64 `(n, n_var)` array of finite values, else a :class:`DataError`."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_var:
        raise DataError(
            f"{name} must have shape (n, {n_var}) -- the vector length the model was trained "
            f"on -- got {X.shape}"
        )
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{name} has a non-finite value at row {row}, component {col}")
    return X


def check_simplex(X: ArrayLike, name: str = "X", renormalize: bool = True) -> NDArray[np.float64]:
    """Validate fraction vectors and return them as float64.

    Args:
        X: a `(n, n_var)` array of non-negative rows summing to 1 (within 1e-6).
        name: how the array is called in error messages.
        renormalize: divide each row by its sum (for training); ``False`` keeps the
            values bit for bit (for vectors handed back to the caller).

    Returns:
        A `(n, n_var)` float64 array.

    Raises:
        DataError: naming the first offending row.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise DataError(f"{name} must be a non-empty 2-d array (n, n_var), got shape {X.shape}")
    X = check_shape(X, X.shape[1], name)
    neg = X < 0
    if neg.any():
        row, col = np.argwhere(neg)[0]
        raise DataError(
            f"{name} has a negative fraction {X[row, col]} at row {row}, component {col}"
        )
    sums = X.sum(axis=1)
    off = np.abs(sums - 1.0) > _SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise DataError(f"row {row} of {name} sums to {sums[row]:.6g}, not 1: pass fractions")
    return X / sums[:, None] if renormalize else X
