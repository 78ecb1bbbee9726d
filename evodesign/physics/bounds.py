"""Rigorous bounds on the effective conductivity and stiffness of a two-phase medium in 2D.

``phi`` is the filler (phase 1) area fraction. Both functions broadcast their arguments and
order the phases themselves, so ``k_filler < k_matrix`` is allowed.

- Wiener (any microstructure, any direction): harmonic mean <= k <= arithmetic mean.
- Hashin-Shtrikman (statistically isotropic microstructures, 2D):
  ``k_lo + phi_hi / (1/(k_hi - k_lo) + phi_lo / (2 k_lo))`` <= k <=
  ``k_hi + phi_lo / (1/(k_lo - k_hi) + phi_hi / (2 k_hi))``, where ``lo``/``hi`` name the
  less and more conducting phase and ``phi_*`` their fractions.

Elastic bounds (isotropic phases, 2D plane strain or plane stress, Voigt notation with
engineering shear strain; see :mod:`evodesign.physics.elasticity`):

- Voigt-Reuss (any microstructure): ``C_reuss <= C <= C_voigt`` as quadratic forms, with
  ``C_voigt = <C>`` and ``C_reuss = <C^-1>^-1`` (the pixel averages).
- Hashin-Shtrikman (statistically isotropic, 2D), in Walpole's form, valid for any ordering of
  the phases: with the translated harmonic mean ``H(m, t) = [sum_i phi_i / (m_i + t)]^-1 - t``,
  ``H(kappa, mu_min) <= kappa* <= H(kappa, mu_max)`` and ``H(mu, zeta_min) <= mu* <= H(mu,
  zeta_max)``, ``zeta = kappa mu / (kappa + 2 mu)`` at the phases' extreme moduli;
  ``kappa = lambda + mu`` is the 2D (area) bulk modulus and ``mu`` the shear modulus. Sources:
  Hashin 1965 (J. Mech. Phys. Solids 13, 119: transverse bulk and shear moduli of fibre
  composites, i.e. plane strain), Walpole 1966 (J. Mech. Phys. Solids 14, 151: phases not
  well ordered), Torquato 2002 (Random Heterogeneous Materials, ch. 21, d = 2). Plane stress
  uses the same formulas with the plane-stress 2D moduli.
"""

from __future__ import annotations

import numpy as np

from evodesign.physics.elasticity import isotropic_stiffness, lame_2d

__all__ = [
    "hashin_shtrikman_bounds",
    "hashin_shtrikman_elastic_bounds",
    "voigt_reuss_elastic_bounds",
    "wiener_bounds",
]


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


def _checked_fraction(phi) -> np.ndarray:
    phi = np.asarray(phi, dtype=np.float64)
    if not (np.all(np.isfinite(phi)) and np.all((phi >= 0) & (phi <= 1))):
        raise ValueError(f"filler fraction phi must lie in [0, 1], got {phi!r}")
    return phi


def voigt_reuss_elastic_bounds(phi, young=(1.0, 10.0), poisson=(0.3, 0.3),
                               plane: str = "strain") -> tuple[np.ndarray, np.ndarray]:
    """Reuss and Voigt stiffnesses ``(..., 3, 3)`` (Voigt notation) at filler fraction(s) ``phi``.

    Args:
        phi: filler fraction(s), any shape, each in [0, 1].
        young: ``(E_matrix, E_filler)``, each > 0.
        poisson: ``(nu_matrix, nu_filler)``, each in (-1, 0.5).
        plane: ``"strain"`` or ``"stress"``.

    Returns:
        ``(c_reuss, c_voigt)``, each ``phi.shape + (3, 3)``; every microstructure's effective
        stiffness lies between them as quadratic forms.

    Example:
        >>> lo, hi = voigt_reuss_elastic_bounds(0.5, (1.0, 10.0), (0.0, 0.0))
        >>> round(float(lo[0, 0]), 4), round(float(hi[0, 0]), 4)
        (1.8182, 5.5)
    """
    phi = _checked_fraction(phi)[..., None, None]
    c0, c1 = isotropic_stiffness(young, poisson, plane)
    voigt = (1.0 - phi) * c0 + phi * c1
    reuss = np.linalg.inv((1.0 - phi) * np.linalg.inv(c0) + phi * np.linalg.inv(c1))
    return reuss, voigt


Pair = tuple[np.ndarray, np.ndarray]


def hashin_shtrikman_elastic_bounds(phi, young=(1.0, 10.0), poisson=(0.3, 0.3),
                                    plane: str = "strain") -> tuple[Pair, Pair]:
    """2D Hashin-Shtrikman(-Walpole) bounds on the bulk and shear moduli (module docstring).

    Args:
        phi: filler fraction(s), any shape, each in [0, 1].
        young: ``(E_matrix, E_filler)``, each > 0.
        poisson: ``(nu_matrix, nu_filler)``, each in (-1, 0.5).
        plane: ``"strain"`` or ``"stress"`` (which 2D moduli the phases have).

    Returns:
        ``((kappa_lower, kappa_upper), (mu_lower, mu_upper))``, arrays of ``phi``'s shape:
        bounds on the 2D bulk modulus ``kappa`` (``sigma_xx + sigma_yy = 2 kappa (eps_xx +
        eps_yy)``) and the shear modulus of a statistically isotropic two-phase medium. Compare
        with :func:`evodesign.physics.elasticity.isotropic_moduli` of a computed stiffness.

    Example:
        >>> (k_lo, k_hi), (m_lo, m_hi) = hashin_shtrikman_elastic_bounds(0.5, (1.0, 10.0), (0.0, 0.0))
        >>> [round(float(v), 4) for v in (k_lo, k_hi, m_lo, m_hi)]
        [1.1923, 2.0968, 1.0143, 1.6038]
    """
    phi = _checked_fraction(phi)
    lam, mu = lame_2d(young, poisson, plane)
    if lam.shape != (2,):
        raise ValueError(
            f"young and poisson must be pairs (matrix, filler), got {young!r}, {poisson!r}"
        )
    kappa = lam + mu
    zeta = lambda k, m: k * m / (k + 2.0 * m)  # noqa: E731

    def translated(m: np.ndarray, t: float) -> np.ndarray:
        return 1.0 / ((1.0 - phi) / (m[0] + t) + phi / (m[1] + t)) - t

    zeta_lo, zeta_hi = zeta(kappa.min(), mu.min()), zeta(kappa.max(), mu.max())
    return ((translated(kappa, mu.min()), translated(kappa, mu.max())),
            (translated(mu, zeta_lo), translated(mu, zeta_hi)))
