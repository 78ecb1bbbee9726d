"""What a campaign's ``[space]`` and ``[constraints]`` tables mean for microstructures.

Registered as the ``"microstructure"`` space's constraint set
(:data:`evodesign.representation.registry.constraint_builders`); the campaign adds the
constraints every space shares (surrogate trust, property windows) after these. The
designs are `(n, H, W)` 0/1 uint8 images (1 = filler). Every value is a violation >= 0,
0 = feasible, graded so that the search is led towards feasibility.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.constraints.base import Constraint, DesignBatch
from evodesign.exceptions import DataError
from evodesign.properties.microstructure import KIND, largest_span, volume_fraction
from evodesign.representation.registry import constraint_builders

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["KnownImage", "Percolation", "VolumeFractionWindow", "microstructure_constraints"]


def _images(batch: DesignBatch, constraint: Constraint) -> NDArray[np.uint8]:
    images = batch.designs
    if images.ndim != 3:
        raise DataError(
            f"{type(constraint).__name__} reads microstructure images of shape (n, H, W), got designs of shape "
            f"{images.shape}; use it with a microstructure space"
        )
    return images


class Percolation(Constraint):
    """One phase percolates along each of the given axes (4-connected, periodic across).

    The violation along x is ``1 - L / W``, ``L`` the x-extent in pixels of the image's
    longest cluster of the phase (see
    :func:`~evodesign.properties.microstructure.largest_span`): 0 exactly when a cluster
    joins column 0 to column W-1, 1 when the phase is absent, and smaller the further the
    best cluster reaches. The same along y with rows.

    Args:
        axes: ``"x"`` and/or ``"y"``, one column each.
        phase: 1 (filler, the default) or 0 (matrix).
    """

    def __init__(self, axes: Sequence[str] = ("x", "y"), phase: int = 1) -> None:
        axes = tuple(axes)
        if not axes or any(a not in ("x", "y") for a in axes) or len(set(axes)) != len(axes):
            raise DataError(f"percolation axes are 'x' and/or 'y', each once, got {list(axes)}")
        if phase not in (0, 1):
            raise DataError(f"phase must be 1 (filler) or 0 (matrix), got {phase!r}")
        self.axes = axes
        self.phase = phase
        self.phase_name = "filler" if phase == 1 else "matrix"
        self.name = f"{self.phase_name}_percolation"

    def labels(self) -> list[str]:
        return [f"{self.name}_{axis}" for axis in self.axes]

    def describe(self) -> str:
        return f"the {self.phase_name} percolates along {' and '.join(self.axes)} (4-connected, periodic across)"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        images = _images(batch, self)
        columns = []
        for axis in self.axes:
            length = images.shape[2 if axis == "x" else 1]
            columns.append(1.0 - largest_span(images, self.phase, axis) / length)
        return np.column_stack(columns) if columns else np.zeros((len(images), 0))


class VolumeFractionWindow(Constraint):
    """The filler fraction lies in ``[low, high]``; the violation is the distance to it.

    Args:
        low, high: the window, ``0 <= low <= high <= 1``.
    """

    name = "volume_fraction_window"

    def __init__(self, low: float, high: float) -> None:
        low, high = float(low), float(high)
        if not 0.0 <= low <= high <= 1.0:
            raise DataError(f"volume-fraction window must satisfy 0 <= low <= high <= 1, got [{low}, {high}]")
        self.low, self.high = low, high

    def describe(self) -> str:
        return f"filler volume fraction in [{self.low:g}, {self.high:g}]"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        phi = volume_fraction(_images(batch, self))
        return np.maximum(self.low - phi, 0.0) + np.maximum(phi - self.high, 0.0)


class KnownImage(Constraint):
    """Not an image of the data set: 1 if the image is one of the known ones, else 0.

    Args:
        space: the microstructure space (its lossless :meth:`ids`).
        known_ids: `(m,)` ids of the known images
            (:attr:`~evodesign.representation.KnownDesigns.ids`).
    """

    name = "novelty"

    def __init__(self, space: Any, known_ids: ArrayLike) -> None:
        self.space = space
        self.known_ids = np.unique(np.asarray(known_ids))

    def describe(self) -> str:
        return f"novel: not one of the {len(self.known_ids):,} known images"

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        ids = self.space.ids(_images(batch, self))
        return np.isin(ids, self.known_ids).astype(np.float64)


def microstructure_constraints(config: Any, models: Any) -> list[Constraint]:
    """The microstructure rules of a campaign, in a fixed order (the ``g_*`` columns' order):
    the filler's percolation along ``[space] percolation``, the ``[space] volume_fraction``
    window (when narrower than [0, 1]), and novelty (``[constraints] novel``, when the run
    has known images).

    Args:
        config: the campaign (``config.space`` a
            :class:`~evodesign.campaign.config.microstructure_space.MicrostructureSettings`).
        models: its models: ``space`` and ``known`` (the run's
            :class:`~evodesign.representation.KnownDesigns`, or ``None``).
    """
    space, settings = models.space, config.space
    out: list[Constraint] = []
    if settings.percolation:
        out.append(Percolation(settings.percolation, phase=1))
    low, high = settings.volume_fraction
    if low > 0.0 or high < 1.0:
        out.append(VolumeFractionWindow(low, high))
    known = getattr(models, "known", None)
    if getattr(config.constraints, "novel", False) and known is not None and len(known):
        out.append(KnownImage(space, known.ids))
    return out


constraint_builders.register(KIND, "default", microstructure_constraints)
