"""Rigorous bounds on the effective conductivity of a two-phase medium in 2D.

``phi`` is the filler (phase 1) area fraction. Both functions broadcast their arguments and
order the phases themselves, so ``k_filler < k_matrix`` is allowed.

- Wiener (any microstructure, any direction): harmonic mean <= k <= arithmetic mean.
- Hashin-Shtrikman (statistically isotropic microstructures, 2D):
  ``k_lo + phi_hi / (1/(k_hi - k_lo) + phi_lo / (2 k_lo))`` <= k <=
  ``k_hi + phi_lo / (1/(k_lo - k_hi) + phi_hi / (2 k_hi))``, where ``lo``/``hi`` name the
  less and more conducting phase and ``phi_*`` their fractions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hashin_shtrikman_bounds", "wiener_bounds"]


def _checked(phi, k_matrix, k_filler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    phi = np.asarray(phi, dtype=np.float64)
    k0 = np.asarray(k_matrix, dtype=np.float64)
    k1 = np.asarray(k_filler, dtype=np.float64)
    if not all(np.all(np.isfinite(k) & (k > 0)) for k in (k0, k1)):
        raise ValueError(
            "conductivities must be finite and > 0, "
            f"got k_matrix={k_matrix!r}, k_filler={k_filler!r}"
        )
    if not (np.all(np.isfinite(phi)) and np.all((phi >= 0) & (phi <= 1))):
        raise ValueError(f"filler fraction phi must lie in [0, 1], got {phi!r}")
    return phi, k0, k1


def wiener_bounds(phi, k_matrix, k_filler) -> tuple[np.ndarray, np.ndarray]:
    """Wiener bounds (series and parallel layers) on the effective conductivity.

    Args:
        phi: filler fraction(s), any shape, each in [0, 1].
        k_matrix: conductivity of phase 0 (> 0), broadcast against ``phi``.
        k_filler: conductivity of phase 1 (> 0), broadcast against ``phi``.

    Returns:
        ``(lower, upper)``: float64 arrays of the broadcast shape (0-d for scalars).

    Example:
        >>> lo, hi = wiener_bounds(0.5, 1.0, 10.0)
        >>> round(float(lo), 4), round(float(hi), 4)
        (1.8182, 5.5)
    """
    phi, k0, k1 = _checked(phi, k_matrix, k_filler)
    lower = 1.0 / ((1.0 - phi) / k0 + phi / k1)
    upper = (1.0 - phi) * k0 + phi * k1
    return lower, upper


def hashin_shtrikman_bounds(phi, k_matrix, k_filler) -> tuple[np.ndarray, np.ndarray]:
    """2D Hashin-Shtrikman bounds for statistically isotropic two-phase media.

    Args:
        phi: filler fraction(s), any shape, each in [0, 1].
        k_matrix: conductivity of phase 0 (> 0), broadcast against ``phi``.
        k_filler: conductivity of phase 1 (> 0), broadcast against ``phi``.

    Returns:
        ``(lower, upper)``: float64 arrays of the broadcast shape; both equal the common
        conductivity where the phases conduct equally.

    Example:
        >>> lo, hi = hashin_shtrikman_bounds(0.5, 1.0, 10.0)
        >>> round(float(lo), 4), round(float(hi), 4)
        (2.3846, 4.1935)
    """
    phi, k0, k1 = _checked(phi, k_matrix, k_filler)
    phi, k0, k1 = np.broadcast_arrays(phi, k0, k1)
    swap = k1 < k0
    k_lo = np.where(swap, k1, k0)
    k_hi = np.where(swap, k0, k1)
    phi_hi = np.where(swap, 1.0 - phi, phi)
    phi_lo = 1.0 - phi_hi
    same = k_hi == k_lo
    # The formulas divide by k_hi - k_lo; equal phases are the homogeneous medium.
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = k_lo + phi_hi / (1.0 / (k_hi - k_lo) + phi_lo / (2.0 * k_lo))
        upper = k_hi + phi_lo / (1.0 / (k_lo - k_hi) + phi_hi / (2.0 * k_hi))
    lower = np.where(same, k_lo, lower)
    upper = np.where(same, k_hi, upper)
    return lower, upper
