"""The image codec: square two-phase images as flat 0/1 rows (microstructures).

An image of side ``S`` travels as a row of ``n_var = S * S`` floats, row-major (axis 0 =
y, the rows of the image; axis 1 = x, its columns), 1 = filler (phase 1), 0 = matrix
(phase 0); the side is the square root of ``n_var``, so a model needs no more than its
vector length and its codec's name. Everything a generative model assumes about such rows
is here:

* the data check (values exactly 0 or 1; `(n, S, S)` stacks are flattened);
* the networks (:mod:`operators.conv`: strided convolutions to the latent, transposed
  convolutions back), with the channel widths as the VAE's ``hidden``;
* the output head, :class:`BernoulliHead`: one logit per pixel, trained with binary
  cross-entropy summed over the pixels (the negative log-likelihood of independent
  Bernoulli pixels, so the KL weight ``beta`` = 1 is the plain ELBO); hard decoding
  thresholds the probability at 0.5, soft decoding returns it;
* what "a decoding reproduces an image" means: the share of pixels that differ is at most
  the tolerance (``refine_tol`` of a :class:`~operators.vaegan.VAEGAN`; the codec's default
  0.01 allows 41 of 4,096 pixels at 64x64 -- about one pixel per boundary run, the jitter a
  decoder shows along the interfaces -- and 2 of 256 at 16x16);
* training defaults sized for a CPU (:attr:`ImageCodec.fit_defaults`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from operators.codecs.simplex_heads import Head
from operators.conv import conv_decoder, conv_encoder
from operators.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["BernoulliHead", "ImageCodec", "image_side"]


def image_side(n_var: int) -> int:
    """The side of a square image of ``n_var`` pixels.

    Raises:
        DataError: ``n_var`` is not a square number.
    """
    side = math.isqrt(int(n_var))
    if side * side != n_var or side < 2:
        raise DataError(
            f"image rows must hold a square image (n_var = side * side, side >= 2), got "
            f"n_var = {n_var}: pass (n, H*W) rows of square images or an (n, H, W) stack"
        )
    return side


class BernoulliHead(Head):
    """Independent Bernoulli pixels: decoder output `(n, n_var)` logits -> `(n, n_var)` images.

    Args:
        n_var: pixels per image.
    """

    name = "bernoulli"

    @property
    def n_params(self) -> int:
        return self.n_var

    def loss(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy summed over the pixels, `(n, n_var)` x2 -> `(n,)`."""
        return F.binary_cross_entropy_with_logits(params, x, reduction="none").sum(dim=-1)

    def decode(self, params: torch.Tensor, hard: bool = True) -> torch.Tensor:
        """0/1 pixels (probability > 0.5, i.e. logit > 0) or, ``hard=False``, probabilities."""
        if hard:
            return (params > 0).to(params.dtype)
        return torch.sigmoid(params)


class ImageCodec:
    """Square 0/1 images as row-major rows (see the module docstring)."""

    name = "image"
    default_head = "bernoulli"
    #: channels of the stride-2 convolutions (the VAE's ``hidden``)
    default_hidden = (16, 32, 64)
    #: share of pixels a matching decoding may get wrong
    default_refine_tol = 0.01
    #: no refinement by default: 10 steps raised held-out pixel accuracy only 87.0 % ->
    #: 88.2 % (64x64 noise images, 5,000, 6 epochs) for 17x the encoding time (0.44 s ->
    #: 7.6 s per 1,000 images, one thread), since almost no image matches within 1 % and
    #: every one then takes all the steps
    default_refine_steps = 0
    #: :func:`~operators.training.fit_vae`'s settings for images, where the caller gives
    #: none. Measured on 20,000 64x64 thresholded Gaussian-noise images (18,000 trained,
    #: one torch thread, 2 shared cores; tests/operators/image_benchmark.py): 19-24 s per
    #: epoch, the VAE in 4-5.5 min, held-out pixel accuracy 87.5 % (flat from epoch ~5:
    #: the latent size, not the epochs, limits it; latent 32: 81 %, 128: 91 % on 5,000
    #: images). beta 1 (the plain ELBO) and 0.1 reconstruct equally well.
    fit_defaults: dict[str, Any] = {
        "latent_dim": 64,
        "hidden": (16, 32, 64),
        "beta": 1.0,
        "warmup_epochs": 2,
        "learning_rate": 2e-3,
        "batch_size": 64,
        "max_epochs": 12,
        "patience": 3,
        "lr_patience": 1,
        "sharpen_epochs": 2,
    }
    #: :func:`~operators.training.fit_latent_gan`'s settings where the caller gives none:
    #: on the 64-d codes of the model above the Frechet distance to held-out codes was
    #: still falling at 2,000 steps (15.6; floor 0.68), 2.4 at 6,000 (115 s, one thread).
    #: The pixel-level realism of the decoded samples did not change with it (filler
    #: fraction 0.407 -> 0.404 vs 0.426 in the data; largest S2(r) gap 0.020 -> 0.023):
    #: the decoder's 0.5 threshold, which loses filler at uncertain boundary pixels,
    #: dominates that.
    gan_fit_defaults: dict[str, Any] = {"n_steps": 6000}

    def __repr__(self) -> str:
        return "ImageCodec()"

    def check(self, X: ArrayLike, name: str = "X", renormalize: bool = True) -> NDArray[np.float64]:
        """Valid images as `(n, H*W)` float64 rows of 0/1, else a :class:`DataError`.

        Args:
            X: `(n, H*W)` row-major rows of square images, or an `(n, H, W)` stack with
                ``H == W``; every value 0 or 1 (1 = filler).
            name: how the array is called in error messages.
            renormalize: unused (images are returned bit for bit); kept for the codec
                protocol.

        Raises:
            DataError: a wrong shape, or the first pixel that is not 0 or 1, by row, y, x.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 3:
            if X.shape[1] != X.shape[2]:
                raise DataError(
                    f"{name} must hold square images, got an (n, H, W) stack of shape {X.shape}"
                )
            X = X.reshape(len(X), -1)
        if X.ndim != 2 or X.shape[0] == 0:
            raise DataError(
                f"{name} must be a non-empty (n, H*W) array of rows or an (n, H, W) stack of "
                f"images, got shape {X.shape}"
            )
        side = image_side(X.shape[1])
        bad = (X != 0) & (X != 1)  # NaN is caught here too
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"{name} has the value {X[row, col]} at row {row}, pixel (y={col // side}, "
                f"x={col % side}); images must be 0/1 (1 = filler, 0 = matrix): threshold "
                "or segment them first"
            )
        return X

    def n_features(self, n_var: int) -> int:
        return int(n_var)

    @staticmethod
    def features(x: torch.Tensor) -> torch.Tensor:
        """Encoder input: the image itself, `(n, n_var)` (the encoder reshapes it)."""
        return x

    def networks(
        self, n_var: int, latent_dim: int, hidden: tuple[int, ...], n_params: int,
        generator: torch.Generator,
    ) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Encoder `(n, n_var)` -> `(n, 2 * latent_dim)` and decoder `(n, latent_dim)` ->
        `(n, n_params)`, convolutional (:mod:`operators.conv`); ``hidden``: channels."""
        side = image_side(n_var)
        if n_params != n_var:
            raise ValueError(
                f"an image decoder outputs one logit per pixel ({n_var}), not {n_params}"
            )
        if not hidden:
            raise ValueError(
                "hidden (the channels of the convolutions) must not be empty, e.g. (16, 32, 64)"
            )
        encoder = conv_encoder(side, hidden, 2 * latent_dim, generator)
        decoder = conv_decoder(side, hidden, latent_dim, generator)
        return encoder, decoder

    def make_head(self, head: str | Head | dict[str, Any], n_var: int) -> Head:
        """The :class:`BernoulliHead` from its name, config dict or instance."""
        if isinstance(head, Head):
            if not isinstance(head, BernoulliHead) or head.n_var != n_var:
                raise ValueError(
                    f"the image codec needs a BernoulliHead for n_var={n_var}, got {head!r}"
                )
            return head
        name = head.get("name") if isinstance(head, dict) else head
        if name != BernoulliHead.name:
            raise ValueError(f"unknown head {name!r} for images; choose 'bernoulli'")
        return BernoulliHead(n_var)

    def fit_head(self, head: Head, X: NDArray[np.float64]) -> None:
        """Nothing to fit: the Bernoulli head has no data-dependent settings."""

    def finish(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Decoded rows as they are (0/1 from a hard decoding, probabilities otherwise)."""
        return rows

    def matches(self, rec: torch.Tensor, x: torch.Tensor, tol: float) -> torch.Tensor:
        """`(n,)`: at most a share ``tol`` of the pixels of ``rec`` differ from ``x``."""
        return self.pixel_accuracy(rec, x) >= 1.0 - tol

    @staticmethod
    def pixel_accuracy(rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`(n,)` share of pixels of `(n, n_var)` ``rec`` on the same side of 0.5 as ``x``."""
        return ((rec > 0.5) == (x > 0.5)).to(torch.float64).mean(dim=1)

    def scores(self, rec: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
        """Reconstruction scores of hard-decoded `(n, n_var)` ``rec`` against ``x``:
        ``pixel_accuracy`` (mean share of right pixels) and ``match`` (share of images
        within :attr:`default_refine_tol`)."""
        acc = self.pixel_accuracy(rec, x)
        return {
            "pixel_accuracy": acc.mean().item(),
            "match": (acc >= 1.0 - self.default_refine_tol).double().mean().item(),
        }
