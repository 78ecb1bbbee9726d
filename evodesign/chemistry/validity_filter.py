"""The acceptance test of validity-guided variation: does a vector decode to a valid formula?

:mod:`operators` redraws offspring that a caller's ``accept(X)`` rejects (see
:mod:`operators.acceptance`); :class:`ValidityFilter` is that test for compositions. It
decodes the vectors the way the search will (:meth:`CompositionSpace.decode`, by default
with the SMACT-preferring repair) and returns the SMACT check of the decoded formulas. Its
``identity`` is the decoded formula, so a child that decodes to a parent's formula counts
as a clone.

Validity is cached per reduced formula (a sorted array of formula ids, looked up with one
``searchsorted`` per batch), so a formula seen before -- in an earlier generation, an
earlier redraw, or as a repair candidate -- costs nothing; only new formulas reach
:class:`SmactValidity`. The last decoded batch is remembered too, so ``identity(X)`` and
:meth:`ValidityFilter.decode` right after ``filter(X)`` do not decode ``X`` again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.chemistry.charge_balance import SmactValidity
from evodesign.exceptions import DataError
from evodesign.representation.rows import row_ids

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.representation import CompositionSpace

__all__ = ["CachedSmactValidity", "ValidityFilter"]

MODES = ("strict", "cdvae")


class CachedSmactValidity:
    """:class:`SmactValidity` in one mode, remembering the answer for every formula seen.

    Args:
        elements: the vocabulary, one symbol per column of the count arrays.
        mode: ``"strict"`` (charge-neutral and electronegativity-balanced) or ``"cdvae"``
            (the same, all-metal formulas pass).
        max_cache: forget everything once this many formulas are cached (bounds memory);
            0 turns the cache off.
        min_state_share: see :class:`SmactValidity`.
    """

    def __init__(
        self, elements: Any, mode: str = "strict", max_cache: int = 2_000_000, min_state_share: float = 0.0
    ) -> None:
        if mode not in MODES:
            raise DataError(f"unknown validity mode {mode!r}; choose one of {MODES}")
        self.check = SmactValidity(elements, min_state_share)
        self.mode = mode
        self.max_cache = int(max_cache)
        self.clear()

    def clear(self) -> None:
        """Forget the cached answers."""
        self._ids = np.zeros(0, dtype=np.dtype((np.void, 2 * len(self.check.elements))))
        self._ok = np.zeros(0, dtype=bool)

    def __len__(self) -> int:
        return len(self._ids)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_ids"), state.pop("_ok")  # a cache, not state
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.clear()

    def __call__(self, counts: ArrayLike) -> NDArray[np.bool_]:
        """Validity of `(n, n_var)` non-negative integer counts, `(n,)` bools."""
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[1] != len(self.check.elements):
            raise DataError(
                f"expected counts of shape (n, {len(self.check.elements)}), got {counts.shape}"
            )
        if len(counts) == 0:
            return np.zeros(0, dtype=bool)
        if (counts < 0).any():
            raise DataError("counts must be non-negative")
        counts = counts.astype(np.int64)
        reduced = counts // np.maximum(np.gcd.reduce(counts, axis=1), 1)[:, None]
        if reduced.max() > np.iinfo(np.int16).max:
            return self.check(reduced, include_alloys=self.mode == "cdvae")
        ids = row_ids(reduced.astype(np.int16))
        unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        pos = np.searchsorted(self._ids, unique)
        known = pos < len(self._ids)
        known[known] = self._ids[pos[known]] == unique[known]
        ok = np.empty(len(unique), dtype=bool)
        ok[known] = self._ok[pos[known]]
        new = ~known
        if new.any():
            ok[new] = self.check(reduced[first[new]], include_alloys=self.mode == "cdvae")
            if len(self._ids) + int(new.sum()) > self.max_cache:
                self.clear()  # a search's recent formulas are the ones that recur
            keep = np.flatnonzero(new)[: max(self.max_cache, 0)]
            ids_all = np.concatenate([self._ids, unique[keep]])
            order = np.argsort(ids_all, kind="stable")
            self._ids = ids_all[order]
            self._ok = np.concatenate([self._ok, ok[keep]])[order]
        return ok[np.asarray(inverse).reshape(-1)]


class ValidityFilter:
    """``accept(X)`` for validity-guided variation: vectors that decode to SMACT-valid formulas.

    Picklable (the cache is not pickled), so operators holding it still pickle.

    Args:
        space: the composition space the vectors live in.
        mode: ``"strict"`` (default) or ``"cdvae"`` (all-metal formulas pass).
        repair: decode with the SMACT-preferring repair (:meth:`CompositionSpace.decode`),
            as the search decodes; ``False``: plain decoding.
        repair_tol: how far (L1 on fractions) a repaired formula may move.
        min_state_share: see :class:`SmactValidity`.

    Example:
        >>> from evodesign.representation import CompositionSpace
        >>> accept = ValidityFilter(CompositionSpace(["O", "Na", "Cl", "Fe"]))
        >>> accept([[0.6, 0.0, 0.0, 0.4], [0.0, 1 / 3, 2 / 3, 0.0]]).tolist()  # Fe2O3, NaCl2
        [True, False]
    """

    def __init__(
        self,
        space: CompositionSpace,
        mode: str = "strict",
        repair: bool = True,
        repair_tol: float = 0.1,
        min_state_share: float = 0.0,
    ) -> None:
        self.space = space
        self.mode = mode
        self.repair = bool(repair)
        self.repair_tol = float(repair_tol)
        self.valid = CachedSmactValidity(space.elements, mode, min_state_share=min_state_share)
        self._last: tuple[NDArray, NDArray, NDArray] | None = None

    def __repr__(self) -> str:
        return f"ValidityFilter({self.space!r}, mode={self.mode!r}, repair={self.repair})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_last"] = None
        return state

    def decode(self, X: ArrayLike) -> NDArray[np.int64]:
        """Integer formulas of `(n, n_var)` vectors, `(n, n_var)`, as this filter decodes them.

        The last batch is remembered: calling this (or ``identity``) right after
        ``filter(X)`` on the same, unchanged array costs a comparison, not a decoding.
        """
        X = np.asarray(X, dtype=np.float64)
        last = self._last
        if last is not None and last[0].shape == X.shape and np.array_equal(last[0], X):
            return last[1]
        repair = self.valid if self.repair else None
        counts = self.space.decode(X, check=repair, repair_tol=self.repair_tol)
        self._last = (X.copy(), counts, self.valid(counts))
        return counts

    def __call__(self, X: ArrayLike) -> NDArray[np.bool_]:
        """SMACT validity of the decoded `(n, n_var)` vectors, `(n,)` bools."""
        self.decode(X)
        assert self._last is not None
        return self._last[2].copy()

    def identity(self, X: ArrayLike) -> NDArray[np.void]:
        """The decoded formula of each `(n, n_var)` vector as an opaque id, `(n,)`."""
        return self.space.row_ids(self.decode(X))
