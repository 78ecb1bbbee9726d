"""Image data sets: labelled microstructure images as a campaign reads them.

:class:`ImageDataset` is the built-in ``"microstructures"`` data set
(:func:`load_microstructures`, the library of
:func:`~evodesign.datasets.microstructures.build_library`) in the shape a campaign needs:
a name, a source, a report, the target columns in a ``frame``, and the designs themselves
(``images``). A campaign turns any data set into the space's vectors through
:meth:`ImageDataset.vectors` (compositions have their formulas instead; see
:func:`evodesign.campaign.data.data_vectors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ImageDataset", "load_microstructures"]


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Square two-phase images with their target properties, one row per image.

    Attributes:
        name: short name (``"microstructures"``).
        images: `(n, H, W)` uint8 0/1, 1 = filler.
        frame: `n` rows: ``image`` (``"<family> #<row>"``), the target columns, then
            ``volume_fraction`` and ``family``.
        targets: the target columns (``("k_xx", "k_yy")``).
        source: where the images came from (the library's cache file).
        n_raw_rows: images before any were dropped (all are kept).
        report: settings of the library (size, seed, conductivity).
        elements: None (an image has no elements; the composition checks skip it).
    """

    name: str
    images: NDArray[np.uint8]
    frame: pd.DataFrame
    targets: tuple[str, ...]
    source: str
    n_raw_rows: int
    report: dict[str, Any] = field(default_factory=dict)
    elements: None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or len(self.images) != len(self.frame):
            raise DataError(
                f"data set {self.name!r}: images of shape (n, H, W) with one frame row each, got "
                f"{self.images.shape} and {len(self.frame)} rows"
            )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        size = "x".join(map(str, self.images.shape[1:]))
        return f"ImageDataset(name={self.name!r}, n_rows={len(self)}, size={size}, targets={self.targets!r})"

    @property
    def labels(self) -> NDArray[np.str_]:
        """`(n,)` row names (``"voronoi #12"``)."""
        return self.frame["image"].to_numpy(dtype=str)

    def designs(self, space: Any) -> NDArray[np.uint8]:
        """The images, as the space's designs (what analytic properties read)."""
        return self.images

    def vectors(self, space: Any) -> NDArray[np.float64]:
        """`(n, n_var)` the space's vectors of the images (:meth:`space.encode`)."""
        return space.encode(self.images)


def load_microstructures(
    n: int = 20_000,
    size: int = 64,
    seed: int = 0,
    conductivity: tuple[float, float] = (1.0, 10.0),
    *,
    progress: bool = False,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """The built-in microstructure library as a data set (built once, then cached).

    Args:
        n: images (>= 7, one per family).
        size: image side in pixels.
        seed: the library's seed.
        conductivity: ``(k_matrix, k_filler)`` the ``k_xx``/``k_yy`` labels are solved with.
        progress: say when the library is built or loaded.
        cache_dir: the library's cache folder (None: ``$EVODESIGN_CACHE_DIR/datasets`` or
            the per-user cache).

    Returns:
        The :class:`ImageDataset`.
    """
    from evodesign.datasets.microstructures import build_library, library_path

    library = build_library(
        n=n, size=size, seed=seed, conductivity=tuple(conductivity), progress=progress, cache_dir=cache_dir
    )
    family = np.asarray(library.family, dtype=str)
    frame = pd.DataFrame(
        {
            "image": [f"{f} #{i}" for i, f in enumerate(family.tolist())],
            "k_xx": np.asarray(library.k_xx, dtype=np.float64),
            "k_yy": np.asarray(library.k_yy, dtype=np.float64),
            "volume_fraction": np.asarray(library.volume_fraction, dtype=np.float64),
            "family": family,
        }
    )
    return ImageDataset(
        name="microstructures",
        images=np.asarray(library.images, dtype=np.uint8),
        frame=frame,
        targets=("k_xx", "k_yy"),
        source=str(library_path(n, size, seed, cache_dir)),
        n_raw_rows=len(frame),
        report={"n_images": n, "size": size, "seed": seed, "conductivity": list(library.conductivity)},
    )
