"""Search machinery on top of pymoo: Lamarckian formula repair, hash-based duplicates and
survival with niching by chemical system."""

from __future__ import annotations

from evodesign.search.duplicates import HashDuplicateElimination, duplicate_mask, formula_keys
from evodesign.search.repair import SpaceRepair
from evodesign.search.survival import SystemNicheSurvival, chemical_system_ids, chemical_system_names

__all__ = [
    "HashDuplicateElimination",
    "SpaceRepair",
    "SystemNicheSurvival",
    "chemical_system_ids",
    "chemical_system_names",
    "duplicate_mask",
    "formula_keys",
]
