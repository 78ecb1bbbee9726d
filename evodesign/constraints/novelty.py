"""Novelty: designs that are not known materials, and the nearest known one.

Registered for the ``"composition"`` space kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Composition

from evodesign.constraints.base import Constraint, DesignBatch
from evodesign.constraints.composition import counts_of, empty_rows, reduce_counts
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.representation import CompositionSpace

__all__ = ["Novelty", "known_formula_counts", "nearest_known"]


class Novelty(Constraint):
    """Not a known formula: 1 if the reduced formula is among the known ones, else 0.

    Args:
        space: the composition space whose columns the counts use.
        known: the known formulas (e.g. the training data): a `(m, n_var)` integer count
            array over the space, or ``m`` pymatgen Compositions or formula strings
            (those with elements outside the space are skipped: no design can equal them).

    Formulas are compared after dividing by the gcd, so ``Fe4O6`` equals ``Fe2O3``.
    Empty rows give 1.

    Attributes:
        known_counts: `(m', n_var)` reduced integer counts of the known formulas kept.
        known_index: `(m',)` positions of those formulas in ``known``.
    """

    name = "novelty"

    def __init__(
        self, space: CompositionSpace, known: ArrayLike | Sequence[Composition | str]
    ) -> None:
        self.space = space
        self.known_counts, self.known_index = known_formula_counts(space, known)
        self._known_ids = np.unique(space.row_ids(self.known_counts))

    def describe(self) -> str:
        return f"novel: not one of the {len(self._known_ids):,} known formulas (reduced)"

    def is_known(self, counts: ArrayLike) -> NDArray[np.bool_]:
        """`(n,)` True where the `(n, n_var)` counts reduce to a known formula."""
        ids = self.space.row_ids(reduce_counts(counts))
        if len(self._known_ids) == 0:
            return np.zeros(len(ids), dtype=bool)
        pos = np.minimum(np.searchsorted(self._known_ids, ids), len(self._known_ids) - 1)
        return self._known_ids[pos] == ids

    def nearest(self, counts: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Nearest known formula of each row; see :func:`nearest_known`.

        Returns:
            ``(index, distance)``, each `(n,)`; ``index`` points into ``known`` as given.
        """
        index, distance = nearest_known(self.space, counts, self.known_counts)
        return np.where(index >= 0, self.known_index[np.maximum(index, 0)], -1), distance

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        counts = counts_of(batch, self.space.n_var, self)
        return np.where(self.is_known(counts) | empty_rows(counts), 1.0, 0.0)


def known_formula_counts(
    space: CompositionSpace, known: ArrayLike | Sequence[Composition | str]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Reduced integer counts of known formulas over a space's columns.

    Args:
        space: the composition space.
        known: a `(m, n_var)` non-negative integer array, or ``m`` pymatgen Compositions
            or formula strings. Non-integer amounts (``Bi0.5Sb1.5Te3``) are turned into
            the smallest integer formula (``BiSb3Te6``).

    Returns:
        ``(counts, index)``: a `(m', n_var)` int64 array of gcd-reduced formulas with at
        least one atom, and the `(m',)` positions in ``known`` they come from (formulas
        with elements outside the space, and empty ones, are left out).

    Raises:
        DataError: an array of the wrong width, negative or non-integer counts, or a
            formula that cannot be parsed (naming its row).
    """
    if isinstance(known, np.ndarray) or (
        len(known) > 0 and not isinstance(known[0], (str, Composition))  # type: ignore[index]
    ):
        counts = np.asarray(known)
        if counts.ndim != 2 or counts.shape[1] != space.n_var:
            raise DataError(
                f"known counts must have shape (m, {space.n_var}), got {counts.shape}"
            )
        if counts.size and not np.array_equal(counts, np.round(counts)):
            raise DataError("known counts must be integers; give compositions for fractions")
        if (counts < 0).any():
            raise DataError("known counts must be non-negative")
        counts = reduce_counts(counts.astype(np.int64))
        index = np.flatnonzero(counts.any(axis=1))
        return counts[index], index

    column = {el: i for i, el in enumerate(space.elements)}
    rows: list[NDArray[np.int64]] = []
    index_list: list[int] = []
    for position, item in enumerate(known):
        try:
            comp = item if isinstance(item, Composition) else Composition(item, strict=True)
        except (ValueError, KeyError) as err:
            raise DataError(f"known formula {item!r} (row {position}) is invalid: {err}") from err
        amounts = comp.get_el_amt_dict()
        if not amounts or any(el not in column for el in amounts):
            continue
        if any(abs(a - round(a)) > 1e-6 for a in amounts.values()):
            integer_formula = comp.get_integer_formula_and_factor()[0]
            amounts = Composition(integer_formula).get_el_amt_dict()
        row = np.zeros(space.n_var, dtype=np.int64)
        for el, amount in amounts.items():
            row[column[el]] = round(amount)
        rows.append(row)
        index_list.append(position)
    counts = np.array(rows, dtype=np.int64).reshape(len(rows), space.n_var)
    return reduce_counts(counts), np.array(index_list, dtype=np.int64)


def nearest_known(
    space: CompositionSpace,
    counts: ArrayLike,
    known_counts: ArrayLike,
    max_bytes: int = 64 * 2**20,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The known formula nearest to each design, by L1 distance of atomic fractions.

    Uses ``|a - b|_1 = sum(a) + sum(b) - 2 sum(min(a, b))`` for non-negative vectors, where
    only the few elements present in the design contribute to the last sum, so the cost
    is `n * m * k` for designs of at most ``k`` elements, in chunks of about
    ``max_bytes`` of temporaries (1,000 designs x 35,000 known x 89 elements is fine).

    Args:
        space: the composition space whose columns both arrays use.
        counts: a `(n, n_var)` array of non-negative counts (or fractions).
        known_counts: a `(m, n_var)` array of non-negative counts (or fractions), m >= 1.
        max_bytes: a bound on the temporary arrays.

    Returns:
        ``(index, distance)``: the `(n,)` row of ``known_counts`` nearest to each design
        (the first on ties) and the `(n,)` L1 distance between fraction vectors, in [0, 2].
        Empty design rows give index -1 and distance NaN.
    """
    A = _fractions(_as_width(counts, space.n_var, "design counts"))
    B = _fractions(_as_width(known_counts, space.n_var, "known counts"))
    n, m = len(A), len(B)
    if m == 0:
        raise DataError("no known formulas to compare with")
    index = np.full(n, -1, dtype=np.int64)
    distance = np.full(n, np.nan)
    if n == 0:
        return index, distance
    k = max(1, int((A > 0).sum(axis=1).max()))
    cols = np.argsort(A <= 0, axis=1, kind="stable")[:, :k]  # present columns first
    vals = np.take_along_axis(A, cols, axis=1)  # (n, k), zero-padded
    Bt = np.ascontiguousarray(B.T)  # (n_var, m): one known column per row, for gathers
    sa, sb = A.sum(axis=1), B.sum(axis=1)
    chunk = max(1, int(max_bytes) // (3 * 8 * m))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        overlap = np.zeros((stop - start, m))
        for j in range(k):
            overlap += np.minimum(vals[start:stop, j, None], Bt[cols[start:stop, j]])
        dist = sa[start:stop, None] + sb[None, :] - 2.0 * overlap
        best = np.argmin(dist, axis=1)
        index[start:stop] = best
        distance[start:stop] = np.maximum(dist[np.arange(stop - start), best], 0.0)
    empty = ~(A > 0).any(axis=1)
    index[empty] = -1
    distance[empty] = np.nan
    return index, distance





def _fractions(amounts: ArrayLike) -> NDArray[np.float64]:
    """Row-normalized `(n, n_var)` amounts; empty rows stay zero instead of NaN."""
    amounts = np.asarray(amounts, dtype=np.float64)
    totals = amounts.sum(axis=1, keepdims=True)
    return amounts / np.where(totals > 0, totals, 1.0)


def _as_width(array: ArrayLike, n_var: int, what: str) -> NDArray[np.float64]:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != n_var:
        raise DataError(f"{what} must have shape (n, {n_var}), got {array.shape}")
    if (array < 0).any():
        raise DataError(f"{what} must be non-negative")
    return array
