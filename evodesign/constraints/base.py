"""Design constraints in pymoo's ``G <= 0`` form, vectorized over a batch of designs.

Each :class:`Constraint` maps a :class:`DesignBatch` (the decoded designs of a population
plus the surrogates' predictions for them) to a `(n, n_cols)` float array whose entries are
``<= 0`` where the design satisfies the constraint and ``> 0`` where it violates it, the
larger the worse. Every column has a label for the results table
(:meth:`Constraint.labels`) and every constraint a one-line description a scientist reads
(:meth:`Constraint.describe`).

The output is always finite: a NaN or inf that a constraint would produce (e.g. from a
surrogate that failed) becomes :data:`FAILED_VIOLATION`, so NaN never reaches pymoo.
Constraints of one kind of design live in a module of their own (:mod:`.composition`,
:mod:`.novelty`); those that read only predictions work for every design space
(:mod:`.properties`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["FAILED_VIOLATION", "Constraint", "DesignBatch", "MissingTargetError", "evaluate_constraints"]

#: The violation written where a constraint value is NaN or infinite (a failed evaluation):
#: large, so a failed design loses every feasibility comparison, but finite.
FAILED_VIOLATION = 1e6


class MissingTargetError(KeyError):
    """A constraint needs a surrogate prediction the batch does not hold."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class DesignBatch:
    """What constraints see of a population.

    Attributes:
        designs: the decoded designs, a batched array with one row per design (for
            compositions, `(n, n_var)` int64 atom counts; see
            :meth:`~evodesign.representation.space.DesignSpace.decode`).
        mean: surrogate mean per target name, each an `(n,)` array (may be empty).
        std: surrogate standard deviation per target name, each an `(n,)` array.
    """

    designs: Any
    mean: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    std: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        designs = np.asarray(self.designs)
        if designs.ndim < 1:
            raise DataError(f"designs must be a batch (one row per design), got shape {designs.shape}")
        n = len(designs)
        for kind, values in (("mean", self.mean), ("std", self.std)):
            for target, array in values.items():
                if np.shape(array) != (n,):
                    raise DataError(
                        f"surrogate {kind} of {target!r} has shape {np.shape(array)}, "
                        f"expected ({n},): one value per design"
                    )
        object.__setattr__(self, "designs", designs)

    @classmethod
    def of(
        cls,
        designs: ArrayLike,
        mean: Mapping[str, ArrayLike] | None = None,
        std: Mapping[str, ArrayLike] | None = None,
    ) -> DesignBatch:
        """A batch from designs and optional per-target predictions (lists welcome).

        Args:
            designs: the decoded designs, one row each.
            mean: surrogate means per target, each `(n,)`.
            std: surrogate stds per target, each `(n,)`.
        """
        return cls(
            designs=np.asarray(designs),
            mean={k: np.asarray(v, dtype=np.float64) for k, v in (mean or {}).items()},
            std={k: np.asarray(v, dtype=np.float64) for k, v in (std or {}).items()},
        )

    def __len__(self) -> int:
        return len(self.designs)


# ---------------------------------------------------------------------------- base class
class Constraint:
    """Base class: one or more ``G <= 0`` columns computed for a whole batch.

    Subclasses set ``name``, override :meth:`_evaluate` (returning `(n,)` or
    `(n, n_cols)`) and :meth:`describe`, and :meth:`labels` when they have several
    columns. :meth:`__call__` checks the shape and replaces non-finite values by
    :data:`FAILED_VIOLATION`.
    """

    name: str = "constraint"

    def labels(self) -> list[str]:
        """One column label per ``G`` column (results-table column names)."""
        return [self.name]

    def describe(self) -> str:
        """One line a chemist reads, e.g. for a report or the run manifest."""
        raise NotImplementedError

    def __call__(self, batch: DesignBatch) -> NDArray[np.float64]:
        """Constraint values of every design.

        Args:
            batch: the decoded designs and their predictions.

        Returns:
            A `(n, len(labels()))` finite float array; ``<= 0`` means satisfied.
        """
        n_cols = len(self.labels())
        G = np.asarray(self._evaluate(batch), dtype=np.float64)
        if G.size != len(batch) * n_cols:
            raise ValueError(
                f"{type(self).__name__} returned shape {G.shape} for {len(batch)} designs "
                f"and {n_cols} columns"
            )
        G = G.reshape(len(batch), n_cols)
        return np.where(np.isfinite(G), G, FAILED_VIOLATION)

    def _evaluate(self, batch: DesignBatch) -> NDArray[np.float64]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"


def evaluate_constraints(
    constraints: Sequence[Constraint], batch: DesignBatch
) -> tuple[NDArray[np.float64], list[str]]:
    """All constraint columns of a batch, side by side.

    Args:
        constraints: the constraints, in column order.
        batch: the designs.

    Returns:
        ``(G, labels)``: a `(n, total_cols)` finite float array and its column labels.

    Raises:
        ValueError: two constraints use the same column label.
    """
    blocks = [c(batch) for c in constraints]
    labels = [label for c in constraints for label in c.labels()]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(
            f"constraint column labels must be unique, repeated: {repeated}; "
            "combine the constraints or give them different parameters"
        )
    G = np.hstack(blocks) if blocks else np.zeros((len(batch), 0))
    return G, labels


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise DataError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a number, got {value!r}") from None


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise DataError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
