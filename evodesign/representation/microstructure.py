"""Microstructure representation: square two-phase images <-> pixel vectors.

A :class:`MicrostructureSpace` searches ``size x size`` binary images (1 = filler, phase
1; 0 = matrix, phase 0; axis 1 = y rows, axis 2 = x columns) through vectors of
``size * size`` pixel values in [0, 1], row-major. Decoding thresholds the pixels and,
with ``min_feature``, removes what a process could not make: filler and matrix features
thinner than ``min_feature`` pixels (a morphological opening, then a closing, with a
``min_feature x min_feature`` square).

The morphology is **periodic in x and y** (the image is one tile of the material, as in
the two-point statistics of :mod:`evodesign.properties.microstructure`). On the torus the
opening and closing are exact morphological filters, so the open-close is idempotent and
a decoded image decodes to itself: the repair's snapping and the hash deduplication rely
on that. (With scipy's zero border instead, a closing can delete filler at the border and
decoding again would change the image.)

Everything is batched over the stack; one ``ndimage`` call filters a whole population
(the filter's window has depth 1 along the stack axis, so images never touch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy import ndimage

from evodesign.exceptions import DataError
from evodesign.properties.microstructure import (
    is_binary,
    percolates,
    specific_interface_length,
    volume_fraction,
)
from evodesign.representation.registry import register_space
from evodesign.representation.rows import row_ids

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from evodesign.representation.space import Check

__all__ = ["MicrostructureSpace"]

#: fixed odd multipliers of the label hash (display only: ids are lossless)
_LABEL_HASH = np.random.default_rng(0x1AB3_15).integers(0, 2**63, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


@register_space
class MicrostructureSpace:
    """The microstructure design space (:class:`~evodesign.representation.space.DesignSpace`
    of kind ``"microstructure"``): square binary images as flattened pixel vectors.

    Args:
        size: image side in pixels (``size x size`` images, ``n_var = size**2``), >= 8.
        min_feature: smallest feature width in pixels: filler and matrix features that
            cannot hold a ``min_feature x min_feature`` square are removed when decoding
            (0 or 1: none).
        threshold: a pixel value above it is filler, in (0, 1).

    Example:
        >>> space = MicrostructureSpace(size=8)
        >>> images = space.decode(np.full((2, 64), 0.7))
        >>> images.shape, int(images.sum())
        ((2, 8, 8), 128)
    """

    kind: ClassVar[str] = "microstructure"

    def __init__(self, size: int = 64, min_feature: int = 0, threshold: float = 0.5) -> None:
        if isinstance(size, bool) or int(size) != size or size < 8:
            raise DataError(f"microstructure size must be an integer >= 8 (pixels per side), got {size!r}")
        if isinstance(min_feature, bool) or int(min_feature) != min_feature or not 0 <= min_feature < size:
            raise DataError(f"min_feature must be an integer in [0, {int(size) - 1}] (pixels), got {min_feature!r}")
        if not 0.0 < float(threshold) < 1.0:
            raise DataError(f"threshold must be in (0, 1), got {threshold!r}")
        self.size = int(size)
        self.min_feature = int(min_feature)
        self.threshold = float(threshold)

    @classmethod
    def from_settings(cls, settings: Any, data: Any) -> MicrostructureSpace:
        """The space of a campaign's ``[space]`` table.

        Args:
            settings: the ``[space]`` table (``size``, ``min_feature``, ``threshold``).
            data: ``None``, or a data set whose ``images`` (`(m, H, W)`) must be
                ``size x size``.
        """
        space = cls(settings.size, settings.min_feature, settings.threshold)
        images = getattr(data, "images", None)
        if images is not None and tuple(np.shape(images)[1:]) != (space.size, space.size):
            raise DataError(
                f"the data set's images are {'x'.join(map(str, np.shape(images)[1:]))} pixels but "
                f"[space] size = {space.size}; set size = {np.shape(images)[-1]} or use a data set "
                f"of {space.size}x{space.size} images"
            )
        return space

    @property
    def n_var(self) -> int:
        """Number of vector components: ``size * size`` pixels."""
        return self.size * self.size

    @property
    def xl(self) -> NDArray[np.float64]:
        """`(n_var,)` lower bounds (0)."""
        return np.zeros(self.n_var)

    @property
    def xu(self) -> NDArray[np.float64]:
        """`(n_var,)` upper bounds (1)."""
        return np.ones(self.n_var)

    def __repr__(self) -> str:
        return f"MicrostructureSpace(size={self.size}, min_feature={self.min_feature}, threshold={self.threshold})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MicrostructureSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.kind, self.size, self.min_feature, self.threshold))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (model sidecars, run manifests)."""
        return {"kind": self.kind, "size": self.size, "min_feature": self.min_feature, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MicrostructureSpace:
        """The space of :meth:`to_dict`."""
        if data.get("kind", cls.kind) != cls.kind:
            raise DataError(f"not a microstructure space: kind {data['kind']!r}")
        return cls(data["size"], data["min_feature"], data["threshold"])

    # ------------------------------------------------------------------ the seam
    def decode(self, X: ArrayLike, check: Check | None = None) -> NDArray[np.uint8]:
        """Canonical images of `(n, n_var)` pixel vectors.

        Pixels above ``threshold`` are filler (NaN is matrix); then, with ``min_feature``
        > 1, a periodic opening removes filler features and a periodic closing matrix
        features thinner than ``min_feature`` pixels. Decoding an image's own vector
        gives the image back.

        Args:
            X: `(n, size * size)` row-major pixel values.
            check: unused (an image has no alternative decodings to prefer among).

        Returns:
            `(n, size, size)` uint8 images of 0/1.
        """
        X = self._check_width(X)
        with np.errstate(invalid="ignore"):
            images = (X > self.threshold).astype(np.uint8).reshape(-1, self.size, self.size)
        return self.canonical(images)

    def canonical(self, images: ArrayLike) -> NDArray[np.uint8]:
        """`(n, size, size)` images with features thinner than ``min_feature`` removed
        (periodic open-close; the images themselves when ``min_feature <= 1``)."""
        images = self._check_images(images)
        if self.min_feature <= 1 or len(images) == 0:
            return images
        window = (1, self.min_feature, self.min_feature)  # depth 1: images never touch
        # on 0/1 images the grey opening/closing are the binary ones; the grey versions
        # take mode="wrap", which binary_opening's zero border does not
        opened = ndimage.grey_opening(images, size=window, mode="wrap")
        return ndimage.grey_closing(opened, size=window, mode="wrap")

    def encode(self, designs: ArrayLike) -> NDArray[np.float64]:
        """Vectors of images: `(n, size, size)` 0/1 -> `(n, size * size)` float 0/1."""
        return self._check_images(designs).reshape(-1, self.n_var).astype(np.float64)

    def repair(self, X: ArrayLike, check: Check | None = None) -> NDArray[np.float64]:
        """Vectors snapped to their canonical images' 0/1 vectors, `(n, n_var)` -> same
        (idempotent)."""
        return self.encode(self.decode(X, check))

    def ids(self, designs: ArrayLike) -> NDArray[np.void]:
        """`(n,)` lossless ids: each image's bits packed into one bytes scalar (so equal
        ids mean equal images, with no collisions at all)."""
        images = self._check_images(designs)
        return row_ids(np.packbits(images.reshape(len(images), self.n_var), axis=1))

    def labels(self, designs: ArrayLike) -> list[str]:
        """Short names: filler fraction and a 24-bit hash of the image, ``"φ=0.42 #3fa2c1"``
        (the hash tells images apart at a glance; :meth:`ids` is the exact identity)."""
        images = self._check_images(designs)
        packed = np.packbits(images.reshape(len(images), self.n_var), axis=1)
        padded = np.zeros((len(images), -(-packed.shape[1] // 8) * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        words = padded.view("<u8")  # (n, ceil(bits / 64))
        coefficients = np.resize(_LABEL_HASH, words.shape[1])
        with np.errstate(over="ignore"):
            mixed = (words * coefficients).sum(axis=1, dtype=np.uint64)
            mixed ^= mixed >> np.uint64(29)
            mixed *= np.uint64(0xBF58476D1CE4E5B9)
        short = (mixed >> np.uint64(40)).tolist()
        fractions = volume_fraction(images).tolist()
        return [f"φ={f:.2f} #{h:06x}" for f, h in zip(fractions, short)]

    def features(self, designs: ArrayLike) -> NDArray[np.float32]:
        """Surrogate/solver inputs: the images as float32 0/1, `(n, size * size)`."""
        return self._check_images(designs).reshape(-1, self.n_var).astype(np.float32)

    def table(self, designs: ArrayLike) -> dict[str, list]:
        """Results-table columns: ``microstructure`` (label), ``volume_fraction``,
        ``interface_length`` and the filler's and matrix's percolation along x and y."""
        images = self._check_images(designs)
        columns: dict[str, list] = {
            "microstructure": self.labels(images),
            "volume_fraction": volume_fraction(images).tolist(),
            "interface_length": specific_interface_length(images).tolist(),
        }
        for phase, name in ((1, "filler"), (0, "matrix")):
            for axis in ("x", "y"):
                columns[f"{name}_percolates_{axis}"] = percolates(images, phase, axis).tolist()
        return columns

    def random_vectors(
        self,
        n: int,
        random_state: np.random.Generator,
        fraction: tuple[float, float] = (0.2, 0.8),
        correlation_length: tuple[float, float] | None = None,
        max_aspect: float = 3.0,
    ) -> NDArray[np.float64]:
        """Varied random images: thresholded Gaussian-filtered noise, as canonical vectors.

        Each image draws its filler fraction, its correlation length (the Gaussian's
        sigma, log-uniform), an aspect ratio (1 to ``max_aspect``, the long axis at a
        uniform angle) and white noise; the noise is filtered periodically in Fourier
        space (one batched FFT, no per-image loop) and thresholded at the image's own
        quantile, so its fraction is the one drawn (before ``min_feature`` cleaning).

        Args:
            n: number of vectors.
            random_state: the numpy Generator to draw from.
            fraction: range of filler fractions, within [0, 1].
            correlation_length: range of sigma in pixels (default 1 to ``size / 8``).
            max_aspect: largest ratio of the two correlation lengths (>= 1).

        Returns:
            `(n, n_var)` repaired 0/1 vectors.
        """
        lo, hi = (float(v) for v in fraction)
        if not 0.0 <= lo <= hi <= 1.0:
            raise DataError(f"fraction must be a range within [0, 1], got {fraction!r}")
        s_lo, s_hi = correlation_length or (1.0, max(1.0, self.size / 8))
        if not 0 < s_lo <= s_hi:
            raise DataError(f"correlation_length must be a positive range, got {correlation_length!r}")
        if max_aspect < 1:
            raise DataError(f"max_aspect must be >= 1, got {max_aspect!r}")
        size = self.size
        phi = random_state.uniform(lo, hi, n)
        sigma = np.exp(random_state.uniform(np.log(s_lo), np.log(s_hi), n))
        aspect = random_state.uniform(1.0, max_aspect, n)
        angle = random_state.uniform(0.0, np.pi, n)
        noise = random_state.standard_normal((n, size, size))
        ky = np.fft.fftfreq(size)[None, :, None]
        kx = np.fft.rfftfreq(size)[None, None, :]
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        along, across = kx * cos + ky * sin, -kx * sin + ky * cos
        s_along, s_across = (sigma * np.sqrt(aspect))[:, None, None], (sigma / np.sqrt(aspect))[:, None, None]
        gain = np.exp(-2.0 * np.pi**2 * ((s_along * along) ** 2 + (s_across * across) ** 2))
        field = np.fft.irfft2(np.fft.rfft2(noise, axes=(1, 2)) * gain, s=(size, size), axes=(1, 2))
        flat = field.reshape(n, -1)
        rank = np.clip(np.round((1.0 - phi) * self.n_var).astype(np.int64), 0, self.n_var)
        ordered = np.sort(flat, axis=1)
        # the k = n_var - rank largest values are filler (none when rank == n_var)
        cut = np.take_along_axis(np.column_stack([ordered, np.full(n, np.inf)]), rank[:, None], axis=1)
        images = (flat >= cut).astype(np.uint8).reshape(n, size, size)
        return self.encode(self.canonical(images))

    # ------------------------------------------------------------------ helpers
    def _check_width(self, X: ArrayLike) -> NDArray[np.float64]:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.n_var:
            raise DataError(
                f"expected vectors of shape (n, {self.n_var}) ({self.size}x{self.size} images, "
                f"row-major), got shape {X.shape}"
            )
        return X

    def _check_images(self, images: ArrayLike) -> NDArray[np.uint8]:
        array = np.asarray(images)
        if array.ndim != 3 or array.shape[1:] != (self.size, self.size):
            raise DataError(
                f"expected images of shape (n, {self.size}, {self.size}) for this space, got shape {array.shape}"
            )
        if array.size and not is_binary(array):
            raise DataError("microstructure images hold 0 (matrix) and 1 (filler) only")
        return array.astype(np.uint8, copy=False)
