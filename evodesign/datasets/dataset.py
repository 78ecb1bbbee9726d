"""The validated table every evodesign data set is turned into."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from pymatgen.core import Composition

__all__ = ["MaterialsDataset"]


@dataclass(frozen=True, eq=False)
class MaterialsDataset:
    """Compositions with their target properties, one row per unique reduced formula.

    Built by the loaders (:func:`~evodesign.datasets.load_csv`,
    :func:`~evodesign.datasets.from_frame`, :func:`~evodesign.datasets.load_transport`),
    which guarantee what is checked again here: unique formulas and finite targets, so NaN
    never reaches a surrogate or non-dominated sorting. Featurization happens elsewhere.

    Attributes:
        name: short name, e.g. ``"transport"``.
        frame: ``n_rows`` rows; columns ``formula`` (pymatgen reduced formula, e.g.
            ``"Fe2O3"``), ``composition`` (pymatgen ``Composition`` of one reduced formula
            unit), then the float target columns, then any extra columns a loader adds.
        targets: names of the target columns, in frame order.
        source: where the data came from (a citation or a path).
        n_raw_rows: rows in the input before dropping and merging.
        report: what the loader dropped and merged; see the loader docstrings.
    """

    name: str
    frame: pd.DataFrame
    targets: tuple[str, ...]
    source: str
    n_raw_rows: int
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        leading = list(self.frame.columns[:2])
        if leading != ["formula", "composition"]:
            raise DataError(
                f"data set {self.name!r}: the first columns must be 'formula' and "
                f"'composition', got {leading}"
            )
        missing = [t for t in self.targets if t not in self.frame.columns]
        if missing:
            raise DataError(
                f"data set {self.name!r}: target columns {missing} are not in the frame"
            )
        if not self.frame["formula"].is_unique:
            raise DataError(f"data set {self.name!r}: formulas must be unique (one row each)")
        values = self.frame.loc[:, list(self.targets)].to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise DataError(f"data set {self.name!r}: targets must be finite (no NaN or inf)")

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (
            f"MaterialsDataset(name={self.name!r}, n_rows={len(self)}, "
            f"targets={self.targets!r})"
        )

    @property
    def formulas(self) -> np.ndarray:
        """The ``n_rows`` reduced formulas, a numpy array of str."""
        return self.frame["formula"].to_numpy(dtype=str)

    @property
    def compositions(self) -> list[Composition]:
        """The ``n_rows`` pymatgen compositions, in row order."""
        return list(self.frame["composition"])

    @property
    def elements(self) -> tuple[str, ...]:
        """Symbols of all elements present, sorted by atomic number."""
        present = {element for composition in self.frame["composition"] for element in composition}
        # strict parsing at the boundary means every key is an Element, which has Z
        return tuple(element.symbol for element in sorted(present, key=lambda e: e.Z))

    def summary(self) -> dict:
        """Plain-Python numbers describing the data set, for a CLI or a JSON file.

        Returns:
            A dict with ``name``, ``source``, ``n_rows``, ``n_raw_rows``, ``n_elements``,
            ``elements``, ``targets`` (per target: ``count, mean, std, min, median, max``)
            and ``elements_per_formula`` (number of elements -> number of formulas).
        """
        stats = {}
        for target in self.targets:
            column = self.frame[target].astype(float)
            stats[target] = {
                "count": int(column.count()),
                "mean": float(column.mean()),
                "std": float(column.std()),
                "min": float(column.min()),
                "median": float(column.median()),
                "max": float(column.max()),
            }
        histogram = Counter(len(composition) for composition in self.frame["composition"])
        elements = self.elements
        return {
            "name": self.name,
            "source": self.source,
            "n_rows": len(self),
            "n_raw_rows": self.n_raw_rows,
            "n_elements": len(elements),
            "elements": list(elements),
            "targets": stats,
            "elements_per_formula": {k: histogram[k] for k in sorted(histogram)},
        }
