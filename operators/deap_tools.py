"""The learned operators as DEAP functions (``toolbox.register("mate", mate, model=..., rng=...)``).

DEAP calls ``mate`` on one pair and ``mutate`` on one individual at a time, so these make
one small network call per call instead of one per generation as the pymoo operators do;
use pymoo for speed. Individuals are modified in place, like ``deap.tools.cxBlend``, and
may be lists or numpy arrays. Randomness comes from the numpy Generator ``rng`` the caller
passes (DEAP's own operators use the global ``random`` module; these do not). For a
genealogy, decorate them with ``deap.tools.History`` as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, MutableSequence

import numpy as np

from operators.crossover import draw_weights, guided_interpolation_children, interpolation_children
from operators.mutation import DEFAULT_DIRECTION, DEFAULT_STRENGTH, guided_latent_step, latent_step
from operators.seeding import torch_generator

if TYPE_CHECKING:
    from operators.acceptance import Accept
    from operators.generative import GenerativeModel

__all__ = ["mate", "mutate"]


def _assign(ind: MutableSequence[Any], row: np.ndarray) -> None:
    ind[:] = row.tolist() if isinstance(ind, list) else row


def mate(
    ind1: MutableSequence[Any],
    ind2: MutableSequence[Any],
    model: GenerativeModel,
    rng: np.random.Generator,
    method: str = "slerp",
    accept: Accept | None = None,
    max_tries: int = 4,
    extrapolation: float = 0.0,
) -> tuple[MutableSequence[Any], MutableSequence[Any]]:
    """Latent interpolation of two individuals of length ``n_var``, in place.

    Args:
        ind1: first parent, becomes the child at ``t``.
        ind2: second parent, becomes the child at ``1 - t``.
        model: the generative model.
        rng: numpy Generator; ``t`` is drawn U(-extrapolation, 1 + extrapolation) from it.
        method: ``"slerp"`` or ``"lerp"``.
        accept: optional acceptance test; rejected children are redrawn (see
            :class:`~operators.crossover.LatentInterpolationCrossover`).
        max_tries: draws per child in all, with ``accept``.
        extrapolation: see :func:`~operators.crossover.draw_weights`.

    Returns:
        ``(ind1, ind2)``, modified.
    """
    t = draw_weights(rng, 1, extrapolation)
    if accept is None:
        children = interpolation_children(model, [list(ind1)], [list(ind2)], t, method)
    else:
        children = guided_interpolation_children(
            model, [list(ind1)], [list(ind2)], t, accept, rng, max_tries, method, extrapolation
        )
    _assign(ind1, children[0, 0])
    _assign(ind2, children[1, 0])
    return ind1, ind2


def mutate(
    ind: MutableSequence[Any],
    model: GenerativeModel,
    rng: np.random.Generator,
    strength: float = DEFAULT_STRENGTH,
    source: str = "gan",
    accept: Accept | None = None,
    max_tries: int = 4,
    direction: str = DEFAULT_DIRECTION,
) -> tuple[MutableSequence[Any]]:
    """A latent step of ``strength`` towards a GAN sample (or along the difference of two), in place.

    Args:
        ind: the individual, length ``n_var``.
        model: the generative model.
        rng: numpy Generator; seeds the torch generator of the GAN draw.
        strength: step length in [0, 1] (default 0.6, as :class:`~operators.GANMutation`);
            0 leaves ``ind`` unchanged.
        source: ``"gan"`` or ``"vae"``.
        accept: optional acceptance test; a rejected mutant is redrawn (see
            :class:`~operators.mutation.GANMutation`).
        max_tries: draws in all, with ``accept``.
        direction: ``"difference"`` (default) or ``"toward"`` (see
            :func:`~operators.mutation.latent_step`).

    Returns:
        ``(ind,)``, DEAP's convention for mutations.
    """
    if strength == 0.0:
        return (ind,)
    generator = torch_generator(rng)
    if accept is None:
        row = latent_step(model, [list(ind)], strength, generator, source, direction)[0]
    else:
        row = guided_latent_step(
            model, [list(ind)], strength, generator, accept, max_tries, source, direction
        )[0]
    _assign(ind, row)
    return (ind,)
