"""Constraints on chemical formulas (the composition space's designs: integer atom counts).

A row with no atoms (all counts 0) is not a formula: every constraint here gives it
``G = 1``. Registered for the ``"composition"`` space kind
(:data:`evodesign.representation.registry.constraint_builders`).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pymatgen.core import Element

from evodesign.chemistry import CachedSmactValidity
from evodesign.constraints.base import Constraint, DesignBatch, _positive_int
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.properties import SupplyRisk
    from evodesign.representation import CompositionSpace

__all__ = [
    "NONMETALS",
    "ChargeBalance",
    "ElementFilter",
    "KnownSupplyRisk",
    "MaxAtoms",
    "MaxElements",
    "MinElements",
    "NotOnlyNonmetals",
]

# Element symbols pymatgen knows, for "did you mean" hints.
_ALL_SYMBOLS = tuple(el.symbol for el in Element)


def counts_of(batch: DesignBatch, n_var: int | None = None, constraint: Constraint | None = None) -> NDArray[np.int64]:
    """The batch's designs as `(n, n_var)` non-negative int64 atom counts, checked."""
    counts = batch.designs
    if counts.ndim != 2:
        raise DataError(f"counts must be a (n, n_var) array, got shape {counts.shape}")
    if counts.size and not np.issubdtype(counts.dtype, np.integer):
        raise DataError(f"counts must be integers, got dtype {counts.dtype}")
    if (counts < 0).any():
        raise DataError("counts must be non-negative")
    if n_var is not None and counts.shape[1] != n_var:
        raise DataError(
            f"{type(constraint).__name__} was built for {n_var} elements, but the designs "
            f"have {counts.shape[1]} columns; use the same composition space"
        )
    return counts.astype(np.int64, copy=False)


def empty_rows(counts: NDArray[np.int64]) -> NDArray[np.bool_]:
    """`(n,)` True for rows without atoms (not a formula)."""
    return ~(counts > 0).any(axis=1)


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
        # the one formula-keyed SMACT cache (the repair and the guided operators use it too)
        self._validity = CachedSmactValidity(
            space.elements, mode, max_cache=int(cache_size), min_state_share=self.min_state_share
        )

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
        counts = counts_of(batch, self.space.n_var, self)
        return np.where(self._validity(counts) & ~empty_rows(counts), 0.0, 1.0)


class MaxElements(Constraint):
    """At most ``k`` distinct elements: ``G = n_elements - k`` (empty rows: 1)."""

    name = "max_elements"

    def __init__(self, k: int) -> None:
        self.k = _positive_int(k, "max_elements")

    def describe(self) -> str:
        return f"at most {self.k} elements per formula"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        counts = counts_of(batch)
        return np.where(empty_rows(counts), 1.0, (counts > 0).sum(axis=1) - self.k)


class MaxAtoms(Constraint):
    """At most ``k`` atoms per formula unit: ``G = atoms - k`` (empty rows: 1)."""

    name = "max_atoms"

    def __init__(self, k: int) -> None:
        self.k = _positive_int(k, "max_atoms")

    def describe(self) -> str:
        return f"at most {self.k} atoms per formula unit"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        counts = counts_of(batch)
        return np.where(empty_rows(counts), 1.0, counts.sum(axis=1) - self.k)


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
        counts = counts_of(batch, self.space.n_var, self)
        n_bad = ((counts > 0) & self._forbidden).sum(axis=1)
        return np.where(empty_rows(counts), 1.0, n_bad)


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
        counts = counts_of(batch, self.supply_risk.n_var, self)
        return np.where(empty_rows(counts), 1.0, self.supply_risk.n_missing(counts))


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
        counts = counts_of(batch)
        return np.where(empty_rows(counts), 1.0, self.k - (counts > 0).sum(axis=1))


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
        counts = counts_of(batch, self.space.n_var, self)
        has_metal = ((counts > 0) & self._metal).any(axis=1)
        return np.where(has_metal, 0.0, 1.0)


def reduce_counts(counts: ArrayLike) -> NDArray[np.int64]:
    """`(n, n_var)` counts divided by each row's gcd (empty rows stay zero)."""
    counts = np.asarray(counts, dtype=np.int64)
    divisor = np.gcd.reduce(counts, axis=1) if counts.size else np.ones(len(counts), np.int64)
    return counts // np.maximum(divisor, 1)[:, None]


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
