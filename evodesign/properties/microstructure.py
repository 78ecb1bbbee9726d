"""Morphology of two-phase microstructure images: fraction, interface, percolation, S2.

Images are `(n, H, W)` uint8 arrays of 0/1 (1 = filler, phase 1; 0 = matrix, phase 0);
axis 1 is y (rows), axis 2 is x (columns), and "along x" runs from column 0 to column
W-1. Every function is batched over the stack; a single `(H, W)` image is accepted too and
gives the single image's value (a scalar, or `(r_max + 1,)` for
:func:`two_point_correlation`).

Boundary conventions (chosen once, used everywhere):

* the interface length and the two-point correlation are **periodic in x and y** (the
  image is a tile of an infinite material, as in the statistics literature); then
  ``specific_interface_length == 4 (S2(0) - S2(1))`` exactly (an edge along x is unlike
  with probability ``2 (phi - S2_x(1))``, and the same along y), which the tests check;
* percolation along one axis is that of the physics solver: the inlet and outlet faces are
  the first and last column (or row), and the other axis is **periodic** (a cluster may
  cross the top/bottom edge), with 4-connectivity.

Registered as the analytic properties of the ``"microstructure"`` space kind
(:data:`~evodesign.representation.registry.analytic_properties`): ``volume_fraction``,
``interface_length`` and ``filler_percolates_x/_y``, ``matrix_percolates_x/_y`` (0/1 floats).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from evodesign.exceptions import DataError
from evodesign.representation.registry import analytic_properties

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "KIND",
    "is_binary",
    "largest_span",
    "percolates",
    "percolation_flag",
    "specific_interface_length",
    "two_point_correlation",
    "volume_fraction",
]

#: the design-space kind these properties are registered for
KIND = "microstructure"

#: 4-connectivity within each image and none across the stack axis: one
#: ``ndimage.label`` call labels a whole batch without images touching
_FOUR_CONNECTED = np.zeros((3, 3, 3), dtype=bool)
_FOUR_CONNECTED[1] = ndimage.generate_binary_structure(2, 1)


def _stack(images: ArrayLike) -> tuple[NDArray[np.uint8], bool]:
    """`(n, H, W)` 0/1 uint8 images and whether a single `(H, W)` image was given."""
    array = np.asarray(images)
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3:
        raise DataError(
            f"expected microstructure images of shape (n, H, W) or one (H, W) image, got shape {array.shape}"
        )
    if array.size and not is_binary(array):
        bad = np.unique(array[(array != 0) & (array != 1)])[:5]
        raise DataError(f"microstructure images hold 0 (matrix) and 1 (filler) only, got values {bad.tolist()}")
    return array.astype(np.uint8, copy=False), single


def is_binary(array: NDArray[Any]) -> bool:
    """Whether every value of an array is 0 or 1 (one reduction for the usual uint8)."""
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.unsignedinteger):
        return bool(array.max() <= 1)
    return not ((array != 0) & (array != 1)).any()


def _axis(axis: str) -> int:
    if axis not in ("x", "y"):
        raise DataError(f"axis must be 'x' (along the columns) or 'y' (along the rows), got {axis!r}")
    return 2 if axis == "x" else 1


def volume_fraction(images: ArrayLike) -> NDArray[np.float64]:
    """Filler (phase 1) area fraction of each image.

    Args:
        images: `(n, H, W)` 0/1 images (or one `(H, W)` image).

    Returns:
        `(n,)` fractions in [0, 1] (a scalar for one image).

    Example:
        >>> float(volume_fraction(np.array([[1, 0], [0, 0]], dtype=np.uint8)))
        0.25
    """
    stack, single = _stack(images)
    out = stack.mean(axis=(1, 2), dtype=np.float64)
    return out[0] if single else out


def specific_interface_length(images: ArrayLike) -> NDArray[np.float64]:
    """Phase-boundary length per unit area: pixel edges between unlike pixels, per pixel.

    Periodic in x and y (the edge between the last and the first column counts), so a
    laminate of stripes of width ``w`` along x has ``2 / (2 w) = 1 / w``.

    Args:
        images: `(n, H, W)` 0/1 images (or one `(H, W)` image).

    Returns:
        `(n,)` edge counts divided by ``H * W`` (0 for a uniform image; at most 2, a
        checkerboard).
    """
    stack, single = _stack(images)
    across_x = (stack != np.roll(stack, 1, axis=2)).sum(axis=(1, 2))
    across_y = (stack != np.roll(stack, 1, axis=1)).sum(axis=(1, 2))
    out = (across_x + across_y) / float(stack.shape[1] * stack.shape[2] or 1)
    return out[0] if single else out


def largest_span(images: ArrayLike, phase: int = 1, axis: Literal["x", "y"] = "x") -> NDArray[np.int64]:
    """Length along ``axis`` (in pixels) of the longest 4-connected cluster of ``phase``.

    The other axis is periodic (as in the solver). A cluster's extent along ``axis`` is an
    interval (one 4-connected step moves one pixel), so the cluster percolates exactly when
    its extent is the whole image: ``largest_span == W`` for ``axis="x"``. Short of that,
    ``largest_span / W`` says how far the best cluster reaches: a graded percolation
    violation for the search.

    Args:
        images: `(n, H, W)` 0/1 images (or one `(H, W)` image).
        phase: 1 (filler) or 0 (matrix).
        axis: ``"x"`` (from column 0 to column W-1) or ``"y"`` (row 0 to row H-1).

    Returns:
        `(n,)` int64 lengths, 0 where the image has no pixel of ``phase``.
    """
    stack, single = _stack(images)
    if phase not in (0, 1):
        raise DataError(f"phase must be 1 (filler) or 0 (matrix), got {phase!r}")
    if _axis(axis) == 1:  # along y: the same question on the transposed images
        stack = stack.transpose(0, 2, 1)
    mask = stack == phase
    n, height, width = mask.shape
    out = np.zeros(n, dtype=np.int64)
    labels, n_labels = ndimage.label(mask, structure=_FOUR_CONNECTED)
    if n_labels == 0:
        return out[0] if single else out
    # periodic across y: a cluster leaving through the last row comes back in the first
    top, bottom = labels[:, 0, :], labels[:, -1, :]
    wrap = (top > 0) & (bottom > 0)
    graph = coo_matrix(
        (np.ones(int(wrap.sum()), dtype=np.int8), (top[wrap] - 1, bottom[wrap] - 1)), shape=(n_labels, n_labels)
    )
    _, cluster = connected_components(graph, directed=False)
    flat = labels.reshape(-1)
    pixels = np.flatnonzero(flat)
    pixel_image, pixel_x = pixels // (height * width), pixels % width
    pixel_cluster = cluster[flat[pixels] - 1]
    n_clusters = int(cluster.max()) + 1
    low = np.full(n_clusters, width, dtype=np.int64)
    high = np.full(n_clusters, -1, dtype=np.int64)
    np.minimum.at(low, pixel_cluster, pixel_x)
    np.maximum.at(high, pixel_cluster, pixel_x)
    image_of_cluster = np.zeros(n_clusters, dtype=np.int64)
    image_of_cluster[pixel_cluster] = pixel_image
    np.maximum.at(out, image_of_cluster, high - low + 1)
    return out[0] if single else out


def percolates(images: ArrayLike, phase: int = 1, axis: Literal["x", "y"] = "x") -> NDArray[np.bool_]:
    """Whether one 4-connected cluster of ``phase`` joins the two faces normal to ``axis``.

    Args:
        images: `(n, H, W)` 0/1 images (or one `(H, W)` image).
        phase: 1 (filler) or 0 (matrix).
        axis: ``"x"`` (column 0 to column W-1, periodic across y, as the solver) or ``"y"``.

    Returns:
        `(n,)` booleans (one for one image).

    Example:
        >>> image = np.array([[0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=np.uint8)
        >>> bool(percolates(image, axis="x")), bool(percolates(image, axis="y"))
        (True, False)
    """
    stack, single = _stack(images)
    length = stack.shape[_axis(axis)]
    out = largest_span(stack, phase, axis) == length
    return out[0] if single else out


def percolation_flag(images: ArrayLike, phase: int = 1, axis: Literal["x", "y"] = "x") -> NDArray[np.float64]:
    """:func:`percolates` as 0.0/1.0 floats, `(n,)` (what an analytic property returns)."""
    return percolates(images, phase, axis).astype(np.float64)


def two_point_correlation(images: ArrayLike, r_max: int) -> NDArray[np.float64]:
    """Two-point correlation S2(r) of the filler, periodic, averaged over x and y shifts.

    ``S2(r)`` is the probability that two pixels ``r`` apart along x (or along y) are both
    filler: ``S2(0)`` is the volume fraction, and without long-range order S2 falls to
    ``phi**2``. Computed for the whole batch by one FFT autocorrelation.

    Args:
        images: `(n, H, W)` 0/1 images (or one `(H, W)` image).
        r_max: largest distance in pixels, ``0 <= r_max < min(H, W)``.

    Returns:
        `(n, r_max + 1)` float64 (`(r_max + 1,)` for one image).
    """
    stack, single = _stack(images)
    _, height, width = stack.shape
    if isinstance(r_max, bool) or int(r_max) != r_max or not 0 <= r_max < min(height, width):
        raise DataError(
            f"r_max must be an integer in [0, {min(height, width) - 1}] for {height}x{width} images, got {r_max!r}"
        )
    r_max = int(r_max)
    spectrum = np.fft.rfft2(stack.astype(np.float64), axes=(1, 2))
    auto = np.fft.irfft2(spectrum * spectrum.conj(), s=(height, width), axes=(1, 2)) / (height * width)
    out = 0.5 * (auto[:, 0, : r_max + 1] + auto[:, : r_max + 1, 0])
    # the FFT leaves ~1e-16 noise on exact counts: round to the grid of possible values
    out = np.round(out * (2 * height * width)) / (2 * height * width)
    return out[0] if single else out


# ---------------------------------------------------------------------- registration
def _volume_fraction(space: Any) -> Any:
    """The ``volume_fraction`` analytic property of a microstructure space's images."""
    return volume_fraction


def _interface_length(space: Any) -> Any:
    """The ``interface_length`` analytic property (specific: per pixel, periodic)."""
    return specific_interface_length


def _percolation(space: Any, phase: int, axis: str) -> Any:
    """A ``<phase>_percolates_<axis>`` analytic property (0.0 or 1.0); a partial of a
    module-level function, so a problem holding it pickles into checkpoints."""
    return partial(percolation_flag, phase=phase, axis=axis)


analytic_properties.register(KIND, "volume_fraction", _volume_fraction)
analytic_properties.register(KIND, "interface_length", _interface_length)
for _phase, _name in ((1, "filler"), (0, "matrix")):
    for _ax in ("x", "y"):
        analytic_properties.register(KIND, f"{_name}_percolates_{_ax}", partial(_percolation, phase=_phase, axis=_ax))
