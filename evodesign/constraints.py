"""Design constraints in pymoo's ``G <= 0`` form, vectorized over a batch of formulas.

Each :class:`Constraint` maps a :class:`DesignBatch` (the decoded integer formulas of a
population plus the surrogates' predictions for them) to a `(n, n_cols)` float array whose
entries are ``<= 0`` where the design satisfies the constraint and ``> 0`` where it violates
it, the larger the worse. Every column has a label for the results table
(:meth:`Constraint.labels`) and every constraint a one-line description a chemist reads
(:meth:`Constraint.describe`).

Contracts shared by all constraints:

* the output is always finite: a NaN or inf that a constraint would produce (e.g. from a
  surrogate that failed) becomes :data:`FAILED_VIOLATION`, so NaN never reaches pymoo;
* a row with no atoms (all counts 0) is not a formula: every constraint that looks at the
  formula gives it ``G = 1``.

Example:
    >>> from evodesign.representation import CompositionSpace
    >>> space = CompositionSpace(["O", "Na", "Cl", "Fe"])
    >>> batch = DesignBatch.from_counts([[0, 1, 1, 0], [0, 1, 2, 0]])   # NaCl, NaCl2
    >>> G, labels = evaluate_constraints([ChargeBalance(space), MaxElements(4)], batch)
    >>> labels, G.tolist()
    (['charge_balance', 'max_elements'], [[0.0, -2.0], [1.0, -2.0]])
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
from pymatgen.core import Composition, Element

from evodesign.chemistry import SmactValidity
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.properties import SupplyRisk
    from evodesign.representation import CompositionSpace

__all__ = [
    "FAILED_VIOLATION",
    "ChargeBalance",
    "Constraint",
    "DesignBatch",
    "ElementFilter",
    "KnownSupplyRisk",
    "MaxAtoms",
    "MaxElements",
    "MinElements",
    "MissingTargetError",
    "NONMETALS",
    "NotOnlyNonmetals",
    "Novelty",
    "PropertyWindow",
    "SurrogateTrust",
    "evaluate_constraints",
    "format_window",
    "known_formula_counts",
    "nearest_known",
]

#: The violation written where a constraint value is NaN or infinite (a failed evaluation):
#: large, so a failed design loses every feasibility comparison, but finite.
FAILED_VIOLATION = 1e6

# Element symbols pymatgen knows, for "did you mean" hints.
_ALL_SYMBOLS = tuple(el.symbol for el in Element)


class MissingTargetError(KeyError):
    """A constraint needs a surrogate prediction the batch does not hold."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------------------- the batch
@dataclass(frozen=True)
class DesignBatch:
    """What constraints see of a population.

    Attributes:
        counts: a `(n, n_var)` int64 array of atoms per (reduced) formula unit.
        fractions: a `(n, n_var)` float array of atomic fractions (rows of empty formulas
            are all zero).
        mean: surrogate mean per target name, each an `(n,)` array (may be empty).
        std: surrogate standard deviation per target name, each an `(n,)` array.
    """

    counts: NDArray[np.int64]
    fractions: NDArray[np.float64]
    mean: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    std: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts)
        if counts.ndim != 2:
            raise DataError(f"counts must be a (n, n_var) array, got shape {counts.shape}")
        if counts.size and not np.issubdtype(counts.dtype, np.integer):
            raise DataError(f"counts must be integers, got dtype {counts.dtype}")
        if (counts < 0).any():
            raise DataError("counts must be non-negative")
        fractions = np.asarray(self.fractions, dtype=np.float64)
        if fractions.shape != counts.shape:
            raise DataError(
                f"fractions have shape {fractions.shape} but counts have shape {counts.shape}"
            )
        n = len(counts)
        for kind, values in (("mean", self.mean), ("std", self.std)):
            for target, array in values.items():
                if np.shape(array) != (n,):
                    raise DataError(
                        f"surrogate {kind} of {target!r} has shape {np.shape(array)}, "
                        f"expected ({n},): one value per design"
                    )
        object.__setattr__(self, "counts", counts.astype(np.int64, copy=False))
        object.__setattr__(self, "fractions", fractions)

    @classmethod
    def from_counts(
        cls,
        counts: ArrayLike,
        mean: Mapping[str, ArrayLike] | None = None,
        std: Mapping[str, ArrayLike] | None = None,
    ) -> DesignBatch:
        """A batch from `(n, n_var)` integer counts, computing the fractions.

        Args:
            counts: atoms per formula unit, `(n, n_var)`.
            mean: surrogate means per target, each `(n,)`.
            std: surrogate stds per target, each `(n,)`.
        """
        counts = np.atleast_2d(np.asarray(counts, dtype=np.int64))
        return cls(
            counts=counts,
            fractions=_fractions(counts),
            mean={k: np.asarray(v, dtype=np.float64) for k, v in (mean or {}).items()},
            std={k: np.asarray(v, dtype=np.float64) for k, v in (std or {}).items()},
        )

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def empty(self) -> NDArray[np.bool_]:
        """`(n,)` True for rows without atoms."""
        return ~(self.counts > 0).any(axis=1)


# ---------------------------------------------------------------------------- base class
class Constraint:
    """Base class: one or more ``G <= 0`` columns computed for a whole batch.

    Subclasses set ``name``, override :meth:`_evaluate` (returning `(n,)` or
    `(n, n_cols)`) and :meth:`describe`, and :meth:`labels` when they have several
    columns. :meth:`__call__` checks the shape and replaces non-finite values by
    :data:`FAILED_VIOLATION`.
    """

    name: str = "constraint"

    def labels(self) -> list[str]:
        """One column label per ``G`` column (results-table column names)."""
        return [self.name]

    def describe(self) -> str:
        """One line a chemist reads, e.g. for a report or the run manifest."""
        raise NotImplementedError

    def __call__(self, batch: DesignBatch) -> NDArray[np.float64]:
        """Constraint values of every design.

        Args:
            batch: the decoded designs and their predictions.

        Returns:
            A `(n, len(labels()))` finite float array; ``<= 0`` means satisfied.
        """
        n_cols = len(self.labels())
        G = np.asarray(self._evaluate(batch), dtype=np.float64)
        if G.size != len(batch) * n_cols:
            raise ValueError(
                f"{type(self).__name__} returned shape {G.shape} for {len(batch)} designs "
                f"and {n_cols} columns"
            )
        G = G.reshape(len(batch), n_cols)
        return np.where(np.isfinite(G), G, FAILED_VIOLATION)

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def evaluate_constraints(
    constraints: Sequence[Constraint], batch: DesignBatch
) -> tuple[NDArray[np.float64], list[str]]:
    """All constraint columns of a batch, side by side.

    Args:
        constraints: the constraints, in column order.
        batch: the designs.

    Returns:
        ``(G, labels)``: a `(n, total_cols)` finite float array and its column labels.

    Raises:
        ValueError: two constraints use the same column label.
    """
    blocks = [c(batch) for c in constraints]
    labels = [label for c in constraints for label in c.labels()]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(
            f"constraint column labels must be unique, repeated: {repeated}; "
            "combine the constraints or give them different parameters"
        )
    G = np.hstack(blocks) if blocks else np.zeros((len(batch), 0))
    return G, labels


# ---------------------------------------------------------------------------- formula rules
class ChargeBalance(Constraint):
    """SMACT chemical validity: 0 valid, 1 invalid.

    Args:
        space: the composition space whose columns the counts use.
        mode: ``"strict"`` (charge-neutral with every cation less electronegative than
            every anion, SMACT's ICSD-24 oxidation states) or ``"cdvae"`` (as strict, but
            formulas made only of metals pass, as in CDVAE's validity metric).
        cache_size: distinct formulas remembered across calls (a search revisits
            formulas often); 0 turns the cache off.
        min_state_share: only oxidation states with at least this percentage of their
            element's ICSD-24 reports count (see :class:`~evodesign.chemistry.SmactValidity`).

    Single elements pass, as in SMACT; empty rows fail.
    """

    name = "charge_balance"

    def __init__(
        self,
        space: CompositionSpace,
        mode: Literal["strict", "cdvae"] = "strict",
        cache_size: int = 200_000,
        min_state_share: float = 0.0,
    ) -> None:
        if mode not in ("strict", "cdvae"):
            raise DataError(f"charge-balance mode must be 'strict' or 'cdvae', got {mode!r}")
        self.space = space
        self.mode = mode
        self.min_state_share = float(min_state_share)
        self._validity = SmactValidity(space.elements, self.min_state_share)
        self._cache = _FormulaCache(min(space.max_elements, space.n_var), int(cache_size))

    def describe(self) -> str:
        states = (
            f" with oxidation states of >= {self.min_state_share:g}% of their element's ICSD reports"
            if self.min_state_share > 0
            else ""
        )
        if self.mode == "strict":
            return f"SMACT strict: charge-neutral and electronegativity-ordered{states}"
        return f"SMACT CDVAE-style: charge-neutral and electronegativity-ordered{states}, or all-metal"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        counts = _check_width(batch, self.space.n_var, self)
        valid = self._cache(
            counts, lambda c: self._validity(c, include_alloys=self.mode == "cdvae")
        )
        return np.where(valid & ~batch.empty, 0.0, 1.0)


class MaxElements(Constraint):
    """At most ``k`` distinct elements: ``G = n_elements - k`` (empty rows: 1)."""

    name = "max_elements"

    def __init__(self, k: int) -> None:
        self.k = _positive_int(k, "max_elements")

    def describe(self) -> str:
        return f"at most {self.k} elements per formula"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        n_el = (batch.counts > 0).sum(axis=1)
        return np.where(batch.empty, 1.0, n_el - self.k)


class MaxAtoms(Constraint):
    """At most ``k`` atoms per formula unit: ``G = atoms - k`` (empty rows: 1)."""

    name = "max_atoms"

    def __init__(self, k: int) -> None:
        self.k = _positive_int(k, "max_atoms")

    def describe(self) -> str:
        return f"at most {self.k} atoms per formula unit"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        atoms = batch.counts.sum(axis=1)
        return np.where(batch.empty, 1.0, atoms - self.k)


class ElementFilter(Constraint):
    """Allowed and forbidden elements: ``G`` = number of present elements not allowed.

    Args:
        space: the composition space whose columns the counts use.
        allow: if given, only these elements may appear (each must be in the space).
        deny: these elements may not appear (toxic, scarce, radioactive...). Symbols
            outside the space are accepted and irrelevant, but must be real elements.

    Empty rows give 1.
    """

    name = "element_filter"

    def __init__(
        self,
        space: CompositionSpace,
        allow: Sequence[str] | None = None,
        deny: Sequence[str] = (),
    ) -> None:
        if isinstance(allow, str) or isinstance(deny, str):
            raise DataError("allow and deny are lists of element symbols, e.g. ['Pb', 'Cd']")
        self.space = space
        deny = tuple(deny)
        for which, symbols in (("allow", allow or ()), ("deny", deny)):
            unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
            if unknown:
                raise DataError(_unknown_symbols_message(unknown, which, space))
        if allow is not None:
            allow = tuple(allow)
            if not allow:
                raise DataError("the allow list is empty: no formula could satisfy it")
            outside = [s for s in allow if s not in space.elements]
            if outside:
                raise DataError(
                    f"allowed elements {outside} are not in the search space; its "
                    f"{space.n_var} elements are: {', '.join(space.elements)}"
                )
        self.allow = allow
        self.deny = deny
        allowed = np.ones(space.n_var, dtype=bool)
        if allow is not None:
            allowed = np.isin(space.elements, allow)
        self._forbidden = ~allowed | np.isin(space.elements, deny)
        self.forbidden = tuple(e for e, f in zip(space.elements, self._forbidden) if f)

    def describe(self) -> str:
        parts = []
        if self.allow is not None:
            parts.append(f"only {', '.join(self.allow)}")
        if self.deny:
            parts.append(f"no {', '.join(self.deny)}")
        return "elements: " + ("; ".join(parts) if parts else "any")

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        counts = _check_width(batch, self.space.n_var, self)
        n_bad = ((counts > 0) & self._forbidden).sum(axis=1)
        return np.where(batch.empty, 1.0, n_bad)


class KnownSupplyRisk(Constraint):
    """Every element has HHI data: ``G`` = number of present elements without it.

    For campaigns with an HHI objective, which is undefined (NaN) otherwise. Empty rows
    give 1.

    Args:
        supply_risk: the objective's :class:`~evodesign.properties.SupplyRisk`.
    """

    def __init__(self, supply_risk: SupplyRisk) -> None:
        self.supply_risk = supply_risk
        self.name = f"known_{supply_risk.name}"

    def describe(self) -> str:
        missing = self.supply_risk.missing_elements
        excluded = f" (excludes {', '.join(missing)})" if missing else ""
        return f"every element has {self.supply_risk.kind} HHI data{excluded}"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        _check_width(batch, self.supply_risk.n_var, self)
        n_missing = self.supply_risk.n_missing(batch.counts)
        return np.where(batch.empty, 1.0, n_missing)


# ---------------------------------------------------------------------------- novelty
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
        ids = self.space.row_ids(_reduce(counts))
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
        counts = _check_width(batch, self.space.n_var, self)
        return np.where(self.is_known(counts) | batch.empty, 1.0, 0.0)


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
        counts = _reduce(counts.astype(np.int64))
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
    return _reduce(counts), np.array(index_list, dtype=np.int64)


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


# ---------------------------------------------------------------------------- surrogates
class SurrogateTrust(Constraint):
    """Stay where the surrogates are confident: ``G = max over targets of (std - bound)``.

    Args:
        bounds: the largest acceptable predicted std per target name, in the target's
            units (e.g. ``{"log10_PF_p": 0.3, "S_p": 60.0}``).

    A NaN or infinite std counts as a failed prediction (:data:`FAILED_VIOLATION`).
    """

    name = "surrogate_trust"

    def __init__(self, bounds: Mapping[str, float]) -> None:
        if not bounds:
            raise DataError("surrogate trust needs at least one target with a std bound")
        self.bounds: dict[str, float] = {}
        for target, bound in bounds.items():
            try:
                value = float(bound)
            except (TypeError, ValueError):
                value = np.nan
            if isinstance(bound, bool) or not (np.isfinite(value) and value > 0):
                raise DataError(
                    f"the std bound of {target!r} must be a positive number, got {bound!r}"
                )
            self.bounds[str(target)] = value

    def describe(self) -> str:
        parts = ", ".join(f"std({t}) <= {b:g}" for t, b in self.bounds.items())
        return f"surrogate trust: {parts}"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        missing = [t for t in self.bounds if t not in batch.std]
        if missing:
            raise MissingTargetError(
                f"surrogate trust has std bounds for {missing}, but the surrogates give a std "
                f"for {sorted(batch.std) or 'no target'}; bound one of those instead"
            )
        excess = np.column_stack(
            [np.asarray(batch.std[t], dtype=np.float64) - b for t, b in self.bounds.items()]
        )
        excess = np.where(np.isfinite(excess), excess, FAILED_VIOLATION)
        return excess.max(axis=1)


# ---------------------------------------------------------------------------- plausibility
class MinElements(Constraint):
    """At least ``k`` distinct elements: ``G = k - n_elements`` (empty rows: 1).

    ``[space] min_elements`` (default 2): the transport data's elemental entries are
    allotropes of the elements (S, P, Se, Te, ...), which the chemist knows already; a
    design of one element is a rediscovery, never a new compound. Set ``min_elements = 1``
    to switch the rule off.
    """

    name = "min_elements"

    def __init__(self, k: int) -> None:
        self.k = _positive_int(k, "min_elements")

    def describe(self) -> str:
        return f"at least {self.k} elements per formula"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        n_el = (batch.counts > 0).sum(axis=1)
        return np.where(batch.empty, 1.0, self.k - n_el)


#: Elements that count as non-metals for :class:`NotOnlyNonmetals`: those pymatgen calls
#: neither ``is_metal`` nor ``is_metalloid`` -- H, the noble gases, C, N, O, F, P, S, Cl,
#: Se, Br, I, At.
NONMETALS = tuple(
    el.symbol for el in Element if el.Z <= 118 and not (el.is_metal or el.is_metalloid)
)


class NotOnlyNonmetals(Constraint):
    """Not made only of non-metals: 1 if every element present is a non-metal, else 0.

    Compounds of non-metals alone are, with few exceptions, molecular: discrete covalent
    molecules held together by van der Waals forces (CO2, NF3, CS2, SO3, P4S3, S8) --
    gases, liquids or soft, volatile solids with no band conduction between molecules,
    which an inorganic campaign (thermoelectrics, absorbers, ...) does not want, and on
    which surrogates trained on extended crystals extrapolate badly. The rule follows
    pymatgen's classification (:data:`NONMETALS`):

    * metals (``Element.is_metal``: alkali, alkaline-earth, transition, post-transition
      metals, lanthanoids and actinoids) make a formula pass;
    * metalloids (``Element.is_metalloid``: B, Si, Ge, As, Sb, Te, Po) count as metals:
      they form extended covalent networks (SiC, BN, GeTe, Sb2Te3), not molecules;
    * H and the noble gases count as non-metals (hydrides and noble-gas compounds of
      non-metals -- NH3, CH4, XeF2 -- are molecular).

    Known exceptions that the rule rejects too: the few extended non-metal solids such as
    C3N4, P3N5, red/black phosphorus and polymeric SeO2. Switch the rule off with
    ``[constraints] molecular = true`` for campaigns about molecular solids. Empty rows
    give 1.

    Args:
        space: the composition space whose columns the counts use.
    """

    name = "not_only_nonmetals"

    def __init__(self, space: CompositionSpace) -> None:
        self.space = space
        self._metal = ~np.isin(space.elements, NONMETALS)

    def describe(self) -> str:
        return "at least one metal or metalloid (no all-non-metal, molecular formulas)"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        counts = _check_width(batch, self.space.n_var, self)
        has_metal = ((counts > 0) & self._metal).any(axis=1)
        return np.where(has_metal, 0.0, 1.0)


# ---------------------------------------------------------------------------- windows
def format_window(low: float, high: float, unit: str = "") -> str:
    """``[100, inf) µV/K``: an interval as a chemist writes it (open at an infinite end)."""
    left = "(-inf" if np.isneginf(low) else f"[{low:g}"
    right = "inf)" if np.isposinf(high) else f"{high:g}]"
    return f"{left}, {right}" + (f" {unit}" if unit else "")


class PropertyWindow(Constraint):
    """A hard window on a predicted or analytic property, met with probability >= ``confidence``.

    Under the surrogate's predictive distribution N(mean, std^2) (std 0 for an analytic
    property), each finite bound must hold with probability at least ``c``::

        mean - z * std >= low     and     mean + z * std <= high,     z = Phi^-1(c)

    so ``c = 0.5`` (z = 0) asks for the mean inside the window and ``c = 0.9``
    (z = 1.2816) for the one-sided 90% bounds inside (each bound separately: a window
    with two finite bounds then holds with probability >= 0.8). ``c < 0.5`` is lenient:
    the mean may lie up to ``|z| std`` outside.

    The ``G <= 0`` value is graded by distance, in units of ``scale`` (e.g. the property's
    std over the data set, so one unit means the same for every property)::

        G = max((low - (mean - z std)) / scale, ((mean + z std) - high) / scale)

    negative inside (the distance to the nearer bound), positive outside and growing with
    the distance, so the search is led into the window. An infinite bound drops its term.
    A NaN prediction is a failed design (:data:`FAILED_VIOLATION`).

    Args:
        name: the property: a surrogate target (read from the batch's ``mean``/``std``) or
            an analytic property computed by ``analytic``.
        low: lower bound; ``-inf`` for none.
        high: upper bound; ``inf`` for none.
        confidence: ``c`` in (0, 1).
        scale: positive divisor of the distance (property units per unit of ``G``).
        analytic: for an analytic property, a callable ``counts (n, n_var) -> (n,)``
            (e.g. a :class:`~evodesign.properties.SupplyRisk`); its std is 0.
        unit: the property's unit for :meth:`describe` (default
            :func:`evodesign.properties.units.unit`).

    Example:
        >>> window = PropertyWindow("S_p", 100.0, float("inf"), confidence=0.5, scale=50.0)
        >>> batch = DesignBatch.from_counts([[1, 1], [1, 2]], mean={"S_p": [150.0, 50.0]},
        ...                                 std={"S_p": [10.0, 10.0]})
        >>> window(batch)[:, 0].tolist()
        [-1.0, 1.0]
    """

    def __init__(
        self,
        name: str,
        low: float,
        high: float,
        *,
        confidence: float = 0.5,
        scale: float = 1.0,
        analytic: Callable[[NDArray[np.int64]], ArrayLike] | None = None,
        unit: str | None = None,
    ) -> None:
        from statistics import NormalDist

        low, high = _number(low, f"{name} window low"), _number(high, f"{name} window high")
        if np.isnan(low) or np.isnan(high):
            raise DataError(f"the window of {name!r} has a NaN bound: [{low}, {high}]")
        if not low < high:
            raise DataError(
                f"the window of {name!r} must be [low, high] with low < high, got [{low:g}, {high:g}]"
            )
        if np.isinf(low) and np.isinf(high):
            raise DataError(
                f"the window of {name!r} is [-inf, inf], which every design meets; give at "
                "least one finite bound, e.g. [100, inf]"
            )
        confidence = _number(confidence, "range_confidence")
        if not 0.0 < confidence < 1.0:
            raise DataError(
                f"range_confidence must be strictly between 0 and 1 (0.5: the mean inside, "
                f"0.9: the 90% bounds inside), got {confidence:g}"
            )
        scale = _number(scale, f"{name} window scale")
        if not (np.isfinite(scale) and scale > 0):
            raise DataError(f"the scale of the window of {name!r} must be positive, got {scale:g}")
        self.property = str(name)
        self.low, self.high = low, high
        self.confidence = confidence
        self.z = NormalDist().inv_cdf(confidence)
        self.scale = scale
        self.analytic = analytic
        if unit is None:
            from evodesign.properties.units import unit as unit_of

            unit = unit_of(self.property)
        self.unit = unit
        self.name = f"range_{self.property}"

    def describe(self) -> str:
        window = format_window(self.low, self.high, self.unit)
        return f"{self.property} in {window} with probability >= {self.confidence:g}"

    def bounds(self, batch: DesignBatch) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The `(n,)` one-sided bounds ``mean - z std`` and ``mean + z std`` of each design."""
        mean, std = self._values(batch)
        return mean - self.z * std, mean + self.z * std

    def _values(self, batch: DesignBatch) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self.analytic is not None:
            mean = np.asarray(self.analytic(batch.counts), dtype=np.float64).reshape(len(batch))
            return mean, np.zeros(len(batch))
        if self.property not in batch.mean:
            raise MissingTargetError(
                f"the window on {self.property!r} needs its prediction, but the surrogates "
                f"give {sorted(batch.mean) or 'no target'}; set a window on one of those"
            )
        mean = np.asarray(batch.mean[self.property], dtype=np.float64)
        std = np.asarray(batch.std.get(self.property, np.zeros(len(batch))), dtype=np.float64)
        return mean, std

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        lower, upper = self.bounds(batch)
        G = np.full(len(batch), -np.inf)
        if np.isfinite(self.low):
            G = np.maximum(G, (self.low - lower) / self.scale)
        if np.isfinite(self.high):
            G = np.maximum(G, (upper - self.high) / self.scale)
        bad = ~(np.isfinite(lower) & np.isfinite(upper))
        G = np.where(bad, np.nan, G)  # made FAILED_VIOLATION by __call__
        if self.analytic is not None:
            G = np.where(batch.empty, 1.0, G)
        return G


# ---------------------------------------------------------------------------- helpers
class _FormulaCache:
    """Exact memo of a boolean function of formulas, looked up for a batch at once.

    A formula's key is its gcd-reduced formula as ``width`` (column, count) int16 pairs
    (4 bytes each); keys are kept sorted, so lookups and inserts are ``searchsorted``.
    Formulas with more than ``width`` elements or huge counts bypass the cache. When
    full, the cache starts over (a search's recent formulas are the ones that recur).
    """

    def __init__(self, width: int, max_entries: int) -> None:
        self.width = max(1, width)
        self.max_entries = max_entries
        self._dtype = np.dtype((np.void, 4 * self.width))
        self._keys = np.empty(0, dtype=self._dtype)
        self._values = np.empty(0, dtype=bool)

    def __len__(self) -> int:
        return len(self._keys)

    def __call__(
        self,
        counts: NDArray[np.int64],
        compute: Callable[[NDArray[np.int64]], NDArray[np.bool_]],
    ) -> NDArray[np.bool_]:
        """`(n,)` values of ``compute`` on `(n, n_var)` counts, computing only misses."""
        if self.max_entries <= 0 or len(counts) == 0:
            return np.asarray(compute(counts), dtype=bool)
        keys, cacheable = self._encode(counts)
        out = np.zeros(len(counts), dtype=bool)
        hit = np.zeros(len(counts), dtype=bool)
        if len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            hit = cacheable & (self._keys[pos] == keys)
            out[hit] = self._values[pos[hit]]
        miss = np.flatnonzero(~hit)
        if len(miss):
            out[miss] = np.asarray(compute(counts[miss]), dtype=bool)
            new = miss[cacheable[miss]]
            unique, first = np.unique(keys[new], return_index=True)
            if len(self._keys) + len(unique) > self.max_entries:
                self._keys, self._values = self._keys[:0], self._values[:0]
                unique, first = unique[: self.max_entries], first[: self.max_entries]
            at = np.searchsorted(self._keys, unique)
            self._keys = np.insert(self._keys, at, unique)
            self._values = np.insert(self._values, at, out[new[first]])
        return out

    def _encode(self, counts: NDArray[np.int64]) -> tuple[NDArray[np.void], NDArray[np.bool_]]:
        reduced = _reduce(counts)
        present = reduced > 0
        cacheable = (present.sum(axis=1) <= self.width) & (reduced.max(axis=1) < 2**15)
        cacheable &= reduced.shape[1] < 2**15
        width = min(self.width, reduced.shape[1])
        cols = np.argsort(~present, axis=1, kind="stable")[:, :width]
        vals = np.take_along_axis(reduced, cols, axis=1)
        pairs = np.zeros((len(reduced), self.width, 2), dtype=np.int16)
        pairs[:, :width, 0] = np.where(vals > 0, cols, 0)
        pairs[:, :width, 1] = np.where(cacheable[:, None], vals, 0)
        return pairs.reshape(len(reduced), -1).view(self._dtype)[:, 0], cacheable


def _reduce(counts: ArrayLike) -> NDArray[np.int64]:
    """`(n, n_var)` counts divided by each row's gcd (empty rows stay zero)."""
    counts = np.asarray(counts, dtype=np.int64)
    divisor = np.gcd.reduce(counts, axis=1) if counts.size else np.ones(len(counts), np.int64)
    return counts // np.maximum(divisor, 1)[:, None]


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


def _check_width(batch: DesignBatch, n_var: int, constraint: Constraint) -> NDArray[np.int64]:
    if batch.counts.shape[1] != n_var:
        raise DataError(
            f"{type(constraint).__name__} was built for {n_var} elements, but the designs "
            f"have {batch.counts.shape[1]} columns; use the same composition space"
        )
    return batch.counts


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise DataError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a number, got {value!r}") from None


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise DataError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _unknown_symbols_message(
    unknown: Sequence[str], which: str, space: CompositionSpace
) -> str:
    hints = []
    for symbol in unknown:
        close = difflib.get_close_matches(symbol.capitalize(), _ALL_SYMBOLS, n=3, cutoff=0.5)
        hints.append(f"{symbol!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return (
        f"unknown element symbols in the {which} list: {', '.join(hints)}; use element "
        f"symbols such as 'Pb' or 'Te'. This search space has: {', '.join(space.elements)}"
    )
