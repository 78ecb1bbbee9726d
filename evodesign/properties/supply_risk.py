"""Supply risk of a composition: the Herfindahl-Hirschman index (HHI), vectorized.

The HHI of an element measures how concentrated its world production (or its known
reserves) is among countries, from 0 (spread evenly) to 10,000 (one country). The HHI of a
compound is the weight-fraction weighted mean of its elements' HHI (Gaultois et al.,
*Chem. Mater.* 25, 2911 (2013)). :class:`SupplyRisk` gives the same numbers as pymatgen's
``HHIModel().get_hhi_production`` / ``get_hhi_reserve`` for a whole batch of formulas at
once, from the same data file and the same atomic masses.

Elements without HHI data in that file (H, the noble gases Ne-Rn, Tc, Po, At, Fr, Ra and
the actinides) give NaN where pymatgen gives None. A campaign that minimizes HHI must
exclude them explicitly: deny them in the vocabulary, or add the
:class:`~evodesign.constraints.KnownSupplyRisk` constraint, so that NaN never reaches
non-dominated sorting.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pymatgen.core import Element

from evodesign.exceptions import DataError
from evodesign.representation.registry import analytic_properties

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.representation import CompositionSpace

__all__ = ["SupplyRisk", "production_hhi", "reserve_hhi"]

_KINDS = ("production", "reserve")


@functools.lru_cache(maxsize=1)
def _hhi_table() -> dict[str, tuple[float, float]]:
    """Element symbol -> (HHI production, HHI reserve), pymatgen's data file."""
    from pymatgen.analysis.hhi import HHIModel

    return dict(HHIModel().symbol_hhip_hhir)


class SupplyRisk:
    """Weight-fraction weighted HHI of integer formulas or fraction vectors.

    Args:
        elements: the vocabulary, one symbol per column of the arrays this is called on
            (or a :class:`~evodesign.representation.CompositionSpace`, whose elements are
            used).
        kind: ``"production"`` (where the element is mined today) or ``"reserve"``
            (where the known reserves are).

    Attributes:
        name: column name for a results table, ``"hhi_production"`` or ``"hhi_reserve"``.
        label: a human-readable axis label, e.g. ``"HHI (production)"``.
        direction: ``"min"``: lower supply risk is better.
        elements: the vocabulary, `(n_var,)` symbols.
        hhi: `(n_var,)` element HHI values, NaN where the element has no data.
        atomic_mass: `(n_var,)` atomic masses in amu (pymatgen's values).
        missing_elements: symbols of the vocabulary without HHI data, in vocabulary order.

    Example:
        >>> hhi = SupplyRisk(["O", "Fe"])
        >>> round(float(hhi([[3, 2]])[0]), 1)   # Fe2O3
        1828.9
    """

    direction = "min"

    def __init__(
        self,
        elements: Sequence[str] | CompositionSpace,
        kind: Literal["production", "reserve"] = "production",
    ) -> None:
        if kind not in _KINDS:
            raise DataError(f"supply-risk kind must be one of {list(_KINDS)}, got {kind!r}")
        symbols = tuple(getattr(elements, "elements", elements))
        unknown = [s for s in symbols if not Element.is_valid_symbol(s)]
        if unknown:
            raise DataError(f"unknown element symbols {unknown} in the vocabulary")
        table = _hhi_table()
        column = _KINDS.index(kind)
        self.kind = kind
        self.name = f"hhi_{kind}"
        self.label = f"HHI ({kind})"
        self.elements = symbols
        self.hhi = np.array([table[s][column] if s in table else np.nan for s in symbols])
        self.atomic_mass = np.array([float(Element(s).atomic_mass) for s in symbols])
        self._missing = np.isnan(self.hhi)
        self._hhi_or_zero = np.where(self._missing, 0.0, self.hhi)
        self.missing_elements = tuple(s for s, m in zip(symbols, self._missing) if m)

    @property
    def n_var(self) -> int:
        """Number of vocabulary columns."""
        return len(self.elements)

    def __repr__(self) -> str:
        return f"SupplyRisk(n_var={self.n_var}, kind={self.kind!r})"

    def describe(self) -> str:
        """One line for a report."""
        return (
            f"{self.kind} HHI (0-10,000; lower = less supply risk), weight-fraction weighted "
            "mean of element HHI, Gaultois et al. 2013 via pymatgen"
        )

    def __call__(self, amounts: ArrayLike) -> NDArray[np.float64]:
        """HHI of each row.

        Args:
            amounts: a `(n, n_var)` array of non-negative atom counts or atomic fractions
                (any scale: only the proportions matter).

        Returns:
            A `(n,)` float array: the HHI, NaN for rows with an element without HHI data
            and for empty rows (no atoms).
        """
        amounts = self._check(amounts)
        weights = amounts * self.atomic_mass  # (n, n_var) mass per formula unit
        total = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (weights @ self._hhi_or_zero) / total
        out[self.missing_mask(amounts) | ~(total > 0)] = np.nan
        return out

    def missing_mask(self, amounts: ArrayLike) -> NDArray[np.bool_]:
        """Rows with at least one present element without HHI data.

        Args:
            amounts: a `(n, n_var)` array of non-negative amounts.

        Returns:
            A `(n,)` bool array.
        """
        return self.n_missing(amounts) > 0

    def n_missing(self, amounts: ArrayLike) -> NDArray[np.int64]:
        """Number of present elements without HHI data in each `(n, n_var)` row, `(n,)`."""
        amounts = self._check(amounts)
        return ((amounts > 0) & self._missing).sum(axis=1)

    def _check(self, amounts: ArrayLike) -> NDArray[np.float64]:
        amounts = np.asarray(amounts, dtype=np.float64)
        if amounts.ndim != 2 or amounts.shape[1] != self.n_var:
            raise DataError(
                f"expected amounts of shape (n, {self.n_var}) over the supply-risk "
                f"vocabulary, got shape {amounts.shape}"
            )
        if (amounts < 0).any():
            raise DataError("atom counts and fractions must be non-negative")
        return amounts


def production_hhi(space: CompositionSpace) -> SupplyRisk:
    """The ``hhi_production`` analytic property of a composition space's formulas."""
    return SupplyRisk(space.elements, kind="production")


def reserve_hhi(space: CompositionSpace) -> SupplyRisk:
    """The ``hhi_reserve`` analytic property of a composition space's formulas."""
    return SupplyRisk(space.elements, kind="reserve")


analytic_properties.register("composition", "hhi_production", production_hhi)
analytic_properties.register("composition", "hhi_reserve", reserve_hhi)
