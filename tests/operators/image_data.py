"""Synthetic two-phase images for the image-codec tests and benchmark: thresholded
Gaussian-filtered noise (a stand-in for the microstructure library, which lives on the
materials side; a module with a unique name, so that test files can import it)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["noise_images"]


def noise_images(
    n: int, side: int = 16, seed: int = 0, sigmas: tuple[float, ...] = (1.5, 2.5, 4.0)
) -> np.ndarray:
    """`(n, side, side)` 0/1 uint8 images: white noise smoothed with a periodic Gaussian of
    a correlation length drawn from ``sigmas`` (stretched along x or y in a third of the
    images), thresholded at a per-image quantile so that the filler fraction is
    U(0.25, 0.6). One ``gaussian_filter`` call per (sigma, anisotropy) group."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, side, side))
    sigma = rng.choice(np.asarray(sigmas, dtype=np.float64), size=n)
    stretch = rng.choice(3, size=n)  # 0 isotropic, 1 longer along x, 2 longer along y
    smooth = np.empty_like(noise)
    for s in np.unique(sigma):
        for a in range(3):
            rows = (sigma == s) & (stretch == a)
            sy, sx = s * (1.0, 1.0, 2.0)[a], s * (1.0, 2.0, 1.0)[a]
            smooth[rows] = gaussian_filter(noise[rows], sigma=(0, sy, sx), mode="wrap")
    phi = rng.uniform(0.25, 0.6, size=n)
    flat = np.sort(smooth.reshape(n, -1), axis=1)
    cut = flat[np.arange(n), ((1.0 - phi) * side * side).astype(np.int64)]
    return (smooth >= cut[:, None, None]).astype(np.uint8)
