"""Analytic properties of compositions, computed from tables (no surrogate needed)."""

from __future__ import annotations

from evodesign.properties.supply_risk import SupplyRisk

__all__ = ["SupplyRisk"]
