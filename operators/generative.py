"""What the operators need of a generative model: the :class:`GenerativeModel` protocol.

Crossover, mutation, sampling, acceptance, provenance and the DEAP tools use only these
members, so any model with an encoder to a latent space, a decoder back and a way to draw
latent points drops in. :class:`~operators.vaegan.VAEGAN` (a VAE with an optional latent
GAN) is the first implementation; what is specific to a kind of data (fraction rows,
images) is its codec (:mod:`operators.codecs`), not the operators.

Arrays cross the boundary as numpy float64: vectors `(n, n_var)`, latent points
`(n, latent_dim)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import ArrayLike, NDArray

__all__ = ["LATENT_SOURCES", "GenerativeModel"]

#: where latent points may come from: a trained latent GAN, or the VAE's N(0, I) prior
LATENT_SOURCES = ("gan", "vae")


@runtime_checkable
class GenerativeModel(Protocol):
    """A generative model in inference mode, batched, numpy in and out.

    Attributes:
        n_var: vector length.
        latent_dim: latent dimension.
        codec: the data kind's codec (:mod:`operators.codecs`), e.g. for checking data.
        sources: the latent sources :meth:`sample_latent` accepts (a subset of
            :data:`LATENT_SOURCES`).
        path / sha256: the saved files (``None`` before saving); operators pickle these
            instead of the weights (:mod:`operators.reference`).
    """

    path: Path | None
    sha256: str | None

    @property
    def n_var(self) -> int: ...

    @property
    def latent_dim(self) -> int: ...

    @property
    def codec(self) -> Any: ...

    @property
    def sources(self) -> tuple[str, ...]: ...

    def encode(self, X: ArrayLike, refine: bool = True, init: ArrayLike | None = None) -> NDArray[np.float64]:
        """Latent codes, `(n, n_var)` -> `(n, latent_dim)`; deterministic. ``init``:
        optional `(n, latent_dim)` starting points of a refining encoder (NaN rows: none)."""

    def decode(self, Z: ArrayLike, hard: bool = True) -> NDArray[np.float64]:
        """Rows, `(n, latent_dim)` -> `(n, n_var)`; deterministic."""

    def matches(self, decoded: ArrayLike, X: ArrayLike) -> NDArray[np.bool_]:
        """`(n,)` bools: a latent point that decoded to row ``decoded[i]`` is a code of
        ``X[i]`` (the same test the model's :meth:`encode` is satisfied with)."""

    def sample_latent(self, n: int, source: str, generator: torch.Generator) -> NDArray[np.float64]:
        """`(n, latent_dim)` latent points drawn from ``source`` with ``generator``."""

    def sample(
        self, n: int, source: str, generator: torch.Generator, hard: bool = True
    ) -> NDArray[np.float64]:
        """`(n, n_var)` decoded samples: ``decode(sample_latent(n, source, generator))``."""
