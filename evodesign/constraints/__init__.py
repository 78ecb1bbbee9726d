"""Design constraints in pymoo's ``G <= 0`` form, vectorized over a batch of designs.

:mod:`.base` holds the batch, the base class and the shared contract; constraints on
formulas are in :mod:`.composition` and :mod:`.novelty`, those on predicted properties (any
design space) in :mod:`.properties`.

Example:
    >>> from evodesign.representation import CompositionSpace
    >>> space = CompositionSpace(["O", "Na", "Cl", "Fe"])
    >>> batch = DesignBatch.of([[0, 1, 1, 0], [0, 1, 2, 0]])   # NaCl, NaCl2
    >>> G, labels = evaluate_constraints([ChargeBalance(space), MaxElements(4)], batch)
    >>> labels, G.tolist()
    (['charge_balance', 'max_elements'], [[0.0, -2.0], [1.0, -2.0]])
"""

from __future__ import annotations

from evodesign.constraints.base import FAILED_VIOLATION, Constraint, DesignBatch, MissingTargetError, evaluate_constraints
from evodesign.constraints.composition import (
    NONMETALS,
    ChargeBalance,
    ElementFilter,
    KnownSupplyRisk,
    MaxAtoms,
    MaxElements,
    MinElements,
    NotOnlyNonmetals,
)
from evodesign.constraints.novelty import Novelty, known_formula_counts, nearest_known
from evodesign.constraints.properties import PropertyWindow, SurrogateTrust, format_window

__all__ = [
    "FAILED_VIOLATION",
    "NONMETALS",
    "ChargeBalance",
    "Constraint",
    "DesignBatch",
    "ElementFilter",
    "KnownSupplyRisk",
    "MaxAtoms",
    "MaxElements",
    "MinElements",
    "MissingTargetError",
    "NotOnlyNonmetals",
    "Novelty",
    "PropertyWindow",
    "SurrogateTrust",
    "evaluate_constraints",
    "format_window",
    "known_formula_counts",
    "nearest_known",
]
