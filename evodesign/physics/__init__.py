"""Physics of two-phase microstructures: effective conductivity and its rigorous bounds."""

from __future__ import annotations

from evodesign.physics.bounds import hashin_shtrikman_bounds, wiener_bounds
from evodesign.physics.conductivity import effective_conductivity

__all__ = ["effective_conductivity", "hashin_shtrikman_bounds", "wiener_bounds"]
