"""Composition representation: formula <-> fraction vector on the simplex <-> integer formula.

A :class:`CompositionSpace` fixes an element vocabulary (the columns of every vector) and
the rules that turn a continuous vector -- what an evolutionary operator produces -- into a
formula a chemist can read: at most ``max_elements`` elements and at most ``max_atoms``
atoms per formula unit, with small integer ratios (``Fe0.398O0.602 -> Fe2O3``).

Decoding is vectorized over the batch and deterministic: the same vector always gives the
same formula, which the search relies on for duplicate elimination and reproducibility.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pymatgen.core import Composition, Element

from evodesign.exceptions import DataError
from evodesign.representation.registry import register_space
from evodesign.representation.rows import row_ids

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CompositionSpace"]


#: tolerance (L1 on fractions) under which a row counts as exactly a formula
EXACT_TOL = 1e-9


def _atomic_number(symbol: str) -> int:
    try:
        return Element(symbol).Z
    except ValueError as err:
        raise DataError(f"unknown element {symbol!r} in the vocabulary") from err


@register_space
class CompositionSpace:
    """The composition design space (:class:`~evodesign.representation.space.DesignSpace`
    of kind ``"composition"``): an element vocabulary plus the rules for decoding vectors into integer formulas.

    Args:
        elements: element symbols, one per vector column; stored sorted by atomic number.
        max_atoms: the largest number of atoms per (reduced) formula unit a decoded
            formula may have.
        max_elements: the largest number of distinct elements a decoded formula may have.
        tol: decoding picks the smallest formula unit whose fractions are within ``tol``
            (L1 distance) of the best integer approximation with up to ``max_atoms``
            atoms. Larger values prefer simpler formulas.

    Example:
        >>> space = CompositionSpace(["O", "Fe"], max_atoms=20, max_elements=4)
        >>> space.elements
        ('O', 'Fe')
        >>> space.formulas(space.decode([[0.602, 0.398]]))
        ['Fe2O3']
    """

    kind: ClassVar[str] = "composition"

    def __init__(
        self,
        elements: Sequence[str],
        max_atoms: int = 20,
        max_elements: int = 4,
        tol: float = 0.02,
    ) -> None:
        elements = list(elements)
        if not elements:
            raise DataError("the element vocabulary is empty; give at least one element")
        duplicated = sorted({e for e in elements if elements.count(e) > 1})
        if duplicated:
            raise DataError(f"elements listed twice in the vocabulary: {duplicated}")
        if int(max_atoms) < 1:
            raise DataError(f"max_atoms must be >= 1, got {max_atoms}")
        if int(max_elements) < 1:
            raise DataError(f"max_elements must be >= 1, got {max_elements}")
        if not 0.0 <= float(tol) < 2.0:
            raise DataError(f"tol must be in [0, 2), got {tol}")
        self.elements: tuple[str, ...] = tuple(sorted(elements, key=_atomic_number))
        self.max_atoms = int(max_atoms)
        self.max_elements = int(max_elements)
        self.tol = float(tol)
        self._index = {e: i for i, e in enumerate(self.elements)}

    @classmethod
    def from_compositions(
        cls, compositions: Iterable[Composition | str], **kwargs: int | float
    ) -> CompositionSpace:
        """Build the vocabulary from the elements present in ``compositions``."""
        present: set[str] = set()
        for comp in compositions:
            present.update(el.symbol for el in Composition(comp).elements)
        return cls(sorted(present), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_settings(cls, settings: Any, data: Any) -> CompositionSpace:
        """The space of a campaign: the data set's elements and ``[space]``'s limits.

        Args:
            settings: the ``[space]`` table (``max_atoms``, ``max_elements``).
            data: the data set (its ``elements``).
        """
        return cls(data.elements, max_atoms=settings.max_atoms, max_elements=settings.max_elements)

    @property
    def n_var(self) -> int:
        """Number of vector components (the size of the element vocabulary)."""
        return len(self.elements)

    @property
    def xl(self) -> NDArray[np.float64]:
        """`(n_var,)` lower bounds of the vectors (fractions: 0)."""
        return np.zeros(self.n_var)

    @property
    def xu(self) -> NDArray[np.float64]:
        """`(n_var,)` upper bounds of the vectors (fractions: 1)."""
        return np.ones(self.n_var)

    def __repr__(self) -> str:
        return (
            f"CompositionSpace(n_var={self.n_var}, max_atoms={self.max_atoms}, "
            f"max_elements={self.max_elements}, tol={self.tol})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompositionSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.elements, self.max_atoms, self.max_elements, self.tol))

    def to_dict(self) -> dict:
        """JSON-ready description (used in model sidecars and run manifests)."""
        return {
            "kind": self.kind,
            "elements": list(self.elements),
            "max_atoms": self.max_atoms,
            "max_elements": self.max_elements,
            "tol": self.tol,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CompositionSpace:
        """The space of :meth:`to_dict` (``kind`` may be absent: files written before it)."""
        if data.get("kind", cls.kind) != cls.kind:
            raise DataError(f"not a composition space: kind {data['kind']!r}")
        return cls(
            data["elements"],
            max_atoms=data["max_atoms"],
            max_elements=data["max_elements"],
            tol=data["tol"],
        )

    # ------------------------------------------------------------------ encoding
    def to_vectors(self, compositions: Sequence[Composition | str]) -> NDArray[np.float64]:
        """Atomic fractions of each composition over the vocabulary.

        Args:
            compositions: ``n`` pymatgen Compositions or formula strings.

        Returns:
            A `(n, n_var)` array whose rows sum to 1.

        Raises:
            DataError: an element is not in the vocabulary (names it and the row).
        """
        X = np.zeros((len(compositions), self.n_var))
        for row, comp in enumerate(compositions):
            comp = comp if isinstance(comp, Composition) else Composition(comp, strict=True)
            for el, amount in comp.get_el_amt_dict().items():
                col = self._index.get(el)
                if col is None:
                    raise DataError(
                        f"element {el!r} of composition {comp.formula!r} (row {row}) is not "
                        f"in the vocabulary of {self.n_var} elements; build the space from "
                        "data that contains it or add it to `elements`"
                    )
                X[row, col] = amount
        totals = X.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            row = int(np.flatnonzero(totals[:, 0] <= 0)[0])
            raise DataError(f"composition in row {row} has no atoms")
        return X / totals

    def random_vectors(
        self,
        n: int,
        random_state: np.random.Generator,
        min_elements: int = 2,
        exclude: Iterable[str] = (),
    ) -> NDArray[np.float64]:
        """Random sparse compositions: uniform element count, uniform elements, Dirichlet(1).

        Args:
            n: number of vectors.
            random_state: the numpy Generator to draw from.
            min_elements: fewest elements per vector (at most ``max_elements``).
            exclude: element symbols never drawn (e.g. noble gases).

        Returns:
            A `(n, n_var)` array of rows summing to 1 with ``min_elements`` to
            ``max_elements`` non-zeros (fewer if the allowed elements run out).
        """
        excluded = set(exclude)
        pool = np.flatnonzero([el not in excluded for el in self.elements])
        k = min(self.max_elements, len(pool))
        if not 1 <= min_elements <= k:
            raise DataError(f"min_elements must be in [1, {k}], got {min_elements}")
        n_el = random_state.integers(min_elements, k + 1, size=n)
        cols = pool[np.argsort(random_state.random((n, len(pool))), axis=1)[:, :k]]
        weights = random_state.dirichlet(np.ones(k), size=n) * (np.arange(k)[None] < n_el[:, None])
        out = np.zeros((n, self.n_var))
        np.put_along_axis(out, cols, weights / weights.sum(axis=1, keepdims=True), axis=1)
        return out

    # ------------------------------------------------------------------ decoding
    def simplex(self, X: ArrayLike) -> NDArray[np.float64]:
        """Project raw vectors onto the simplex: clip negatives and NaN to 0, renormalize.

        A row with no positive entry falls back to its largest entry as a pure element,
        so every row decodes to some formula (deterministically).

        Args:
            X: a `(n, n_var)` array.

        Returns:
            A `(n, n_var)` array of non-negative rows summing to 1.
        """
        X = self._check_width(X)
        finite = np.where(np.isfinite(X), X, -np.inf)
        P = np.clip(np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
        totals = P.sum(axis=1)
        empty = totals <= 0
        if np.any(empty):
            rows = np.flatnonzero(empty)
            P[rows, np.argmax(finite[rows], axis=1)] = 1.0
            totals = P.sum(axis=1)
        return P / totals[:, None]

    def decode(
        self,
        X: ArrayLike,
        check: Callable[[NDArray[np.int64]], NDArray[np.bool_]] | None = None,
        repair_tol: float = 0.1,
    ) -> NDArray[np.int64]:
        """Decode continuous vectors into reduced integer formulas.

        The rule, applied to each row at once for the whole batch:

        1. project onto the simplex (:meth:`simplex`);
        2. keep the ``max_elements`` largest fractions (ties: lower column first) and
           renormalize them;
        3. for every formula-unit size ``n = 1 .. max_atoms``, distribute ``n`` atoms by
           the largest-remainder method and measure the L1 distance to the fractions;
        4. take the smallest ``n`` within ``tol`` of the best distance, divide by the gcd;
           except that a row which is exactly the fractions of a formula of the space
           decodes to that formula (so decoding is idempotent: decoding the fractions of a
           decoded formula gives it back; Fe10O9 stays Fe10O9 rather than becoming Fe8O7).

        With ``check`` (e.g. :class:`evodesign.chemistry.SmactValidity`), step 4 (for rows
        that are not exactly a formula) prefers
        formulas that pass it: the smallest admissible ``n`` that passes; else, among the
        sizes within ``repair_tol`` of the best distance, the closest that passes; else the
        plain choice. Every candidate of the batch is checked in one call.

        Args:
            X: a `(n, n_var)` array (any real values; see :meth:`simplex`).
            check: maps `(m, n_var)` integer counts to `(m,)` booleans (True = acceptable).
            repair_tol: how far (L1 on fractions) a repaired formula may move from the best.

        Returns:
            A `(n, n_var)` int64 array of atom counts per reduced formula unit, with at
            most ``max_elements`` non-zeros and at most ``max_atoms`` atoms per row.
        """
        P = self.simplex(X)
        n_rows = P.shape[0]
        k = min(self.max_elements, self.n_var)
        # Top-k columns per row; a stable sort on -P keeps ties deterministic.
        top = np.argsort(-P, axis=1, kind="stable")[:, :k]  # (n, k)
        f = np.take_along_axis(P, top, axis=1)  # (n, k)
        f /= f.sum(axis=1, keepdims=True)  # the kept elements share the whole formula

        sizes = np.arange(1, self.max_atoms + 1, dtype=np.float64)  # (N,)
        q = f[:, None, :] * sizes[None, :, None]  # (n, N, k)
        base = np.floor(q)
        remainder = q - base
        missing = (sizes[None, :] - base.sum(axis=2)).round().astype(np.int64)  # (n, N)
        # Rank of each remainder within its row (0 = largest); stable for determinism.
        order = np.argsort(-remainder, axis=2, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(k)[None, None, :], axis=2)
        counts = base + (rank < missing[:, :, None])  # (n, N, k), each sums to n
        error = np.abs(counts / sizes[None, :, None] - f[:, None, :]).sum(axis=2)
        ok = error <= error.min(axis=1, keepdims=True) + self.tol
        best = np.argmax(ok, axis=1)  # first (smallest) admissible size
        # A row that *is* a formula of the space (its fractions, exactly) decodes to that
        # formula: decoding is then idempotent -- decode(fractions(decode(X))) == decode(X)
        # -- which the search's Lamarckian repair and duplicate hashing rely on.
        kept_mass = np.take_along_axis(P, top, axis=1).sum(axis=1)
        hit = error <= EXACT_TOL
        exact = hit.any(axis=1) & (kept_mass >= 1.0 - EXACT_TOL)
        best = np.where(exact, np.argmax(hit, axis=1), best)
        if check is not None and not exact.all():
            # exact rows are that formula, valid or not; repairing them too would break
            # idempotence where no valid neighbour exists for the first decoding
            rows = np.flatnonzero(~exact)
            best[rows] = self._repaired_choice(
                check, repair_tol, top[rows], counts[rows], error[rows], ok[rows], best[rows]
            )
        chosen = counts[np.arange(n_rows), best].astype(np.int64)  # (n, k)
        divisor = np.gcd.reduce(chosen, axis=1)
        chosen //= np.maximum(divisor, 1)[:, None]

        out = np.zeros((n_rows, self.n_var), dtype=np.int64)
        np.put_along_axis(out, top, chosen, axis=1)
        return out

    def _repaired_choice(
        self,
        repair: Callable[[NDArray[np.int64]], NDArray[np.bool_]],
        repair_tol: float,
        top: NDArray[np.int64],
        counts: NDArray[np.float64],
        error: NDArray[np.float64],
        ok: NDArray[np.bool_],
        best: NDArray[np.int64],
    ) -> NDArray[np.int64]:
        """Formula sizes `(n,)` preferring candidates that pass ``repair``.

        The plain choice is checked first; only the rows where it fails have their other
        candidates checked (most rows of a typical population pass at once).
        """

        def check(rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.bool_]:
            cand = np.zeros((len(rows), self.n_var), dtype=np.int64)
            np.put_along_axis(cand, top[rows], counts[rows, cols].astype(np.int64), axis=1)
            return np.asarray(repair(cand), dtype=bool)

        fails = np.flatnonzero(~check(np.arange(len(best)), best))
        if len(fails) == 0:
            return best
        err, admissible = error[fails], ok[fails]
        near = err <= err.min(axis=1, keepdims=True) + repair_tol  # (f, N)
        near[np.arange(len(fails)), best[fails]] = False  # already known to fail
        sub, cols = np.nonzero(near)
        passes = np.zeros(near.shape, dtype=bool)
        passes[sub, cols] = check(fails[sub], cols)
        first_ok = admissible & passes
        closest = np.argmin(np.where(passes, err, np.inf), axis=1)
        best = best.copy()
        best[fails] = np.where(
            first_ok.any(axis=1),
            np.argmax(first_ok, axis=1),
            np.where(passes.any(axis=1), closest, best[fails]),
        )
        return best

    def fractions(self, counts: ArrayLike) -> NDArray[np.float64]:
        """Atomic fractions of integer count rows, `(n, n_var)` -> `(n, n_var)`."""
        counts = np.asarray(counts, dtype=np.float64)
        return counts / counts.sum(axis=1, keepdims=True)

    def to_compositions(self, X: ArrayLike) -> list[Composition]:
        """Decode `(n, n_var)` vectors and return pymatgen Compositions (integer formulas)."""
        counts = self.decode(X)
        return [self._composition(row) for row in counts]

    def formulas(self, counts: ArrayLike) -> list[str]:
        """Reduced formula strings (pymatgen ordering) for `(n, n_var)` integer counts.

        Identical rows are formatted once, so this stays cheap on populations with
        repeats.
        """
        counts = np.asarray(counts, dtype=np.int64)
        unique, inverse = np.unique(counts, axis=0, return_inverse=True)
        names = [self._composition(row).reduced_formula for row in unique]
        return [names[i] for i in np.asarray(inverse).reshape(-1)]

    @staticmethod
    def row_ids(counts: ArrayLike) -> NDArray[np.void]:
        """One opaque scalar per `(n, n_var)` integer count row, `(n,)`.

        Equal formulas give equal ids, so ``np.unique`` and ``np.isin`` on them find
        duplicates and known formulas for a whole population in one vectorized call.
        """
        return row_ids(np.asarray(counts, dtype=np.int64))

    # ------------------------------------------------------------------ the seam
    def encode(self, designs: ArrayLike) -> NDArray[np.float64]:
        """Canonical vectors (atomic fractions) of `(n, n_var)` integer counts."""
        return self.fractions(designs)

    def repair(self, X: ArrayLike, check: Callable[[NDArray[np.int64]], NDArray[np.bool_]] | None = None) -> NDArray[np.float64]:
        """Vectors snapped to the exact fractions of their formulas, `(n, n_var)` -> same.

        Decoding is idempotent on exact fractions, so a repaired row repairs to itself.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.size == 0:
            return X.reshape(-1, self.n_var)
        return self.fractions(self.decode(X, check=check))

    def ids(self, designs: ArrayLike) -> NDArray[np.void]:
        """See :meth:`row_ids`."""
        return self.row_ids(designs)

    def labels(self, designs: ArrayLike) -> list[str]:
        """Reduced formulas (see :meth:`formulas`)."""
        return self.formulas(designs)

    def features(self, designs: ArrayLike) -> NDArray[np.float64]:
        """Surrogate inputs: atomic fractions (the surrogates featurize them), `(n, n_var)`."""
        return self.fractions(designs)

    def table(self, designs: ArrayLike) -> dict[str, list]:
        """Results-table columns: ``formula``, ``n_elements``, ``n_atoms``."""
        counts = np.asarray(designs, dtype=np.int64)
        return {
            "formula": self.formulas(counts),
            "n_elements": (counts > 0).sum(axis=1).tolist(),
            "n_atoms": counts.sum(axis=1).tolist(),
        }

    # ------------------------------------------------------------------ helpers
    def _composition(self, row: NDArray[np.int64]) -> Composition:
        nz = np.flatnonzero(row)
        return Composition({self.elements[i]: int(row[i]) for i in nz})

    def _check_width(self, X: ArrayLike) -> NDArray[np.float64]:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.n_var:
            raise DataError(
                f"expected vectors of shape (n, {self.n_var}) over this space's elements, "
                f"got shape {X.shape}"
            )
        return X
