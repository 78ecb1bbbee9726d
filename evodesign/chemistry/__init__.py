"""Chemistry rules applied to integer formulas (validity checks used as constraints)."""

from __future__ import annotations

from evodesign.chemistry.charge_balance import SmactValidity

__all__ = ["SmactValidity"]
