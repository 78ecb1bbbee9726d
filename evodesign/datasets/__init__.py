"""Built-in and user data sets, validated at the boundary.

Every loader returns a :class:`MaterialsDataset`: one row per unique reduced formula, a
pymatgen ``Composition`` per row, finite float targets, and a report of what was dropped
and merged. Built-in sets are reached by name::

    >>> from evodesign.datasets import list_datasets, load_dataset
    >>> list_datasets()
    ['microstructures', 'transport']
    >>> data = load_dataset("transport")  # doctest: +SKIP

User tables go through :func:`load_csv` or :func:`from_frame`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from evodesign.datasets.dataset import MaterialsDataset
from evodesign.datasets.image_dataset import ImageDataset, load_microstructures
from evodesign.datasets.loader import from_frame, load_csv
from evodesign.datasets.transport import load_transport
from evodesign.exceptions import DataError

__all__ = [
    "ImageDataset",
    "MaterialsDataset",
    "from_frame",
    "list_datasets",
    "load_csv",
    "load_dataset",
    "load_microstructures",
    "load_transport",
]

_REGISTRY: dict[str, Callable[..., MaterialsDataset | ImageDataset]] = {
    "microstructures": load_microstructures,
    "transport": load_transport,
}


#: data sets generated on first use (minutes) and cached, not read from a table
GENERATED = ("microstructures",)


def list_datasets(generated: bool = True) -> list[str]:
    """Names accepted by :func:`load_dataset`, sorted.

    Args:
        generated: include the data sets built on first use (:data:`GENERATED`; loading
            one may take minutes the first time).
    """
    return sorted(n for n in _REGISTRY if generated or n not in GENERATED)


def load_dataset(name: str, **kwargs: object) -> MaterialsDataset | ImageDataset:
    """Load a built-in data set by name.

    Args:
        name: one of :func:`list_datasets`.
        **kwargs: passed to the data set's loader, e.g. ``aggregate="mean"`` for
            :func:`load_transport`, ``n=1000, size=32`` for :func:`load_microstructures`.

    Returns:
        The data set.

    Raises:
        DataError: ``name`` is not a built-in data set (the message suggests close names
            and lists the valid ones).
    """
    loader = _REGISTRY.get(name)
    if loader is None:
        message = f"unknown data set {name!r}"
        matches = difflib.get_close_matches(str(name).lower(), list(_REGISTRY), n=3, cutoff=0.5)
        if matches:
            message += "; did you mean " + " or ".join(repr(m) for m in matches) + "?"
        message += f" available: {', '.join(repr(n) for n in list_datasets())}"
        message += " (for your own table use load_csv or from_frame)"
        raise DataError(message)
    return loader(**kwargs)
