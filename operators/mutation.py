"""Mutation by a step towards a GAN sample in the VAE's latent space.

A parent is encoded to its latent mean ``z``, a GAN sample ``z_gan`` is drawn per row, and
the child is the decoding of ``z + strength * (z_gan - z)``. The GAN samples where the data
lie in latent space, so the step moves the parent towards a realistic region, and
``strength`` (0..1) sets how far: 0 leaves the parent untouched, 1 replaces it by a fresh
GAN sample. Alternatives considered: Gaussian noise on ``z`` is blind to where the data
are and walks off into holes of the latent space; the nearest of several GAN samples keeps
steps small but needs a tuning knob of its own that ``strength`` already provides.

Defaults are the measured best of the campaign (``docs/benchmarks/NOTES.md``): strength 0.6
along the ``"difference"`` of two generator samples. Rows whose latent code is known (a
crossover child's interpolated point, a parent's kept code; see :meth:`GANMutation.mutate`)
step from it without being encoded again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pymoo.core.mutation import Mutation

from operators.acceptance import Accept, check_max_tries, redraw_rejected
from operators.generative import LATENT_SOURCES
from operators.provenance import mutation_provenance
from operators.reference import ModelHolder
from operators.seeding import torch_generator
from operators.vectors import check_shape

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from operators.generative import GenerativeModel

__all__ = [
    "DEFAULT_DIRECTION",
    "DEFAULT_STRENGTH",
    "DIRECTIONS",
    "GANMutation",
    "guided_latent_step",
    "latent_step",
]

#: how a mutation step is aimed: towards a generator sample, or along the difference of two
DIRECTIONS = ("toward", "difference")
#: the measured best step (docs/benchmarks/NOTES.md); the campaign's config passes its own
DEFAULT_STRENGTH = 0.6
DEFAULT_DIRECTION = "difference"


def _step(
    model: GenerativeModel, z: NDArray, strength: float, generator: torch.Generator, source: str, direction: str
) -> NDArray:
    """Latent codes after one step of every row of ``z`` `(n, d)`."""
    target = model.sample_latent(len(z), source, generator)
    if direction == "toward":
        return z + strength * (target - z)
    other = model.sample_latent(len(z), source, generator)
    return z + strength * (target - other)


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {DIRECTIONS}")


def _codes(model: GenerativeModel, X: NDArray, Z: NDArray | None) -> NDArray[np.float64]:
    """`(n, latent_dim)` codes of `(n, n_var)` ``X``: the known rows of ``Z`` (no NaN) as
    they are, the others encoded in one call."""
    if Z is None:
        return model.encode(X)
    z = np.array(Z, dtype=np.float64, copy=True)
    todo = np.flatnonzero(np.isnan(z).any(axis=1))
    if len(todo):
        z[todo] = model.encode(X[todo])
    return z


def _rows_or_codes(X: ArrayLike, Z: ArrayLike | None, n_var: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """A float64 copy of `(n, n_var)` ``X`` checked finite except for all-NaN rows whose code
    in ``Z`` is known, and the `(n,)` mask of those rows (rows to be decoded from ``Z``)."""
    X = np.array(X, dtype=np.float64, copy=True)
    pending = np.zeros(len(X), dtype=bool)
    if Z is not None and X.ndim == 2:
        Zk = np.asarray(Z, dtype=np.float64)
        if Zk.shape[0] == len(X):
            pending = np.isnan(X).all(axis=1) & np.isfinite(Zk).all(axis=1)
    check_shape(np.where(pending[:, None], 0.0, X) if pending.any() else X, n_var, "parents")
    return X, pending


def _mutants(
    model: GenerativeModel,
    X: NDArray,
    strength: float,
    generator: torch.Generator,
    accept: Accept | None,
    max_tries: int,
    source: str,
    direction: str,
    Z: NDArray | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """`(n, n_var)` mutants of ``X`` and the `(n, latent_dim)` points they were decoded from."""
    z = _codes(model, X, Z)
    codes = np.empty_like(z)

    def draw(rows: NDArray[np.int64]) -> NDArray[np.float64]:
        codes[rows] = _step(model, z[rows], strength, generator, source, direction)
        return model.decode(codes[rows])

    Y = draw(np.arange(len(X)))
    if accept is not None:
        Y, _ = redraw_rejected(Y, draw, accept, max_tries, parents=(X,))
    return Y, codes


def latent_step(
    model: GenerativeModel,
    X: ArrayLike,
    strength: float,
    generator: torch.Generator,
    source: str = "gan",
    direction: str = DEFAULT_DIRECTION,
) -> NDArray[np.float64]:
    """Move each row towards a generator sample in latent space; one encode, one decode.

    Args:
        model: the generative model.
        X: a `(n, n_var)` array of parents.
        strength: step length as a fraction of the way to the sample; 0 returns ``X``
            itself (a float64 copy, bit-identical).
        generator: source of the latent samples.
        source: ``"gan"`` (default) or ``"vae"`` (the N(0, I) prior).
        direction: ``"difference"`` (default): ``z + strength * (z_gan1 - z_gan2)``, a
            step whose directions and lengths follow the spread of the data (differential
            evolution's difference vector, drawn from the generator) with no pull back to
            the data's centre; ``"toward"``: ``z + strength * (z_gan - z)``, a pull
            towards where the data are.

    Returns:
        A `(n, n_var)` array of children.
    """
    X = check_shape(X, model.n_var, "parents")
    _check_direction(direction)
    if strength == 0.0 or len(X) == 0:
        return X.copy()
    return _mutants(model, X, strength, generator, None, 1, source, direction)[0]


def guided_latent_step(
    model: GenerativeModel,
    X: ArrayLike,
    strength: float,
    generator: torch.Generator,
    accept: Accept,
    max_tries: int = 4,
    source: str = "gan",
    direction: str = DEFAULT_DIRECTION,
) -> NDArray[np.float64]:
    """:func:`latent_step`, then rejected children redrawn towards new latent samples.

    A child that ``accept`` rejects, that clones its parent, or that duplicates an accepted
    child before it (see :mod:`operators.acceptance`), takes a new step of the same ``strength`` from its
    parent's code towards a new sample from ``generator``; one sample and one decode per
    round for all rejected rows, at most ``max_tries`` draws per row in all.

    Args:
        model: the generative model.
        X: a `(n, n_var)` array of parents.
        strength: step length; 0 returns ``X`` itself (a float64 copy, no test).
        generator: source of the latent samples.
        accept: the acceptance test.
        max_tries: draws per row in all, the first one included.
        source: ``"gan"`` (default) or ``"vae"``.
        direction: ``"difference"`` or ``"toward"`` (see :func:`latent_step`).

    Returns:
        A `(n, n_var)` array of children.
    """
    X = check_shape(X, model.n_var, "parents")
    _check_direction(direction)
    if strength == 0.0 or len(X) == 0:
        return X.copy()
    return _mutants(model, X, strength, generator, accept, max_tries, source, direction)[0]


class GANMutation(ModelHolder, Mutation):
    """pymoo mutation: every selected row takes a latent step towards a GAN sample.

    Provenance: a mutated child's ``"operator"`` gets ``"+GANMutation"`` appended and keeps
    its ``"parents"`` (a crossover child never lived in the population, so its parents are
    the ones that count); a mutated row without provenance, or a clone, gets ``"GANMutation"``
    and its own pre-mutation key as parent. Rows left unchanged keep what they had.

    Args:
        model: a :class:`~operators.generative.GenerativeModel` or the path of a saved one;
            pickled by reference (see :mod:`operators.reference`).
        strength: step length in [0, 1] (see :func:`latent_step`); default 0.6.
        prob: probability that a row is mutated.
        source: ``"gan"`` (default) or ``"vae"`` (prior samples, for a model without GAN).
        direction: ``"difference"`` (default, a step along the difference of two samples)
            or ``"toward"`` (a pull towards a sample; see :func:`latent_step`).
        accept: optional acceptance test (:mod:`operators.acceptance`): mutants it
            rejects, that equal their parent or that duplicate an accepted mutant of the
            same call, are redrawn towards a new latent sample,
            batched over all rejected rows, up to ``max_tries`` draws in all; rows still
            rejected keep their last draw. ``None`` (default): one draw, no test.
        max_tries: draws per row in all, the first one included.
        **kwargs: passed to :class:`pymoo.core.mutation.Mutation`.
    """

    def __init__(
        self,
        model: GenerativeModel | str | os.PathLike,
        strength: float = DEFAULT_STRENGTH,
        prob: float = 1.0,
        source: str = "gan",
        accept: Accept | None = None,
        max_tries: int = 4,
        direction: str = DEFAULT_DIRECTION,
        **kwargs: Any,
    ) -> None:
        super().__init__(prob=prob, **kwargs)
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        _check_direction(direction)
        self.direction = direction
        if source not in LATENT_SOURCES:
            raise ValueError(f"unknown source {source!r}; choose one of {LATENT_SOURCES}")
        self.strength = float(strength)
        self.source = source
        self.accept = accept
        self.max_tries = check_max_tries(max_tries)
        self._hold(model)

    def mutate(
        self, X: NDArray, random_state: np.random.Generator, Z: NDArray | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """Every row mutated, with its latent code: the public array-level entry.

        Args:
            X: a `(n, n_var)` array of rows.
            random_state: the algorithm's generator (seeds the latent draws).
            Z: `(n, latent_dim)` codes of the rows, NaN where unknown (``None``: none
                known); known codes are stepped from as they are, the others encoded. A
                row of ``X`` that is all NaN with a known code stands for the decoding of
                that code (a crossover child not decoded yet,
                :meth:`~operators.LatentInterpolationCrossover.cross` with ``decode=False``):
                it is decoded only where the row itself is needed (``strength`` 0, or an
                acceptance test that compares a mutant with its parent).

        Returns:
            ``(Y, Zm)``: the `(n, n_var)` mutants and the `(n, latent_dim)` latent points
            they were decoded from. With ``strength`` 0: a copy of ``X`` and ``Z``.
        """
        X, pending = _rows_or_codes(X, Z, self.model.n_var)
        if pending.any() and (self.strength == 0.0 or self.accept is not None):
            X[pending] = self.model.decode(np.asarray(Z, dtype=np.float64)[pending])
        if self.strength == 0.0 or len(X) == 0:
            return X, None if Z is None else np.array(Z, dtype=np.float64, copy=True)
        generator = torch_generator(random_state)
        return _mutants(
            self.model, X, self.strength, generator, self.accept, self.max_tries, self.source,
            self.direction, Z,
        )

    def _do(
        self,
        problem: Any,
        X: NDArray,
        *args: Any,
        random_state: np.random.Generator,
        **kwargs: Any,
    ) -> NDArray:
        """Mutated rows, `(n, n_var)` -> `(n, n_var)`; pymoo then keeps those selected by
        ``prob``."""
        return self.mutate(X, random_state)[0]

    def do(self, problem: Any, pop: Any, inplace: bool = True, *args: Any, **kwargs: Any) -> Any:
        """pymoo's mutation, then provenance on the rows it changed."""
        before = np.array(pop.get("X"), dtype=np.float64, copy=True)
        operators, parents = pop.get("operator"), pop.get("parents")
        off = super().do(problem, pop, inplace, *args, **kwargs)
        after = off.get("X")
        operator, parent_str = mutation_provenance(operators, parents, before, after, self.name)
        off.set("operator", operator, "parents", parent_str)
        return off
