"""Array-level variation for any pymoo crossover or mutation, latent codes where there are any.

An engine that works on arrays (evodesign's mating) calls :func:`crossover_arrays` and
:func:`mutation_arrays` instead of pymoo's population-level ``do``. The learned operators
answer through their public array entries (:meth:`~operators.LatentInterpolationCrossover.cross`,
:meth:`~operators.GANMutation.mutate`), which also take and return latent codes; any other
pymoo operator (SBX, polynomial mutation, ...) has no public array entry, so it is called
through ``_do``, the array contract pymoo defines for subclasses, and has no codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from operators.generative import GenerativeModel

__all__ = ["crossover_arrays", "mutation_arrays", "shared_model"]


def crossover_arrays(
    crossover: Any,
    problem: Any,
    X: NDArray[np.float64],
    random_state: np.random.Generator,
    Z: NDArray[np.float64] | None = None,
    decode: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Children `(n_offsprings, n_matings, n_var)` of `(n_parents, n_matings, n_var)` ``X``.

    Args:
        crossover: a pymoo crossover.
        problem: the pymoo problem (passed to operators that want it).
        X: the parents of every mating (all of them crossed).
        random_state: the algorithm's generator.
        Z: `(n_parents, n_matings, latent_dim)` parent codes, NaN rows where unknown, for
            latent operators (ignored by the others).
        decode: ``False``: a latent operator may leave children undecoded (NaN rows, codes
            returned; see :meth:`~operators.LatentInterpolationCrossover.cross`); the
            others always return children.

    Returns:
        ``(Y, Zc)``: the children and, from a latent operator, their
        `(n_offsprings, n_matings, latent_dim)` codes (else ``None``).
    """
    cross = getattr(crossover, "cross", None)
    if cross is not None:
        return cross(X, random_state, Z=Z, decode=decode)
    return crossover._do(problem, X, random_state=random_state), None


def mutation_arrays(
    mutation: Any,
    problem: Any,
    X: NDArray[np.float64],
    random_state: np.random.Generator,
    Z: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Every row of `(n, n_var)` ``X`` mutated (the caller chose the rows), and the
    `(n, latent_dim)` codes from a latent operator (else ``None``); see
    :func:`crossover_arrays`."""
    mutate = getattr(mutation, "mutate", None)
    if mutate is not None:
        return mutate(X, random_state, Z=Z)
    return mutation._do(problem, X, random_state=random_state), None


def _model(operator: Any) -> GenerativeModel | None:
    if getattr(operator, "cross", None) is None and getattr(operator, "mutate", None) is None:
        return None
    return getattr(operator, "model", None)


def shared_model(crossover: Any, mutation: Any) -> GenerativeModel | None:
    """The generative model both operators use, or ``None`` (then codes are not kept).

    Two operators built from the same saved file share it even when each loaded its own
    copy (same path and tensor hash): codes of one are codes of the other.
    """
    a, b = _model(crossover), _model(mutation)
    if a is None or b is None:
        return None
    if a is b or (a.path is not None and (a.path, a.sha256) == (b.path, b.sha256)):
        return a
    return None
