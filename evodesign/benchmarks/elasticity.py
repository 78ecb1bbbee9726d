"""The elasticity section of ``evodesign bench solver``: FFT homogenisation checked and timed.

- Laminates: random layer stacks, layers normal to y and to x, contrasts 1:10 and 1:1000, plane
  strain and plane stress, against the exact layered stiffness (Backus-type averaging: the
  strain along the layers and the tractions across them are uniform).
- Bounds: the ``bench solver`` images (the same families) at contrasts 1:10 and 1:100, plane
  strain, Poisson's ratio 0.3 in both phases. Every stiffness must lie between the Reuss and
  Voigt stiffnesses as quadratic forms; the isotropic part's bulk and shear moduli of the
  resolved isotropic family must lie inside the 2D Hashin-Shtrikman(-Walpole) bounds (other
  families reported, not counted).
- Speed and iterations: images/s of the default solver (conjugate gradients) over all images,
  and the iterations of CG and of the basic Moulinec-Suquet scheme on a few images at
  contrasts 1:10, 1:100 and 1:1000.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evodesign.physics import (
    effective_stiffness,
    hashin_shtrikman_elastic_bounds,
    isotropic_moduli,
    isotropic_stiffness,
    voigt_reuss_elastic_bounds,
)

__all__ = ["ELASTIC_CONTRASTS", "elasticity_lines", "elasticity_rows", "laminate_stiffness",
           "run_elasticity_benchmark"]

ELASTIC_CONTRASTS = ((1.0, 10.0), (1.0, 100.0))
SCALING_CONTRASTS = (10.0, 100.0, 1000.0)
POISSON = (0.3, 0.3)
LAMINATE_TARGET = 1e-6
# Relative slack of the bounds checks (of the largest Voigt entry): the solver stops at tol 1e-6
# and the stiffness error is second order in it.
_BOUND_RTOL = 1e-9


def laminate_stiffness(c_layers: np.ndarray) -> np.ndarray:
    """Exact Voigt stiffness ``(3, 3)`` of equal-thickness layers normal to y.

    ``c_layers`` ``(L, 3, 3)``: each layer's Voigt stiffness. eps_xx and the tractions
    (sigma_yy, sigma_xy) are uniform across bonded layers; with t = (xx,), n = (yy, xy):
    ``C*_nn = <Cnn^-1>^-1``, ``C*_nt = C*_nn <Cnn^-1 Cnt>``, ``C*_tt = <Ctt - Ctn Cnn^-1 Cnt> +
    <Ctn Cnn^-1> C*_nt``.
    """
    t, n = [0], [1, 2]
    ctt, ctn = c_layers[:, t][:, :, t], c_layers[:, t][:, :, n]
    cnt, cnn = c_layers[:, n][:, :, t], c_layers[:, n][:, :, n]
    inv_nn = np.linalg.inv(cnn)
    star_nn = np.linalg.inv(inv_nn.mean(axis=0))
    star_nt = star_nn @ (inv_nn @ cnt).mean(axis=0)
    out = np.empty((3, 3))
    out[np.ix_(t, t)] = (ctt - ctn @ inv_nn @ cnt).mean(axis=0) + (ctn @ inv_nn).mean(axis=0) @ star_nt
    out[np.ix_(n, n)] = star_nn
    out[np.ix_(n, t)], out[np.ix_(t, n)] = star_nt, star_nt.T
    return out


def _laminate_error(size: int, seed: int) -> float:
    """Largest relative error (of the largest entry) over stacks, orientations, contrasts, planes."""
    layers = np.random.default_rng(seed + 2).random((10, size)) < np.linspace(0.1, 0.9, 10)[:, None]
    layers[:, 0], layers[:, 1] = False, True
    along_x = np.repeat(layers[:, :, None], size, axis=2).astype(np.uint8)
    worst = 0.0
    for young, poisson in (((1.0, 10.0), (0.3, 0.3)), ((1000.0, 1.0), (0.45, 0.1))):
        for plane in ("strain", "stress"):
            phases = isotropic_stiffness(np.array(young), np.array(poisson), plane)
            exact = np.stack([laminate_stiffness(phases[row.astype(int)]) for row in layers])
            swap = [1, 0, 2]
            for images, expected in ((along_x, exact), (along_x.transpose(0, 2, 1), exact[:, swap][:, :, swap])):
                got = effective_stiffness(images, young, poisson, plane)
                scale = np.abs(expected).max(axis=(1, 2), keepdims=True)
                worst = max(worst, float(np.max(np.abs(got - expected) / scale)))
    return worst


def _bounds(images: np.ndarray, family: np.ndarray, families: dict[str, str]) -> dict[str, Any]:
    """Voigt-Reuss and Hashin-Shtrikman checks, speed and iterations over all images."""
    kinds = np.array(list(families.values()))[family]
    checked, diagnostic = kinds == "checked", kinds == "diagnostic"
    phi = images.mean(axis=(1, 2))
    out: dict[str, Any] = {"by_contrast": {}}
    vr = hs = 0
    for young in ELASTIC_CONTRASTS:
        label = f"1:{young[1] / young[0]:g}"
        start = time.perf_counter()
        c, info = effective_stiffness(images, young, POISSON, "strain", return_info=True)
        seconds = time.perf_counter() - start
        reuss, voigt = voigt_reuss_elastic_bounds(phi, young, POISSON, "strain")
        slack = _BOUND_RTOL * np.abs(voigt).max()
        below_voigt = np.linalg.eigvalsh(voigt - c).min(axis=1)
        above_reuss = np.linalg.eigvalsh(c - reuss).min(axis=1)
        vr_out = int(np.sum(below_voigt < -slack) + np.sum(above_reuss < -slack))
        kappa, mu = isotropic_moduli(c)
        (k_lo, k_hi), (m_lo, m_hi) = hashin_shtrikman_elastic_bounds(phi, young, POISSON, "strain")
        outside = np.stack([kappa < k_lo * (1 - _BOUND_RTOL), kappa > k_hi * (1 + _BOUND_RTOL),
                            mu < m_lo * (1 - _BOUND_RTOL), mu > m_hi * (1 + _BOUND_RTOL)], axis=1)
        vr += vr_out
        hs += int(outside[checked].sum())
        out["by_contrast"][label] = {
            "images_per_s": len(images) / seconds,
            "iterations_mean": float(info["iterations"].mean()),
            "iterations_max": int(info["iterations"].max()),
            "voigt_reuss_violations": vr_out,
            "hashin_shtrikman_violations": int(outside[checked].sum()),
            "hashin_shtrikman_outside_diagnostic": int(outside[diagnostic].sum()),
            "max_kappa_over_hs_upper_checked": float(np.max(kappa[checked] / k_hi[checked])),
            "max_mu_over_hs_upper_checked": float(np.max(mu[checked] / m_hi[checked])),
            "min_kappa_over_hs_lower_checked": float(np.min(kappa[checked] / k_lo[checked])),
            "min_mu_over_hs_lower_checked": float(np.min(mu[checked] / m_lo[checked])),
        }
    out.update({
        "bounds_violations": vr + hs,
        "voigt_reuss_violations": vr,
        "hashin_shtrikman_violations": hs,
        "n_voigt_reuss_checks": int(2 * len(images) * len(ELASTIC_CONTRASTS)),
        "n_hashin_shtrikman_checks": int(4 * checked.sum() * len(ELASTIC_CONTRASTS)),
        "n_hashin_shtrikman_diagnostic_checks": int(4 * diagnostic.sum() * len(ELASTIC_CONTRASTS)),
    })
    return out


def _scaling(images: np.ndarray) -> dict[str, Any]:
    """Iterations (mean over images and load cases) and images/s of both methods vs contrast."""
    out: dict[str, Any] = {}
    for method in ("cg", "basic"):
        rows = {}
        for contrast in SCALING_CONTRASTS:
            start = time.perf_counter()
            _, info = effective_stiffness(images, (1.0, contrast), POISSON, "strain", method=method, return_info=True)
            seconds = time.perf_counter() - start
            rows[f"1:{contrast:g}"] = {"iterations_mean": float(info["iterations"].mean()),
                                       "iterations_max": int(info["iterations"].max()),
                                       "images_per_s": len(images) / seconds}
        out[method] = rows
    return out


def run_elasticity_benchmark(images: np.ndarray, family: np.ndarray, families: dict[str, str],
                             seed: int = 0, n_scaling: int = 2) -> dict[str, Any]:
    """The elasticity checks on ``bench solver``'s images.

    Args:
        images: ``(n, H, W)`` 0/1 images; family: ``(n,)`` indices into ``families``.
        families: family name -> ``"checked"`` / ``"diagnostic"`` / ``"none"`` (how the
            Hashin-Shtrikman bounds apply, as for the conductivity).
        seed: seed of the laminate stacks.
        n_scaling: images (the first ones of the resolved isotropic family) for the
            iterations-vs-contrast comparison of CG and the basic scheme.

    Returns:
        A JSON-ready dict: ``laminate_rel_error``, ``bounds_violations`` (Voigt-Reuss + HS),
        their parts and check counts, ``by_contrast`` (images/s, iterations, closest approach
        to HS), ``images_per_s`` (1:10), ``iteration_scaling`` (``cg`` and ``basic``).
    """
    start = time.perf_counter()
    size = images.shape[1]
    laminate = _laminate_error(size, seed)
    bounds = _bounds(images, family, families)
    isotropic = np.flatnonzero(np.array(list(families.values()))[family] == "checked")[:n_scaling]
    scaling = _scaling(images[isotropic]) if isotropic.size else {}
    return {
        "method": "cg",
        "tol": 1e-6,
        "plane": "strain",
        "poisson": list(POISSON),
        "contrasts": [list(c) for c in ELASTIC_CONTRASTS],
        "laminate_rel_error": laminate,
        **bounds,
        "images_per_s": bounds["by_contrast"]["1:10"]["images_per_s"],
        "n_scaling_images": int(isotropic.size),
        "iteration_scaling": scaling,
        "bound_rtol": _BOUND_RTOL,
        "seconds": time.perf_counter() - start,
    }


def elasticity_rows(e: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(measure, value, target)`` rows for the ``bench solver`` table."""
    rows = [
        ("elastic laminate rel. error", f"{e['laminate_rel_error']:.1e}", f"<= {LAMINATE_TARGET:g}"),
        (f"elastic Voigt-Reuss violations / {e['n_voigt_reuss_checks']:,}", str(e["voigt_reuss_violations"]), "0"),
        (f"elastic HS violations / {e['n_hashin_shtrikman_checks']:,} (isotropic, resolved)",
         str(e["hashin_shtrikman_violations"]), "0"),
    ]
    for label, r in e["by_contrast"].items():
        rows.append((f"elastic {label} images/s | iterations mean, max",
                     f"{r['images_per_s']:,.1f} | {r['iterations_mean']:.0f}, {r['iterations_max']}", ""))
    return rows


def elasticity_lines(e: dict[str, Any], size: int) -> list[str]:
    """The docs/benchmarks.md subsection for :func:`run_elasticity_benchmark`'s result."""
    lam_ok = e["laminate_rel_error"] <= LAMINATE_TARGET
    lines = [
        "### Elasticity: FFT homogenisation (effective stiffness)",
        "",
        f"`evodesign.physics.effective_stiffness` on the same {size}x{size} images: conjugate gradients on "
        "the Galerkin form of the Moulinec-Suquet equation, equilibrium error <= "
        f"{e['tol']:g}, plane {e['plane']}, Poisson's ratio {e['poisson'][0]:g} in both phases.",
        "",
        "| check | value | target |",
        "|---|---:|---|",
        f"| laminates (Backus-type exact stiffness), max rel. error | {e['laminate_rel_error']:.1e} | "
        f"<= {LAMINATE_TARGET:g} |",
        f"| Voigt-Reuss violations (all images, as quadratic forms) | {e['voigt_reuss_violations']} / "
        f"{e['n_voigt_reuss_checks']:,} | 0 |",
        f"| 2D Hashin-Shtrikman violations, bulk and shear (isotropic, resolved family) | "
        f"{e['hashin_shtrikman_violations']} / {e['n_hashin_shtrikman_checks']:,} | 0 |",
    ]
    for label, r in e["by_contrast"].items():
        lines.append(f"| contrast {label}: images/s (3 load cases each), iterations mean / max | "
                     f"{r['images_per_s']:,.1f}, {r['iterations_mean']:.0f} / {r['iterations_max']} | |")
    lines.append("")
    if e["iteration_scaling"]:
        contrasts = list(e["iteration_scaling"]["cg"])
        lines += [
            f"Iterations (mean over {e['n_scaling_images']} isotropic images and the 3 load cases) and "
            "images/s against the phase contrast:",
            "",
            "| method | " + " | ".join(contrasts) + " |",
            "|---|" + "---:|" * len(contrasts),
        ]
        for method, rows in e["iteration_scaling"].items():
            lines.append(f"| {method} | " + " | ".join(
                f"{rows[c]['iterations_mean']:.0f} it, {rows[c]['images_per_s']:.2g}/s" for c in contrasts) + " |")
        lines.append("")
    diag = ", ".join(f"{label}: {r['hashin_shtrikman_outside_diagnostic']}" for label, r in e["by_contrast"].items())
    close = "; ".join(
        f"{label} max kappa/HS upper {r['max_kappa_over_hs_upper_checked']:.3f}, max mu/HS upper "
        f"{r['max_mu_over_hs_upper_checked']:.3f}" for label, r in e["by_contrast"].items())
    lines += [
        f"HS values outside for the families not counted (white noise, discs) / "
        f"{e['n_hashin_shtrikman_diagnostic_checks']:,}: {diag}. Closest approach (resolved family): {close}.",
        "",
        f"Elastic laminates <= {LAMINATE_TARGET:g}: {'met' if lam_ok else '**NOT met**'}. "
        f"Elastic bounds: {'met' if e['bounds_violations'] == 0 else '**NOT met**'}.",
        "",
    ]
    return lines
