"""``evodesign bench solver``: the conductivity solver's exactness, bounds and speed.

- Laminates: k_xx / k_yy of random layer stacks against the arithmetic / harmonic means.
- Bounds: ``n_images`` random images of six families (statistically isotropic: thresholded
  Gaussian fields with correlation length 1-2 px, white noise, overlapping discs; anisotropic:
  stretched Gaussian fields, aligned fibres, laminates with defects), at contrasts 1:10 and
  1:100, both directions. Every value must lie inside the Wiener bounds. The 2D
  Hashin-Shtrikman bounds are continuum bounds for statistically isotropic media; they are
  checked on the isotropic family whose features span several pixels (short enough that a
  64 px window is isotropic: at correlation length 3 px about 1% of single windows leave
  them). White noise (pixel-scale features: the finite-volume model is a resistor network
  there) and dilute discs (circles sit exactly on the HS lower bound in the continuum) can
  fall just outside at one cell per pixel; they are reported separately and re-solved with
  each pixel split into ``REFINE x REFINE`` cells, the same geometry better resolved.
- Speed: solves per second of the default method and of the plain ``spsolve`` reference on
  the same images in the same run, interleaved rounds, median round; one BLAS thread.
- Elasticity (key ``elasticity``): the FFT homogenisation of
  :func:`evodesign.physics.effective_stiffness` on the first ``n_elastic`` images
  (:mod:`evodesign.benchmarks.elasticity`).

The images are made here with ``scipy.ndimage`` (the data-set generator is not used, so this
benchmark measures the solver alone).
"""

from __future__ import annotations

import os
import platform
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from evodesign.benchmarks.elasticity import elasticity_lines, elasticity_rows, run_elasticity_benchmark
from evodesign.physics import effective_conductivity, hashin_shtrikman_bounds, wiener_bounds
from evodesign.physics.conductivity import BACKWARD_ERROR_TOL

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["FAMILIES", "format_solver_table", "random_images", "run_solver_benchmark", "solver_section"]

#: Image families and how the Hashin-Shtrikman bounds apply: "checked" (statistically
#: isotropic, features resolved by several pixels), "diagnostic" (statistically isotropic but
#: pixel-scale features, or inclusions that sit on the HS lower bound in the continuum: their
#: excursions are reported and re-solved on a refined grid) or "none" (anisotropic).
FAMILIES = {
    "gaussian_isotropic": "checked",
    "white_noise": "diagnostic",
    "discs": "diagnostic",
    "gaussian_anisotropic": "none",
    "fibres": "none",
    "laminate_defects": "none",
}
#: Each pixel becomes REFINE x REFINE cells when an HS excursion is re-solved.
REFINE = 4
CONTRASTS = ((1.0, 10.0), (1.0, 100.0))
SPEEDUP_TARGET = 3.0
LAMINATE_TARGET = 1e-9
# Slack of the bounds checks, relative: a laminate sits exactly on a Wiener bound.
_BOUND_RTOL = 1e-9


def _threshold(fields: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Each ``(H, W)`` field of ``fields`` ``(n, H, W)`` cut at its own quantile."""
    flat = fields.reshape(len(fields), -1)
    levels = np.take_along_axis(np.sort(flat, axis=1), (fractions * (flat.shape[1] - 1)).astype(int)[:, None], 1)
    return (fields > levels[:, :, None]).astype(np.uint8)


def _gaussian(rng: np.random.Generator, n: int, size: int, isotropic: bool) -> np.ndarray:
    out = np.empty((n, size, size), dtype=np.uint8)
    for m in range(n):  # gaussian_filter takes one sigma per axis: one call per image
        if isotropic:
            sigma = (rng.uniform(1.0, 2.0),) * 2
        else:
            long, short = rng.uniform(3.0, 8.0), rng.uniform(0.8, 2.0)
            sigma = (long, short) if rng.random() < 0.5 else (short, long)
        field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
        out[m] = _threshold(field[None], np.array([1.0 - rng.uniform(0.1, 0.9)]))[0]
    return out


def _white_noise(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return (rng.random((n, size, size)) < rng.uniform(0.1, 0.9, n)[:, None, None]).astype(np.uint8)


def _discs(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Overlapping discs (a Boolean model), periodic, radius 1.5-3 px, filler 0.1-0.7."""
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size), dtype=np.uint8)
    for m in range(n):
        radius = rng.uniform(1.5, 3.0)
        density = -np.log(1.0 - rng.uniform(0.1, 0.7)) / (np.pi * radius**2)
        centres = rng.uniform(0, size, size=(max(1, rng.poisson(density * size * size)), 2))
        dy = np.abs(yy[..., None] - centres[:, 0])
        dx = np.abs(xx[..., None] - centres[:, 1])
        dy, dx = np.minimum(dy, size - dy), np.minimum(dx, size - dx)
        out[m] = ((dy**2 + dx**2).min(axis=2) <= radius**2).astype(np.uint8)
    return out


def _fibres(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Aligned rectangles (length 8-24, width 1-3 px), all along x or all along y."""
    out = np.zeros((n, size, size), dtype=np.uint8)
    for m in range(n):
        for _ in range(rng.integers(5, 40)):
            length, width = rng.integers(8, 25), rng.integers(1, 4)
            r, c = rng.integers(0, size, 2)
            rows = (r + np.arange(width)) % size
            cols = (c + np.arange(length)) % size
            out[m][np.ix_(rows, cols)] = 1
        if rng.random() < 0.5:
            out[m] = out[m].T
    return out


def _laminates(rng: np.random.Generator, n: int, size: int, defect_rate: tuple[float, float]) -> np.ndarray:
    """Random layer stacks, stripes along x or y, with a fraction of pixels flipped."""
    layers = (rng.random((n, size)) < rng.uniform(0.2, 0.8, n)[:, None]).astype(np.uint8)
    out = np.repeat(layers[:, :, None], size, axis=2)
    flip = rng.random((n, size, size)) < rng.uniform(*defect_rate, n)[:, None, None]
    out = out ^ flip.astype(np.uint8)
    turn = rng.random(n) < 0.5
    out[turn] = out[turn].transpose(0, 2, 1)
    return out


def random_images(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random ``(size, size)`` images, the families taken in turn.

    Returns:
        ``(images, family)``: ``(n, size, size)`` uint8 and ``(n,)`` indices into
        :data:`FAMILIES`.
    """
    names = list(FAMILIES)
    family = np.arange(n) % len(names)
    rng = np.random.default_rng(seed)
    makers = {
        "gaussian_isotropic": lambda k: _gaussian(rng, k, size, isotropic=True),
        "white_noise": lambda k: _white_noise(rng, k, size),
        "discs": lambda k: _discs(rng, k, size),
        "gaussian_anisotropic": lambda k: _gaussian(rng, k, size, isotropic=False),
        "fibres": lambda k: _fibres(rng, k, size),
        "laminate_defects": lambda k: _laminates(rng, k, size, (0.0, 0.05)),
    }
    images = np.empty((n, size, size), dtype=np.uint8)
    for i, name in enumerate(names):
        rows = np.flatnonzero(family == i)
        images[rows] = makers[name](rows.size)
    return images, family


def _laminate_errors(size: int, seed: int) -> dict[str, float]:
    """Largest relative errors of exact laminates (rows are the layers), both contrasts."""
    layers = np.random.default_rng(seed + 1).random((20, size)) < np.linspace(0.1, 0.9, 20)[:, None]
    layers[:, 0], layers[:, 1] = False, True  # both phases in every stack
    along_x = np.repeat(layers[:, :, None], size, axis=2).astype(np.uint8)
    parallel = series = 0.0
    for contrast in CONTRASTS:
        k = np.where(layers, contrast[1], contrast[0])
        got = effective_conductivity(along_x, contrast)
        parallel = max(parallel, float(np.max(np.abs(got[:, 0] / k.mean(axis=1) - 1.0))))
        series = max(series, float(np.max(np.abs(got[:, 1] * (1.0 / k).mean(axis=1) - 1.0))))
    return {"laminate_parallel_rel_error": parallel, "laminate_series_rel_error": series}


def _outside(k: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(n, 2)`` bool: values outside ``[lo, hi]`` (``(n,)`` each) beyond the relative slack."""
    return (k < lo[:, None] * (1 - _BOUND_RTOL)) | (k > hi[:, None] * (1 + _BOUND_RTOL))


def _bounds(images: np.ndarray, family: np.ndarray) -> tuple[dict[str, Any], float]:
    """Bounds checks of every image, both directions, both contrasts; and the solve seconds."""
    kinds = np.array(list(FAMILIES.values()))[family]
    checked, diagnostic = kinds == "checked", kinds == "diagnostic"
    phi = images.mean(axis=(1, 2))
    wiener = hs = 0
    closest: dict[str, float] = {}
    excursions: dict[str, dict[str, Any]] = {}
    seconds = 0.0
    for contrast in CONTRASTS:
        label = f"1:{contrast[1] / contrast[0]:g}"
        start = time.perf_counter()
        k = effective_conductivity(images, contrast)
        seconds += time.perf_counter() - start
        w_lo, w_hi = wiener_bounds(phi, *contrast)
        h_lo, h_hi = hashin_shtrikman_bounds(phi, *contrast)
        wiener += int(_outside(k, w_lo, w_hi).sum())
        hs_out = _outside(k, h_lo, h_hi)
        hs += int(hs_out[checked].sum())
        closest[f"{label} max k / HS upper (checked)"] = float(np.max(k[checked] / h_hi[checked, None]))
        closest[f"{label} min k / HS lower (checked)"] = float(np.min(k[checked] / h_lo[checked, None]))
        mixed = (phi > 0) & (phi < 1)
        closest[f"{label} max k / Wiener upper (all mixed)"] = float(np.max(k[mixed] / w_hi[mixed, None]))
        # Diagnostic families: how far outside, and whether a refined grid brings them in.
        rows = np.flatnonzero(diagnostic & hs_out.any(axis=1))
        fine = np.kron(images[rows], np.ones((1, REFINE, REFINE), dtype=np.uint8))
        k_fine = effective_conductivity(fine, contrast) if rows.size else np.zeros((0, 2))
        ratio = np.minimum(k[rows] / h_lo[rows, None], h_hi[rows, None] / k[rows])
        excursions[label] = {
            "by_family": {name: int(hs_out[family == i].any(axis=1).sum()) for i, name in enumerate(FAMILIES)},
            "diagnostic_outside": int(hs_out[diagnostic].sum()),
            "n_diagnostic_checks": int(2 * diagnostic.sum()),
            "diagnostic_worst_ratio_to_bound": float(ratio.min()) if rows.size else 1.0,
            "diagnostic_outside_after_refinement": int(_outside(k_fine, h_lo[rows], h_hi[rows]).sum()),
        }
    return {
        "bounds_violations": wiener + hs,
        "wiener_violations": wiener,
        "hashin_shtrikman_violations": hs,
        "n_wiener_checks": int(images.shape[0] * 2 * len(CONTRASTS)),
        "n_hashin_shtrikman_checks": int(2 * checked.sum() * len(CONTRASTS)),
        "bound_rtol": _BOUND_RTOL,
        "closest_to_bounds": closest,
        "hashin_shtrikman_excursions": excursions,
        "refine": REFINE,
    }, seconds


def _timing(images: np.ndarray, rounds: int) -> dict[str, Any]:
    """Median solves/s of the default method and of spsolve, interleaved rounds."""
    solves = 2 * len(images)
    by_contrast: dict[str, Any] = {}
    max_diff = 0.0
    for contrast in CONTRASTS:
        fast_s, ref_s = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            reference = effective_conductivity(images, contrast, method="spsolve")
            ref_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            got = effective_conductivity(images, contrast)
            fast_s.append(time.perf_counter() - start)
        max_diff = max(max_diff, float(np.max(np.abs(got / reference - 1.0))))
        fast, ref = solves / float(np.median(fast_s)), solves / float(np.median(ref_s))
        by_contrast[f"1:{contrast[1] / contrast[0]:g}"] = {
            "solves_per_s": fast, "spsolve_solves_per_s": ref, "speedup_vs_spsolve": fast / ref,
        }
    return {"by_contrast": by_contrast, "max_rel_diff_vs_spsolve": max_diff}


def _environment() -> dict[str, Any]:
    from importlib.metadata import version

    import scipy

    return {
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "blas_threads": 1,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "qdldl": version("qdldl"),
        "platform": platform.platform(),
    }


def run_solver_benchmark(n_images: int = 1000, size: int = 64, seed: int = 0, n_timing: int = 100,
                         rounds: int = 5, n_elastic: int = 240) -> dict[str, Any]:
    """Exactness on laminates, bounds on random images, and speed vs ``spsolve``.

    Args:
        n_images: random images for the bounds checks (>= 1,000 for the issue's claim).
        size: image side in pixels.
        seed: seed of the images.
        n_timing: images timed against ``spsolve`` (the first ones, all families).
        rounds: interleaved timing rounds; the median round counts.
        n_elastic: images (the first ones, all families) of the elasticity section; 0 skips it.

    Returns:
        A JSON-ready dict: ``laminate_parallel_rel_error``, ``laminate_series_rel_error``,
        ``bounds_violations`` (Wiener + HS) with ``wiener_violations``,
        ``hashin_shtrikman_violations`` and their check counts, ``closest_to_bounds``,
        ``solves_per_s``, ``spsolve_solves_per_s``, ``speedup_vs_spsolve`` (contrast 1:10),
        ``by_contrast`` (1:10 and 1:100), ``max_rel_diff_vs_spsolve``,
        ``library_solves_per_s`` (default method over all images), the settings, the
        families and ``environment``; ``elasticity``: see
        :func:`evodesign.benchmarks.elasticity.run_elasticity_benchmark`.
    """
    from threadpoolctl import threadpool_limits

    if n_images < 1 or size < 3 or n_timing < 1 or rounds < 1:
        raise ValueError(
            f"need n_images >= 1, size >= 3, n_timing >= 1, rounds >= 1; got {n_images}, {size}, {n_timing}, {rounds}"
        )
    environment = _environment()
    started = time.perf_counter()
    images, family = random_images(n_images, size, seed)
    with threadpool_limits(limits=1):
        effective_conductivity(images[:2])  # warm-up: imports and cached patterns
        laminates = _laminate_errors(size, seed)
        bounds, seconds = _bounds(images, family)
        timing = _timing(images[:n_timing], rounds)
        elasticity = (run_elasticity_benchmark(images[:n_elastic], family[:n_elastic], FAMILIES, seed)
                      if n_elastic > 0 else None)
    headline = timing["by_contrast"]["1:10"]
    names = list(FAMILIES)
    return {
        "n_images": n_images,
        "size": size,
        "seed": seed,
        "n_timing": min(n_timing, n_images),
        "rounds": rounds,
        "contrasts": [list(c) for c in CONTRASTS],
        "families": {name: {"hashin_shtrikman": kind, "n": int(np.sum(family == i))}
                     for i, (name, kind) in enumerate(FAMILIES.items())},
        "filler_fraction_range": [float(images.mean(axis=(1, 2)).min()), float(images.mean(axis=(1, 2)).max())],
        **laminates,
        **bounds,
        "solves_per_s": headline["solves_per_s"],
        "spsolve_solves_per_s": headline["spsolve_solves_per_s"],
        "speedup_vs_spsolve": headline["speedup_vs_spsolve"],
        **timing,
        "library_solves_per_s": 2 * len(CONTRASTS) * n_images / seconds,
        "default_method": "ldl",
        "backward_error_tol": BACKWARD_ERROR_TOL,
        "seconds": time.perf_counter() - started,
        "environment": environment,
        "family_names": names,
        **({"elasticity": elasticity} if elasticity is not None else {}),
    }


def format_solver_table(result: dict[str, Any]) -> Table:
    """A rich table of :func:`run_solver_benchmark`'s result."""
    from rich.table import Table

    table = Table(title=f"Conductivity solver, {result['size']}x{result['size']} images")
    table.add_column("measure", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("target", justify="right", no_wrap=True)
    table.add_row("laminate parallel rel. error", f"{result['laminate_parallel_rel_error']:.1e}", "<= 1e-9")
    table.add_row("laminate series rel. error", f"{result['laminate_series_rel_error']:.1e}", "<= 1e-9")
    table.add_row(f"Wiener violations / {result['n_wiener_checks']:,}", str(result["wiener_violations"]), "0")
    table.add_row(f"HS violations / {result['n_hashin_shtrikman_checks']:,} (isotropic, resolved)",
                  str(result["hashin_shtrikman_violations"]), "0")
    for label, e in result["hashin_shtrikman_excursions"].items():
        table.add_row(f"{label} HS outside, diagnostic families / {e['n_diagnostic_checks']:,}",
                      f"{e['diagnostic_outside']} -> {e['diagnostic_outside_after_refinement']} refined", "")
    for label, r in result["by_contrast"].items():
        table.add_row(f"{label} solves/s: default | spsolve",
                      f"{r['solves_per_s']:,.0f} | {r['spsolve_solves_per_s']:,.0f}", "")
        table.add_row(f"{label} speedup vs spsolve", f"{r['speedup_vs_spsolve']:.2f}x", f">= {SPEEDUP_TARGET:g}x")
    table.add_row("max rel. diff vs spsolve", f"{result['max_rel_diff_vs_spsolve']:.1e}", "<= 1e-6")
    for row in elasticity_rows(result["elasticity"]) if "elasticity" in result else ():
        table.add_row(*row)
    table.caption = (
        f"{result['n_images']:,} images of {len(result['families'])} families, contrasts 1:10 and 1:100, "
        f"both directions; timing on {result['n_timing']} images, median of {result['rounds']} rounds"
    )
    return table


def _mark(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def solver_section(r: dict[str, Any]) -> list[str]:
    """The docs/benchmarks.md section for a ``bench solver`` result."""
    env = r["environment"]
    lam_ok = max(r["laminate_parallel_rel_error"], r["laminate_series_rel_error"]) <= LAMINATE_TARGET
    lines = [
        "## Conductivity solver: exactness, physical bounds, speed",
        "",
        f"Command: `{r.get('command', 'evodesign bench solver --json docs/benchmarks/solver.json')}`",
        "",
        f"Finite volumes as in issue 14 on {r['size']}x{r['size']} images; default method "
        f"`{r['default_method']}` (sparse LDL^T, symbolic analysis shared by the images, every "
        f"field checked: backward error <= {r['backward_error_tol']:g} and inside the Wiener bounds, "
        "else solved again by `spsolve`).",
        "",
        "| check | value | target |",
        "|---|---:|---|",
        f"| laminates, parallel (arithmetic mean), max rel. error | {r['laminate_parallel_rel_error']:.1e} | <= 1e-9 |",
        f"| laminates, series (harmonic mean), max rel. error | {r['laminate_series_rel_error']:.1e} | <= 1e-9 |",
        f"| Wiener bound violations (all images) | {r['wiener_violations']} / {r['n_wiener_checks']:,} | 0 |",
        f"| Hashin-Shtrikman violations (isotropic, resolved family) | {r['hashin_shtrikman_violations']} / "
        f"{r['n_hashin_shtrikman_checks']:,} | 0 |",
        f"| max rel. diff vs `spsolve` | {r['max_rel_diff_vs_spsolve']:.1e} | <= 1e-6 |",
    ]
    for label, c in r["by_contrast"].items():
        lines.append(
            f"| contrast {label}: solves/s default vs `spsolve` | {c['solves_per_s']:,.0f} vs "
            f"{c['spsolve_solves_per_s']:,.0f} (**{c['speedup_vs_spsolve']:.2f}x**) | >= {SPEEDUP_TARGET:g}x |"
        )
    fams = ", ".join(f"{name} ({f['n']}, HS {f['hashin_shtrikman']})" for name, f in r["families"].items())
    speed_ok = min(c["speedup_vs_spsolve"] for c in r["by_contrast"].values()) >= SPEEDUP_TARGET
    closest = "; ".join(f"{k} {v:.3f}" for k, v in r["closest_to_bounds"].items())
    lo, hi = r["filler_fraction_range"]
    lines += [
        "",
        f"Images: {r['n_images']:,} ({fams}), filler fraction {lo:.2f}-{hi:.2f}, each solved along x "
        f"and y at contrasts 1:10 and 1:100 (bounds with relative slack {r['bound_rtol']:g}). "
        f"Closest approach: {closest}.",
        "",
        f"Timing: the first {r['n_timing']} images, both directions, median of {r['rounds']} interleaved "
        f"rounds, one BLAS thread; the whole library ran at {r['library_solves_per_s']:,.0f} solves/s. "
        f"{env['cpu_count']} CPUs (1-min load {env['load_average_1min_at_start']} at start: a shared "
        f"machine), numpy {env['numpy']}, scipy {env['scipy']}, qdldl {env['qdldl']}.",
        "",
        "Hashin-Shtrikman outside at one cell per pixel, families not counted above (white noise, "
        "discs), and after splitting each pixel into "
        f"{r['refine']}x{r['refine']} cells: "
        + "; ".join(f"{label}: {e['diagnostic_outside']} / {e['n_diagnostic_checks']:,} values (worst "
                    f"{e['diagnostic_worst_ratio_to_bound']:.4f} of the bound) -> "
                    f"{e['diagnostic_outside_after_refinement']} refined"
                    for label, e in r["hashin_shtrikman_excursions"].items())
        + ". Images per family outside HS at 1:10 (anisotropic families are expected outside): "
        + ", ".join(f"{k} {v}" for k, v in r["hashin_shtrikman_excursions"]["1:10"]["by_family"].items()) + ".",
        "",
        f"Laminates <= 1e-9: {_mark(lam_ok)}. Bounds: {_mark(r['bounds_violations'] == 0)}. "
        f"Speedup >= {SPEEDUP_TARGET:g}x at both contrasts: {_mark(speed_ok)}.",
        "",
    ]
    if "elasticity" in r:
        lines += elasticity_lines(r["elasticity"], r["size"])
    return lines
