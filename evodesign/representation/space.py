"""The design-space seam: what the search and the campaign need of a space of materials.

A design space turns the search's continuous vectors into designs and back. The search
(:mod:`evodesign.search`), the problem (:class:`~evodesign.problem.DesignProblem`) and the
campaign only talk to a space through :class:`DesignSpace`; everything specific to a kind
of material (formulas, microstructure images, ...) lives in the space's own module and the
parts it registers (:mod:`evodesign.representation.registry`).

Vocabulary:

* a **vector** is a row of the search's `(n, n_var)` float array, within ``[xl, xu]``;
* a **design** is what a vector decodes to, as a batched array (for compositions, the
  `(n, n_var)` int64 atom counts of reduced formulas). Designs are what constraints and
  analytic properties read;
* :meth:`DesignSpace.repair` snaps vectors to the canonical vector of their design (so two
  vectors of the same design are bit-identical, and the search deduplicates by hashing);
* :meth:`DesignSpace.ids` gives one hashable scalar per design, for ``np.unique`` /
  ``np.isin`` over a whole population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["Check", "DesignSpace", "KnownDesigns"]

#: a test on designs, `(n, ...)` designs -> `(n,)` booleans (True = acceptable); a repair
#: prefers designs that pass it
Check = Callable[[Any], "NDArray[np.bool_]"]


@runtime_checkable
class DesignSpace(Protocol):
    """A space of designs searched through fixed-length real vectors.

    Attributes:
        kind: the registry key of the space (``"composition"``); also the ``[space] kind``
            of a campaign config.
        n_var: vector length.
        xl, xu: `(n_var,)` lower and upper bounds of the vectors.
    """

    kind: ClassVar[str]

    @property
    def n_var(self) -> int: ...

    @property
    def xl(self) -> NDArray[np.float64]: ...

    @property
    def xu(self) -> NDArray[np.float64]: ...

    def decode(self, X: ArrayLike, check: Check | None = None) -> Any:
        """Designs of `(n, n_var)` vectors (batched; rows in order). ``check``: prefer
        designs that pass it where the decoding has a choice."""
        ...

    def encode(self, designs: Any) -> NDArray[np.float64]:
        """Canonical `(n, n_var)` vectors of designs (``decode(encode(d)) == d``)."""
        ...

    def repair(self, X: ArrayLike, check: Check | None = None) -> NDArray[np.float64]:
        """Vectors snapped to their designs' canonical vectors, `(n, n_var)` -> same."""
        ...

    def ids(self, designs: Any) -> NDArray[Any]:
        """`(n,)` scalars, equal exactly for equal designs (for ``np.unique``/``np.isin``)."""
        ...

    def labels(self, designs: Any) -> list[str]:
        """A short human-readable name per design (a reduced formula, ...)."""
        ...

    def features(self, designs: Any) -> NDArray[np.float64]:
        """`(n, n_features)` surrogate inputs of designs."""
        ...

    def table(self, designs: Any) -> dict[str, Any]:
        """Columns a results table shows for designs (name -> `(n,)` values)."""
        ...

    def random_vectors(self, n: int, random_state: np.random.Generator) -> NDArray[np.float64]:
        """`(n, n_var)` random vectors (an initial population with no data)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, ``kind`` included; the registry's ``from_dict`` reads it."""
        ...


@dataclass(frozen=True)
class KnownDesigns:
    """The designs of a data set that fit a space: computed once per run and shared.

    Generators train on ``vectors``, novelty tests against ``ids``, normalisation and the
    ``nearest_known`` column read ``designs``, benchmarks sample from ``vectors``.

    Attributes:
        vectors: `(m, n_var)` canonical vectors.
        designs: the `m` designs (the space's batched array form).
        ids: `(m,)` design ids (see :meth:`DesignSpace.ids`).
        labels: `m` labels.
        rows: `(m,)` row of each design in the data set it came from.
    """

    vectors: NDArray[np.float64]
    designs: Any
    ids: NDArray[Any]
    labels: tuple[str, ...]
    rows: NDArray[np.int64]

    @classmethod
    def from_vectors(cls, space: DesignSpace, X: ArrayLike, tol: float = 1e-9) -> KnownDesigns:
        """The designs of a data set's vectors that the space reproduces exactly.

        A row fits when its design's canonical vector is the row itself (within ``tol`` per
        component): for compositions, a formula of at most ``max_elements`` elements and
        ``max_atoms`` atoms per reduced formula unit. Rows that do not fit (a five-element
        compound, ``Bi0.5Sb1.5Te3`` beyond the atom limit) are no design the search can make.

        Args:
            space: the design space.
            X: `(n_data, n_var)` vectors of the data set's rows, in data order.
            tol: largest difference per component between a row and its design's vector.

        Returns:
            The known designs, in data order; ``rows`` are the data rows they come from.
        """
        X = np.asarray(X, dtype=np.float64).reshape(-1, space.n_var)
        designs = space.decode(X)
        vectors = space.encode(designs)
        fits = np.abs(vectors - X).max(axis=1, initial=0.0) < tol
        designs = designs[fits]
        return cls(
            vectors=vectors[fits],
            designs=designs,
            ids=space.ids(designs),
            labels=tuple(space.labels(designs)),
            rows=np.flatnonzero(fits),
        )

    def __len__(self) -> int:
        return len(self.vectors)

    def contains(self, ids: ArrayLike) -> NDArray[np.bool_]:
        """`(n,)`: which of the design ids are known."""
        return np.isin(np.asarray(ids), self.ids)
