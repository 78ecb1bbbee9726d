"""Calibration of a predictive std on held-out rows, shared by every surrogate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import norm

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["std_scale"]


def std_scale(
    y: NDArray[np.float64], mean: NDArray[np.float64], std: NDArray[np.float64], confidence: float
) -> NDArray[np.float64]:
    """Per-target factor that makes ``mean +/- z * factor * std`` cover ``confidence`` of ``y``.

    The factor is the ``confidence`` quantile of ``|y - mean| / std`` over the held-out rows
    divided by the Gaussian ``z`` of that coverage; a target without finite ratios (or
    whose quantile is 0) keeps the factor 1.

    Args:
        y: `(n_val, n_targets)` held-out targets.
        mean / std: `(n_val, n_targets)` the model's raw predictions on those rows.
        confidence: the central coverage to calibrate, e.g. 0.9.

    Returns:
        `(n_targets,)` factors to multiply the std by.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(y - mean) / std
    q = norm.ppf(0.5 + confidence / 2)
    scale = np.ones(y.shape[1])
    for j in range(y.shape[1]):
        zj = z[:, j][np.isfinite(z[:, j])]
        if zj.size:
            value = float(np.quantile(zj, confidence) / q)
            if value > 0:
                scale[j] = value
    return scale
