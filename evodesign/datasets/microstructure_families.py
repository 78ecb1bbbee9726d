"""Parametric families of periodic two-phase microstructures, rendered on a pixel grid.

Each family turns an explicit parameter vector into square ``(H, W)`` uint8 images of 0/1
(1 = filler, phase 1; 0 = matrix), periodic in both directions so that the solver's periodic
faces see no seam. The parameter vectors have documented bounds (:data:`FAMILIES`), so a
search can run over "family + parameters" directly::

    >>> import numpy as np
    >>> from evodesign.datasets.microstructure_families import FAMILIES, render
    >>> FAMILIES["grf_isotropic"].parameters
    ('correlation_length', 'fraction')
    >>> image = render("grf_isotropic", [3.0, 0.4], 32, np.random.default_rng(0))
    >>> image.shape, float(image.mean())
    ((32, 32), 0.400390625)

Lengths are in pixels at the size rendered (bounds are chosen for 64 x 64 images);
orientations are in degrees, measured from the x axis (columns) towards +y (rows). Integer
parameters (``n_cells``, ``n_layers``) are rounded. Randomness comes only from the numpy
``Generator`` passed in.

Why hand-written rather than porespy: see DATA_NOTES ("Microstructures and their physics")
-- porespy's generators would pull numba, dask, edt and VTK for a few dozen lines of numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from evodesign.exceptions import DataError

__all__ = ["FAMILIES", "Family", "render", "sample_params"]

# narrowest half-width (pixels) across a feature: thinner ones break up into pixel noise
_MIN_HALF_WIDTH = 1.0
# images are rendered in chunks so that the FFT work arrays stay a few tens of MB
_CHUNK = 256


@dataclass(frozen=True)
class Family:
    """One parametric family of microstructures.

    Attributes:
        name: the family's key in :data:`FAMILIES`.
        parameters: names of the ``n_params`` entries of a parameter vector, in order.
        lower: ``(n_params,)`` lower bounds (inclusive).
        upper: ``(n_params,)`` upper bounds (inclusive).
        integer: which parameters are rounded to integers before rendering.
        description: what the parameters mean, in a sentence or two.
    """

    name: str
    parameters: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    integer: tuple[bool, ...]
    description: str
    _render: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

    @property
    def n_params(self) -> int:
        """Length of the parameter vector."""
        return len(self.parameters)

    @property
    def bounds(self) -> np.ndarray:
        """``(n_params, 2)`` array of ``[lower, upper]`` per parameter."""
        return np.column_stack([self.lower, self.upper]).astype(float)


def render(
    family: str,
    params: Sequence[float] | np.ndarray,
    size: int = 64,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Render images of one family from parameter vectors.

    Args:
        family: a key of :data:`FAMILIES`.
        params: ``(n_params,)`` for one image or ``(m, n_params)`` for ``m`` images, each
            inside the family's bounds.
        size: side of the square images in pixels (>= 8).
        rng: source of the random placement (None: a fresh unseeded generator).

    Returns:
        ``(size, size)`` uint8 0/1 for a single vector, else ``(m, size, size)``.

    Raises:
        DataError: unknown family, wrong parameter count, a value outside its bounds or not
            finite, or a size below 8.
    """
    spec = _family(family)
    values = np.asarray(params, dtype=float)
    single = values.ndim == 1
    values = np.atleast_2d(values)
    if values.ndim != 2 or values.shape[1] != spec.n_params:
        raise DataError(
            f"family {family!r} takes {spec.n_params} parameters {spec.parameters}, got an "
            f"array of shape {np.shape(params)}"
        )
    _check_bounds(spec, values)
    if int(size) != size or size < 8:
        raise DataError(f"image size must be an integer >= 8 pixels, got {size!r}")
    rng = np.random.default_rng() if rng is None else rng
    values = np.where(spec.integer, np.round(values), values)
    images = np.empty((len(values), int(size), int(size)), dtype=np.uint8)
    for start in range(0, len(values), _CHUNK):
        stop = start + _CHUNK
        images[start:stop] = spec._render(values[start:stop], int(size), rng)
    return images[0] if single else images


def sample_params(family: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Parameter vectors drawn uniformly inside a family's bounds.

    Args:
        family: a key of :data:`FAMILIES`.
        n: how many vectors.
        rng: the random source.

    Returns:
        ``(n, n_params)`` float64; integer parameters hold whole numbers.
    """
    spec = _family(family)
    lower, upper = np.asarray(spec.lower), np.asarray(spec.upper)
    values = rng.uniform(lower, upper, size=(n, spec.n_params))
    # half-open widening so that both integer end points are drawn as often as the others
    ints = np.asarray(spec.integer)
    whole = np.floor(rng.uniform(lower - 0.5, upper + 0.5, size=(n, spec.n_params)) + 0.5)
    values[:, ints] = np.clip(whole[:, ints], lower[ints], upper[ints])
    return values


def _family(name: str) -> Family:
    spec = FAMILIES.get(name)
    if spec is None:
        raise DataError(
            f"unknown microstructure family {name!r}; valid: {', '.join(FAMILIES)}"
        )
    return spec


def _check_bounds(spec: Family, values: np.ndarray) -> None:
    lower, upper = np.asarray(spec.lower), np.asarray(spec.upper)
    bad = ~np.isfinite(values) | (values < lower - 1e-9) | (values > upper + 1e-9)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        where = f" (row {row})" if len(values) > 1 else ""
        raise DataError(
            f"family {spec.name!r}: {spec.parameters[col]} = {float(values[row, col])!r}{where} is "
            f"outside its bounds [{spec.lower[col]:g}, {spec.upper[col]:g}]"
        )


# --- Gaussian random fields --------------------------------------------------------------


def _gaussian_fields(
    sigma_major: np.ndarray, sigma_minor: np.ndarray, angle: np.ndarray, size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """White noise smoothed by an oriented Gaussian kernel, periodic: ``(m, size, size)``.

    The kernel is applied in Fourier space, which is exactly periodic (like
    ``scipy.ndimage.gaussian_filter(mode="wrap")``) and, unlike it, takes a rotated
    anisotropic kernel and a different width per image in one batched call.
    """
    noise = rng.standard_normal((len(sigma_major), size, size))
    fy = np.fft.fftfreq(size)[None, :, None]
    fx = np.fft.rfftfreq(size)[None, None, :]
    cos = np.cos(angle)[:, None, None]
    sin = np.sin(angle)[:, None, None]
    along = fx * cos + fy * sin
    across = -fx * sin + fy * cos
    transfer = np.exp(
        -2.0 * np.pi**2
        * (sigma_major[:, None, None] ** 2 * along**2 + sigma_minor[:, None, None] ** 2 * across**2)
    )
    return np.fft.irfft2(np.fft.rfft2(noise) * transfer, s=(size, size))


def _threshold_fraction(fields: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """1 on the ``round(fraction * H * W)`` highest pixels of each field (exact fraction)."""
    m, size, _ = fields.shape
    flat = fields.reshape(m, -1)
    n_filler = np.clip(np.round(fraction * flat.shape[1]).astype(int), 1, flat.shape[1] - 1)
    ordered = np.sort(flat, axis=1)
    cut = ordered[np.arange(m), flat.shape[1] - n_filler]
    return (flat >= cut[:, None]).reshape(m, size, size).astype(np.uint8)


def _render_grf_isotropic(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    sigma = p[:, 0]
    fields = _gaussian_fields(sigma, sigma, np.zeros(len(p)), size, rng)
    return _threshold_fraction(fields, p[:, 1])


def _render_grf_anisotropic(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    major = p[:, 0]
    # narrower kernels than a pixel only make salt-and-pepper noise
    minor = np.maximum(major / p[:, 1], _MIN_HALF_WIDTH)
    fields = _gaussian_fields(major, minor, np.deg2rad(p[:, 2]), size, rng)
    return _threshold_fraction(fields, p[:, 3])


# --- Boolean models of inclusions (discs, ellipses, fibres) ------------------------------


def _boolean_count(fraction: float, shape_area: float, size: int) -> int:
    """Inclusions whose random overlapping union covers ``fraction`` on average.

    For a Boolean model (uniformly placed, overlapping shapes) the covered share is
    ``1 - exp(-count * area / size**2)``.
    """
    return max(1, int(round(-np.log1p(-fraction) * size * size / shape_area)))


def _stamp(
    size: int, centres: np.ndarray, half_u: np.ndarray, half_v: np.ndarray,
    angles: np.ndarray, shape: str,
) -> np.ndarray:
    """Union of ``K`` oriented ellipses or rectangles on one periodic image.

    Each shape is tested only on its own bounding window, for all shapes at once.

    Args:
        size: image side.
        centres: ``(K, 2)`` float centres ``(x, y)`` in pixels.
        half_u: ``(K,)`` half-length along the shape's axis (semi-major axis).
        half_v: ``(K,)`` half-length across it.
        angles: ``(K,)`` axis angles in radians from +x towards +y.
        shape: ``"ellipse"`` or ``"rectangle"``.

    Returns:
        ``(size, size)`` uint8 0/1.
    """
    reach = int(np.ceil(np.hypot(half_u, half_v).max() if shape == "rectangle" else half_u.max()))
    reach = min(reach, size)  # wider windows only revisit the same pixels
    offsets = np.arange(-reach, reach + 1)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    origin = np.round(centres).astype(int)
    sub = centres - origin
    rel_x = dx[None] - sub[:, 0, None, None]
    rel_y = dy[None] - sub[:, 1, None, None]
    cos = np.cos(angles)[:, None, None]
    sin = np.sin(angles)[:, None, None]
    u = (rel_x * cos + rel_y * sin) / half_u[:, None, None]
    v = (-rel_x * sin + rel_y * cos) / half_v[:, None, None]
    inside = (u * u + v * v <= 1.0) if shape == "ellipse" else (np.abs(u) <= 1) & (np.abs(v) <= 1)
    k, oy, ox = np.nonzero(inside)
    image = np.zeros((size, size), dtype=np.uint8)
    image[(origin[k, 1] + dy[oy, ox]) % size, (origin[k, 0] + dx[oy, ox]) % size] = 1
    return image


def _directions(
    count: int, orientation: float, spread: float, rng: np.random.Generator
) -> np.ndarray:
    """``count`` angles (radians) uniform within ``orientation +- spread`` degrees."""
    return np.deg2rad(orientation + rng.uniform(-spread, spread, size=count))


def _render_discs(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((len(p), size, size), dtype=np.uint8)
    for i, (fraction, radius, spread) in enumerate(p):
        # radii uniform in radius * (1 +- spread): mean area pi r^2 (1 + spread^2 / 3)
        area = np.pi * radius**2 * (1.0 + spread**2 / 3.0)
        count = _boolean_count(fraction, area, size)
        radii = radius * (1.0 + rng.uniform(-spread, spread, size=count))
        centres = rng.uniform(0, size, size=(count, 2))
        out[i] = _stamp(size, centres, radii, radii, np.zeros(count), "ellipse")
    return out


def _render_ellipses(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((len(p), size, size), dtype=np.uint8)
    for i, (fraction, semi_major, aspect, orientation, spread) in enumerate(p):
        semi_minor = max(semi_major / aspect, _MIN_HALF_WIDTH)
        count = _boolean_count(fraction, np.pi * semi_major * semi_minor, size)
        centres = rng.uniform(0, size, size=(count, 2))
        angles = _directions(count, orientation, spread, rng)
        out[i] = _stamp(
            size, centres, np.full(count, semi_major), np.full(count, semi_minor), angles,
            "ellipse",
        )
    return out


def _render_fibres(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((len(p), size, size), dtype=np.uint8)
    for i, (fraction, length, thickness, orientation, spread) in enumerate(p):
        count = _boolean_count(fraction, length * thickness, size)
        centres = rng.uniform(0, size, size=(count, 2))
        angles = _directions(count, orientation, spread, rng)
        out[i] = _stamp(
            size, centres, np.full(count, length / 2), np.full(count, thickness / 2), angles,
            "rectangle",
        )
    return out


# --- Voronoi cell walls -------------------------------------------------------------------


def _render_voronoi(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    centre = np.arange(size) + 0.0
    py, px = np.meshgrid(centre, centre, indexing="ij")
    out = np.empty((len(p), size, size), dtype=np.uint8)
    for i, (n_cells, thickness) in enumerate(p):
        seeds = rng.uniform(0, size, size=(int(n_cells), 2))
        # vector from each seed's nearest periodic image to each pixel: (K, H, W)
        vx = (px[None] - seeds[:, 0, None, None] + size / 2) % size - size / 2
        vy = (py[None] - seeds[:, 1, None, None] + size / 2) % size - size / 2
        d2 = vx * vx + vy * vy
        nearest = np.argmin(d2, axis=0)
        nx = np.take_along_axis(vx, nearest[None], 0)
        ny = np.take_along_axis(vy, nearest[None], 0)
        nd2 = np.take_along_axis(d2, nearest[None], 0)
        # distance from the pixel to the bisector between its own seed and every other one
        gap = np.hypot(vx - nx, vy - ny)
        with np.errstate(divide="ignore", invalid="ignore"):
            to_wall = np.where(gap > 0, (d2 - nd2) / (2.0 * gap), np.inf)
        out[i] = (to_wall.min(axis=0) <= thickness / 2).astype(np.uint8)
    return out


# --- Laminates with defects ---------------------------------------------------------------


def _render_laminate(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    centre = np.arange(size) + 0.5
    py, px = np.meshgrid(centre, centre, indexing="ij")
    out = np.empty((len(p), size, size), dtype=np.uint8)
    for i, (n_layers, fraction, orientation, density, radius) in enumerate(p):
        # layers run along `orientation`; their normal is rounded to a whole wave vector so
        # that the stack is exactly periodic on the image; a period spans >= 4 pixels
        layers = min(n_layers, size // 4)
        normal = np.deg2rad(orientation + 90.0)
        wave = np.round(layers * np.array([np.cos(normal), np.sin(normal)]))
        if not wave.any():
            wave = np.array([0.0, layers])
        phase = (wave[0] * px + wave[1] * py) / size + rng.uniform()
        # a filler layer at least one pixel thick, or a thin one would vanish between rows
        share = max(fraction, float(np.hypot(*wave)) / size)
        image = (phase % 1.0 < share).astype(np.uint8)
        if density > 0:
            # defects: small discs that flip the phase (breaks in filler layers, bridges
            # across matrix layers), as a Boolean model covering `density` of the image
            count = _boolean_count(density, np.pi * radius**2, size)
            centres = rng.uniform(0, size, size=(count, 2))
            radii = np.full(count, radius)
            image ^= _stamp(size, centres, radii, radii, np.zeros(count), "ellipse")
        out[i] = image
    return out


def _family_table() -> dict[str, Family]:
    rows = [
        ("grf_isotropic", ("correlation_length", "fraction"), (1.0, 0.05), (8.0, 0.8),
         "thresholded Gaussian random field: kernel width in pixels, exact filler fraction",
         _render_grf_isotropic),
        ("grf_anisotropic", ("correlation_length", "aspect", "orientation", "fraction"),
         (2.0, 1.5, 0.0, 0.05), (12.0, 6.0, 180.0, 0.8),
         "thresholded Gaussian random field stretched along `orientation`: kernel width "
         "along it, ratio to the width across it (which is kept >= 1 px), exact filler "
         "fraction",
         _render_grf_anisotropic),
        ("discs", ("fraction", "radius", "radius_spread"), (0.05, 1.5, 0.0), (0.8, 8.0, 0.5),
         "overlapping random discs: target filler fraction, mean radius, radii uniform in "
         "radius * (1 +- radius_spread)",
         _render_discs),
        ("ellipses", ("fraction", "semi_major", "aspect", "orientation", "orientation_spread"),
         (0.05, 2.0, 1.5, 0.0, 0.0), (0.8, 10.0, 5.0, 180.0, 90.0),
         "overlapping random ellipses: target fraction, semi-major axis, axis ratio (the "
         "semi-minor axis is kept >= 1 px), mean orientation, angles uniform within "
         "+- orientation_spread (90 = random)",
         _render_ellipses),
        ("fibres", ("fraction", "length", "thickness", "orientation", "orientation_spread"),
         (0.05, 8.0, 1.5, 0.0, 0.0), (0.8, 40.0, 4.0, 180.0, 90.0),
         "overlapping straight fibres (rectangles): target fraction, length and thickness "
         "in pixels, mean orientation, angles within +- orientation_spread (0 = aligned)",
         _render_fibres),
        ("voronoi", ("n_cells", "wall_thickness"), (4.0, 1.5), (64.0, 8.0),
         "walls of a periodic Voronoi tessellation of random seeds (filler = walls)",
         _render_voronoi),
        ("laminate", ("n_layers", "fraction", "orientation", "defect_density", "defect_radius"),
         (1.0, 0.05, 0.0, 0.0, 1.0), (16.0, 0.8, 180.0, 0.3, 4.0),
         "periodic layers running along `orientation` (normal rounded to a whole wave "
         "vector), filler share of each period, discs flipping the phase over "
         "defect_density of the image",
         _render_laminate),
    ]
    integer_names = {"n_cells", "n_layers"}
    return {
        name: Family(name, names, lower, upper, tuple(n in integer_names for n in names), text, fn)
        for name, names, lower, upper, text, fn in rows
    }


#: Every family by name: parameter names, bounds, and what they mean.
FAMILIES: dict[str, Family] = _family_table()
