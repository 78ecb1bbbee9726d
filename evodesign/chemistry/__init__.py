"""Chemistry rules applied to integer formulas (validity checks used as constraints)."""

from __future__ import annotations

from evodesign.chemistry.charge_balance import SmactValidity
from evodesign.chemistry.validity_filter import CachedSmactValidity, ValidityFilter

__all__ = ["CachedSmactValidity", "SmactValidity", "ValidityFilter"]
