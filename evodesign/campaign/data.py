"""A campaign's data set, whatever its designs are: loading it, and its rows as the space's
vectors and designs.

Two sorts of data set reach a campaign: tables of formulas
(:class:`~evodesign.datasets.MaterialsDataset`: built-in ``transport`` or a CSV file) and
data sets that carry their designs themselves (:class:`~evodesign.datasets.ImageDataset`:
``microstructures``), which say how they become a space's vectors (``vectors(space)``) and
designs (``designs(space)``). A generated data set is built with the campaign's own settings
(:data:`CONFIGURED`: the library's size from ``[data]`` and ``[space] size``, its labels
with ``[physics] conductivity``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.config import CampaignConfig

__all__ = ["CONFIGURED", "data_designs", "data_labels", "data_options", "data_vectors"]


def _microstructure_options(config: CampaignConfig) -> dict[str, Any]:
    return {
        "n": config.data.n_images,
        "size": getattr(config.space, "size", 64),
        "seed": config.data.seed,
        "conductivity": tuple(config.physics.conductivity),
    }


#: built-in data sets whose contents depend on the campaign: name -> config -> loader options
CONFIGURED: dict[str, Callable[[CampaignConfig], dict[str, Any]]] = {
    "microstructures": _microstructure_options,
}


def data_options(config: CampaignConfig) -> dict[str, Any]:
    """The loader options of the campaign's built-in data set (``{}`` for a fixed one)."""
    options = CONFIGURED.get(config.campaign.dataset)
    return options(config) if options is not None else {}


def data_vectors(space: Any, data: Any) -> NDArray[np.float64]:
    """`(len(data), n_var)` the space's vectors of every row of a data set (in data order)."""
    vectors = getattr(data, "vectors", None)
    if vectors is not None:
        return vectors(space)
    return space.to_vectors(data.compositions)


def data_designs(space: Any, data: Any, vectors: NDArray[np.float64] | None = None) -> Any:
    """What analytic properties read for every row of a data set: its own designs, or (a
    table of formulas) the rows' exact fractions ``vectors``, so that a row outside the
    space still gets its value."""
    designs = getattr(data, "designs", None)
    if designs is not None:
        return designs(space)
    return data_vectors(space, data) if vectors is None else vectors


def data_labels(data: Any) -> NDArray[np.str_]:
    """`(len(data),)` row names: formulas, or the data set's own labels."""
    labels = getattr(data, "labels", None)
    return np.asarray(labels if labels is not None else data.formulas, dtype=str)
