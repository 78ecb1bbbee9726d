"""Scores of one arm's front and the comparison across arms and seeds.

* realism: ``s2_gap``, the largest gap over r = 0..r_max between the front's mean normalised
  two-point autocorrelation ``(S2(r) - phi^2) / (phi - phi^2)`` (1 at r = 0, 0 for
  uncorrelated pixels: the shape of the morphology, apart from its filler fraction) and the
  library's; the filler-fraction spread (std, min, max) of the front;
* distance to the physical limit: each front design's ``min(k_xx, k_yy)`` over the
  Hashin-Shtrikman upper bound at its filler fraction (median, max, how many above 1: at one
  cell per pixel, pixel-scale designs can pass the continuum bound slightly; see the solver
  benchmark's notes), over the two-phase designs (a pure phase meets the bound trivially);
* the best design of a front: the largest single-point hypervolume (its own box to the
  reference point), the design a scalarised HV would pick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.benchmarks.microstructure.protocol import normalised

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["autocorrelation", "best_design", "evals_to_reach", "front_scores", "stats"]


def autocorrelation(images: NDArray[np.uint8], r_max: int) -> NDArray[np.float64]:
    """`(r_max + 1,)` mean normalised two-point autocorrelation of images with both phases
    (NaN when none has)."""
    from evodesign.properties.microstructure import two_point_correlation, volume_fraction

    if len(images) == 0:
        return np.full(r_max + 1, np.nan)
    phi = volume_fraction(images)
    mixed = (phi > 0) & (phi < 1)
    if not mixed.any():
        return np.full(r_max + 1, np.nan)
    s2 = two_point_correlation(images[mixed], r_max)
    p = phi[mixed][:, None]
    return ((s2 - p**2) / (p - p**2)).mean(axis=0)


def best_design(
    objectives: list[Any], values: NDArray[np.float64], conductivity: tuple[float, float]
) -> int:
    """Row of the design with the largest box to the reference point (-1 when none)."""
    if len(values) == 0:
        return -1
    F, ref = normalised(objectives, values, conductivity)
    return int(np.argmax(np.prod(np.clip(ref - F, 0.0, None), axis=1)))


def front_scores(
    objectives: list[Any],
    values: NDArray[np.float64],
    images: NDArray[np.uint8],
    conductivity: tuple[float, float],
    library_autocorrelation: NDArray[np.float64],
    r_max: int,
) -> dict[str, Any]:
    """Realism and distance to the limit of one front (see the module docstring)."""
    from evodesign.physics import hashin_shtrikman_bounds

    names = [o.name for o in objectives]
    n = len(values)
    out: dict[str, Any] = {"n_front": n}
    if n == 0:
        return {
            **out,
            "s2_gap": float("nan"),
            "vf_mean": float("nan"),
            "vf_std": float("nan"),
            "vf_min": float("nan"),
            "vf_max": float("nan"),
            "hs_ratio_median": float("nan"),
            "hs_ratio_max": float("nan"),
            "n_above_hs": 0,
            "best": None,
        }
    vf = values[:, names.index("volume_fraction")]
    k = np.min(
        np.column_stack([values[:, names.index(c)] for c in ("k_xx", "k_yy") if c in names]), axis=1
    )
    # at filler fraction 0 or 1 the bound is the phase's own conductivity: the ratio is 1
    # trivially, so only two-phase designs are measured against it
    mixed = (vf > 0.0) & (vf < 1.0)
    ratio = k[mixed] / hashin_shtrikman_bounds(vf[mixed], *conductivity)[1]
    gap = np.abs(autocorrelation(images, r_max) - library_autocorrelation)
    best = best_design(objectives, values, conductivity)
    return {
        **out,
        "s2_gap": float(np.nanmax(gap)) if np.isfinite(gap).any() else float("nan"),
        "vf_mean": float(vf.mean()),
        "vf_std": float(vf.std()),
        "vf_min": float(vf.min()),
        "vf_max": float(vf.max()),
        "hs_ratio_median": float(np.median(ratio)) if len(ratio) else float("nan"),
        "hs_ratio_max": float(ratio.max()) if len(ratio) else float("nan"),
        "n_above_hs": int((ratio > 1.0).sum()),
        "best": {name: float(values[best, j]) for j, name in enumerate(names)}
        | {"hs_ratio": float(k[best] / hashin_shtrikman_bounds(vf[best], *conductivity)[1])},
    }


def stats(values: list[float]) -> dict[str, float]:
    """Median, min, max, mean of finite values (NaN when none)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return {
            "median": float("nan"),
            "min": float("nan"),
            "max": float("nan"),
            "mean": float("nan"),
        }
    return {
        "median": float(np.median(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
    }


def evals_to_reach(curve: list[list[float]], target: float) -> float | None:
    """Evaluations after which ``curve`` first reached ``target`` HV (None: never)."""
    for n_eval, hv in curve:
        if hv >= target:
            return float(n_eval)
    return None


def hv_ceiling(conductivity: tuple[float, float], n: int = 2001) -> dict[str, float]:
    """The largest oracle HV physics allows for (max k_xx, max k_yy, min filler fraction).

    In 2D the effective conductivities ``(k_xx, k_yy)`` of any two-phase composite at filler
    fraction ``phi`` obey the G-closure bound (Lurie & Cherkaev 1984; Murat & Tartar)
    ``1 / (k_f - k_xx) + 1 / (k_f - k_yy) <= 1 / (k_f - k_a) + 1 / (k_f - k_h)`` with the
    arithmetic and harmonic means ``k_a``, ``k_h`` (equality: rank-2 laminates; at
    ``k_xx = k_yy`` it is the Hashin-Shtrikman upper bound), and each ``k <= k_a``. The
    attainable sets grow with ``phi``, so the ceiling is the integral over ``phi`` of the
    normalised area they dominate. Also the ceiling of isotropic designs (both on the HS
    bound). A continuum bound: one cell per pixel can pass it slightly (the solver
    benchmark's notes).

    Args:
        conductivity: ``(k_matrix, k_filler)``.
        n: grid points in ``phi`` and in ``k_xx``.

    Returns:
        ``{"g_closure": HV, "isotropic_hs": HV}`` in the benchmark's normalised units.
    """
    from evodesign.physics import hashin_shtrikman_bounds

    k_m, k_f = conductivity
    phi = np.linspace(0.0, 1.0, n)
    k_a, k_h = (1 - phi) * k_m + phi * k_f, 1.0 / ((1 - phi) / k_m + phi / k_f)
    with np.errstate(divide="ignore", invalid="ignore"):
        budget = 1.0 / (k_f - k_a) + 1.0 / (k_f - k_h)
        # k_yy's largest value for each k_xx in [k_m, k_a] (k_a at or below k_h)
        t = np.linspace(0.0, 1.0, n)[None, :]
        x = k_m + t * (k_a - k_m)[:, None]
        y = k_f - 1.0 / (budget[:, None] - 1.0 / (k_f - x))
        y = np.where(x <= k_h[:, None], k_a[:, None], np.minimum(y, k_a[:, None]))
    y = np.nan_to_num(y, nan=k_f, posinf=k_f)
    norm = (k_f - k_m) ** 2
    area = np.trapezoid(y - k_m, x, axis=1) / norm
    area[-1] = 1.0  # pure filler: the whole square
    hs = (hashin_shtrikman_bounds(phi, k_m, k_f)[1] - k_m) / (k_f - k_m)
    return {
        "g_closure": float(np.trapezoid(np.maximum.accumulate(area), phi)),
        "isotropic_hs": float(np.trapezoid(np.maximum.accumulate(hs**2), phi)),
    }
