"""SMACT chemical validity (charge neutrality + Pauling electronegativity), vectorized.

:class:`SmactValidity` gives the same answers as ``smact.screening.smact_validity`` with its
default oxidation states (SMACT's ICSD-24 set: states seen in >= 3 ICSD entries) for a whole
batch of integer formulas at once:

* a formula is **charge-neutral** when some assignment of one oxidation state per element
  makes ``sum(count_i * ox_i) == 0``;
* it is **electronegativity-balanced** (Pauling test) when, in that assignment, every
  cation is less electronegative than every anion (an element without a Pauling
  electronegativity fails the test, as in SMACT);
* ``strict`` validity needs both for the same assignment. ``include_alloys=True`` is the
  CDVAE-style variant: all-metal formulas pass without the test. Single elements pass.

``min_state_share`` narrows the oxidation states to the common ones: a state counts only
if it accounts for at least that percentage of its element's ICSD-24 reports (SMACT's
``commonality`` threshold). 0 keeps SMACT's default set, in which rare states such as
Zn+3, O-1 (peroxides) or N+2 let formulas like ZnF3 or NaS2O13 balance; 0.5 removes them
and keeps the Zintl and chalcogenide states of thermoelectrics (GeTe, CoSb3, Mg2Si,
Bi2Te3); see docs/benchmarks/NOTES.md for what each threshold keeps.

Instead of SMACT's per-formula ``itertools.product`` loop over oxidation-state assignments,
formulas with the same number of elements are checked together by reachable-charge sets
on precomputed tables (see :meth:`SmactValidity._split_sums`), and each distinct formula
is checked once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["SmactValidity"]

# Rows per chunk: bounds the (rows, charges) temporaries to a few MB.
_CHUNK_ROWS = 1024


@functools.lru_cache(maxsize=8)
def _smact_tables(
    min_state_share: float = 0.0,
) -> tuple[dict[str, list[int]], dict[str, float | None], frozenset[str]]:
    from smact import Element, metals
    from smact.screening import ICSD24FilterConfig, _get_icsd24_oxidation_dict

    config = ICSD24FilterConfig()
    commonality = config.commonality if min_state_share <= 0 else float(min_state_share)
    states = _get_icsd24_oxidation_dict(config.include_zero, config.consensus, commonality)
    enegs: dict[str, float | None] = {}
    for symbol in states:
        try:
            enegs[symbol] = Element(symbol).pauling_eneg
        except (NameError, KeyError, ValueError):
            enegs[symbol] = None
    return states, enegs, frozenset(metals)


class SmactValidity:
    """Batch SMACT validity over a fixed element vocabulary.

    Args:
        elements: the vocabulary, one symbol per column of the count arrays.
        min_state_share: percentage of its element's ICSD-24 reports an oxidation state
            needs to count (module docs); 0: SMACT's default set.

    Example:
        >>> check = SmactValidity(["O", "Na", "Cl", "Fe"])
        >>> check([[3, 0, 0, 2], [0, 1, 2, 0]]).tolist()   # Fe2O3, NaCl2
        [True, False]
    """

    def __init__(self, elements: Sequence[str], min_state_share: float = 0.0) -> None:
        if not 0 <= float(min_state_share) < 100:
            raise DataError(f"min_state_share is a percentage in [0, 100), got {min_state_share!r}")
        self.min_state_share = float(min_state_share)
        states, enegs, metals = _smact_tables(self.min_state_share)
        self.elements = tuple(elements)
        n = len(self.elements)
        width = max(len(v) for v in states.values())
        self._max_state = max(abs(o) for v in states.values() for o in v)
        # (n_var, width) positive states and magnitudes of negative states, 0 = none (0 is
        # never a real state here: SMACT's default set excludes it).
        self._positive = np.zeros((n, width), dtype=np.int64)
        self._negative = np.zeros((n, width), dtype=np.int64)
        self._has_states = np.zeros(n, dtype=bool)
        self._eneg = np.full(n, np.nan)
        self._metal = np.zeros(n, dtype=bool)
        for i, el in enumerate(self.elements):
            ox = states.get(el)
            if ox:
                pos = [o for o in ox if o > 0]
                neg = [-o for o in ox if o < 0]
                self._positive[i, : len(pos)] = pos
                self._negative[i, : len(neg)] = neg
                self._has_states[i] = True
            e = enegs.get(el)
            if e is not None:
                self._eneg[i] = e
            self._metal[i] = el in metals

    def __call__(self, counts: ArrayLike, include_alloys: bool = False) -> NDArray[np.bool_]:
        """Validity of `(n, n_var)` non-negative integer counts, returns `(n,)` bools.

        Args:
            counts: atoms per formula unit (any common factor is fine).
            include_alloys: CDVAE-style: formulas made only of metals pass.
        """
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[1] != len(self.elements):
            raise DataError(
                f"expected counts of shape (n, {len(self.elements)}), got {counts.shape}"
            )
        if (counts < 0).any():
            raise DataError("counts must be non-negative")
        counts = counts.astype(np.int64)
        if len(counts) == 0:
            return np.zeros(0, dtype=bool)
        divisor = np.maximum(np.gcd.reduce(counts, axis=1), 1)
        unique, inverse = np.unique(counts // divisor[:, None], axis=0, return_inverse=True)
        return self._unique_valid(unique, include_alloys)[np.asarray(inverse).reshape(-1)]

    def _unique_valid(self, counts: NDArray[np.int64], include_alloys: bool) -> NDArray[np.bool_]:
        present = counts > 0
        k = present.sum(axis=1)
        valid = k <= 1  # single elements (and empty rows) pass, as in SMACT
        if include_alloys:
            valid |= ~(present & ~self._metal).any(axis=1)
        todo = ~valid
        # an element without oxidation states makes a compound impossible
        todo &= ~(present & ~self._has_states).any(axis=1)
        for n_el in np.unique(k[todo]):
            rows = np.flatnonzero(todo & (k == n_el))
            # similar sizes together, so that each chunk's charge range stays small
            rows = rows[np.argsort(counts[rows].sum(axis=1), kind="stable")]
            for s in range(0, len(rows), _CHUNK_ROWS):
                chunk = rows[s : s + _CHUNK_ROWS]
                valid[chunk] = self._split_sums(counts[chunk], int(n_el))
        return valid

    def _split_sums(self, counts: NDArray[np.int64], k: int) -> NDArray[np.bool_]:
        """Strict SMACT validity of `(m, n_var)` rows with k >= 2 elements each.

        With the k elements sorted by electronegativity, the Pauling test holds exactly when
        the cations are a prefix and the anions the rest, with a strict electronegativity
        step between them. For each such split the sets of reachable cation charges and
        anion charge magnitudes are built as boolean arrays over 0..L (a "shift-or" per
        element and oxidation state), and the formula is neutral for that split when the
        two sets meet. This costs O(k * n_states * L) per formula instead of the
        O(n_states ** k) assignments SMACT enumerates one by one.
        """
        m = len(counts)
        idx = np.argsort(counts <= 0, axis=1, kind="stable")[:, :k]  # the k present columns
        eneg = self._eneg[idx]
        order = np.argsort(eneg, axis=1, kind="stable")  # NaN sorts last
        idx = np.take_along_axis(idx, order, axis=1)
        eneg = np.take_along_axis(eneg, order, axis=1)
        c = np.take_along_axis(counts, idx, axis=1)  # (m, k)
        top = int(c.sum(axis=1).max()) * self._max_state + 1  # largest reachable |charge| + 1
        t = np.arange(top)

        def reach(start: NDArray[np.bool_], col: int, table: NDArray[np.int64]) -> NDArray[np.bool_]:
            """Charges reachable after adding element ``col`` in one of its ``table`` states."""
            out = np.zeros_like(start)
            shifts = c[:, col, None] * table[idx[:, col]]  # (m, n_states); 0 = no such state
            for j in range(shifts.shape[1]):
                src = t[None, :] - shifts[:, j, None]  # (m, top)
                ok = (shifts[:, j, None] > 0) & (src >= 0)
                out |= ok & np.take_along_axis(start, np.clip(src, 0, None), axis=1)
            return out

        origin = np.zeros((m, top), dtype=bool)
        origin[:, 0] = True
        cations = [origin]  # cations[p]: charges of the first p elements as cations
        for col in range(k - 1):
            cations.append(reach(cations[-1], col, self._positive))
        anions = [origin]  # anions[q]: magnitudes of the last q elements as anions
        for col in range(k - 1, 0, -1):
            anions.append(reach(anions[-1], col, self._negative))

        valid = np.zeros(m, dtype=bool)
        for p in range(1, k):
            step = eneg[:, p - 1] < eneg[:, p]  # False with NaN, as SMACT fails those
            meet = (cations[p] & anions[k - p])[:, 1:].any(axis=1)
            valid |= step & meet
        return valid & ~np.isnan(eneg).any(axis=1)
