"""Search machinery on top of pymoo: Lamarckian formula repair, hash-based duplicates and
survival with niching by chemical system."""

from __future__ import annotations

from evodesign.search.duplicates import FormulaDuplicateElimination, duplicate_mask, formula_keys
from evodesign.search.repair import FormulaRepair
from evodesign.search.survival import SystemNicheSurvival, chemical_system_ids, chemical_system_names

__all__ = [
    "FormulaDuplicateElimination",
    "FormulaRepair",
    "SystemNicheSurvival",
    "chemical_system_ids",
    "chemical_system_names",
    "duplicate_mask",
    "formula_keys",
]
