"""Codecs: what a generative model needs to know about one kind of data, and nothing else.

The networks, the latent moves (interpolation, latent steps, redraws) and provenance are
the same for every kind of vector; what differs per kind is small and lives in a codec:

* ``check(X)`` -- which arrays are valid data (fraction rows sum to one, ...);
* ``networks(...)`` / ``default_hidden`` -- the encoder and decoder (MLPs for fraction
  rows, convolutions for images) and what the VAE's ``hidden`` means for them;
* ``features(x)`` / ``n_features(n_var)`` -- the encoder's input built from a batch;
* ``make_head(head, n_var)`` / ``default_head`` / ``fit_head(head, X)`` -- the decoder's
  output head (raw outputs -> rows, and the reconstruction loss), and its settings learned
  from the training data;
* ``finish(rows)`` -- decoded float32 rows made exact in float64;
* ``matches(rec, x, tol)`` / ``default_refine_tol`` -- a decoding counts as a
  reconstruction of a row; ``default_refine_steps`` -- how hard a trained model's encoder
  tries to get there; ``scores(rec, x)`` -- the reconstruction scores of training;
* ``fit_defaults`` / ``gan_fit_defaults`` -- :func:`~operators.training.fit_vae`'s and
  :func:`~operators.training.fit_latent_gan`'s settings for this kind of data.

:class:`~operators.codecs.simplex.SimplexCodec` (``"simplex"``: non-negative rows summing to
one, e.g. compositions) and :class:`~operators.codecs.image.ImageCodec` (``"image"``: square
0/1 images as row-major rows, e.g. two-phase microstructures). Models store their codec's
name, and :func:`make_codec` finds it here. A model is trained for a codec by name
(``fit_vae(X, codec="image")``); it is not guessed from the data, because an image with a
single filler pixel is also a valid fraction row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from operators.codecs.image import ImageCodec
from operators.codecs.simplex import SimplexCodec

if TYPE_CHECKING:
    import numpy as np
    import torch
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CODECS", "Codec", "ImageCodec", "SimplexCodec", "make_codec"]


@runtime_checkable
class Codec(Protocol):
    """The data-kind-specific parts of a generative model (see the module docstring)."""

    name: str
    default_head: str
    default_hidden: tuple[int, ...]
    default_refine_tol: float
    default_refine_steps: int
    fit_defaults: dict[str, Any]
    gan_fit_defaults: dict[str, Any]

    def check(self, X: ArrayLike, name: str = "X", renormalize: bool = True) -> NDArray[np.float64]:
        """Valid `(n, n_var)` data as float64, else a DataError naming the first bad row."""

    def n_features(self, n_var: int) -> int:
        """Width of the encoder input for vectors of length ``n_var``."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder input, `(n, n_var)` -> `(n, n_features)`."""

    def networks(
        self, n_var: int, latent_dim: int, hidden: tuple[int, ...], n_params: int,
        generator: torch.Generator,
    ) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Encoder `(n, n_features)` -> `(n, 2 * latent_dim)` and decoder
        `(n, latent_dim)` -> `(n, n_params)`, initial weights drawn from ``generator``."""

    def make_head(self, head: Any, n_var: int) -> Any:
        """An output head from its name, config dict or instance."""

    def fit_head(self, head: Any, X: NDArray[np.float64]) -> None:
        """Set the head's data-dependent settings left unset, from `(n, n_var)` training data."""

    def finish(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Decoded `(n, n_var)` rows (computed in float32) made exact in float64."""

    def matches(self, rec: torch.Tensor, x: torch.Tensor, tol: float) -> torch.Tensor:
        """`(n,)` bools: decoded `(n, n_var)` ``rec`` reproduces `(n, n_var)` ``x``."""

    def scores(self, rec: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
        """Named reconstruction scores in [0, 1] of hard-decoded `(n, n_var)` ``rec``."""


CODECS: dict[str, type] = {SimplexCodec.name: SimplexCodec, ImageCodec.name: ImageCodec}


def make_codec(codec: str | Codec) -> Codec:
    """A codec from its registered name, or an instance as is.

    Raises:
        ValueError: an unknown name, listing the valid ones.
    """
    if not isinstance(codec, str):
        return codec
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; valid codecs: {sorted(CODECS)}")
    return CODECS[codec]()
