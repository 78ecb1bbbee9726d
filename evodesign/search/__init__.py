"""Search machinery on top of pymoo: Lamarckian formula repair and hash-based duplicates."""

from __future__ import annotations

from evodesign.search.duplicates import FormulaDuplicateElimination, duplicate_mask, formula_keys
from evodesign.search.repair import FormulaRepair

__all__ = ["FormulaDuplicateElimination", "FormulaRepair", "duplicate_mask", "formula_keys"]
