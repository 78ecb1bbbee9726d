"""One opaque scalar per row of an array: the way the engine compares designs in bulk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["row_ids"]


def row_ids(rows: ArrayLike) -> NDArray[np.void]:
    """The bytes of each row of a `(n, k)` array viewed as one scalar, `(n,)`.

    Equal rows (bytewise) give equal ids, so ``np.unique``, ``np.isin`` and
    ``np.searchsorted`` find duplicates and known designs of a whole population in one
    vectorized call. Normalise first where equal values may differ in bytes (``-0.0``).

    Example:
        >>> ids = row_ids(np.array([[1, 2], [1, 2], [2, 1]]))
        >>> len(np.unique(ids))
        2
    """
    rows = np.ascontiguousarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"expected a (n, k) array of rows, got shape {rows.shape}")
    return rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1])))[:, 0]
