"""Physics of two-phase microstructures: effective conductivity and stiffness, and their rigorous bounds."""

from __future__ import annotations

from evodesign.physics.bounds import (
    hashin_shtrikman_bounds,
    hashin_shtrikman_elastic_bounds,
    voigt_reuss_elastic_bounds,
    wiener_bounds,
)
from evodesign.physics.conductivity import effective_conductivity
from evodesign.physics.elasticity import (
    ConvergenceError,
    effective_stiffness,
    effective_young,
    isotropic_moduli,
    isotropic_stiffness,
)

__all__ = [
    "ConvergenceError",
    "effective_conductivity",
    "effective_stiffness",
    "effective_young",
    "hashin_shtrikman_bounds",
    "hashin_shtrikman_elastic_bounds",
    "isotropic_moduli",
    "isotropic_stiffness",
    "voigt_reuss_elastic_bounds",
    "wiener_bounds",
]
