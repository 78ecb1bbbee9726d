"""The trained bundle the operators use: a VAE, optionally a latent GAN, numpy in and out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from operators.exceptions import DataError, OperatorsError
from operators.vectors import check_shape

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from operators.gan import LatentGAN
    from operators.vae import VAE

__all__ = ["GenerativeModel"]

SOURCES = ("gan", "vae")


class GenerativeModel:
    """A VAE (encoder + sharp decoder) and an optional latent GAN, in inference mode.

    Every method is batched: one network call for the whole input. Arrays cross this
    boundary as numpy: vectors as float64 (so that decoded rows sum to 1 to machine
    precision), latents as float64 too (the interpolation arithmetic is done in numpy).

    Args:
        vae: the trained VAE.
        gan: the trained latent GAN, or ``None`` (then only ``source="vae"`` sampling).
        metadata: facts the model depends on, saved with it (vocabulary, data hash, ...).
        info: training settings and results, saved with it.

    Attributes:
        path: the JSON sidecar this model was saved to or loaded from (``None`` before).
        sha256: hash of its tensor file (``None`` before saving); operators pickle these two
            instead of the weights.
    """

    def __init__(
        self,
        vae: VAE,
        gan: LatentGAN | None = None,
        metadata: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        if gan is not None and gan.latent_dim != vae.latent_dim:
            raise ValueError(f"GAN latent_dim {gan.latent_dim} != VAE latent_dim {vae.latent_dim}")
        self.vae = vae.eval()
        self.gan = gan.eval() if gan is not None else None
        self.metadata = dict(metadata or {})
        self.info = dict(info or {})
        self.path: Path | None = None
        self.sha256: str | None = None

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"GenerativeModel(n_var={self.n_var}, latent_dim={self.latent_dim}, "
            f"gan={self.gan is not None}{where})"
        )

    @property
    def n_var(self) -> int:
        return self.vae.n_var

    @property
    def latent_dim(self) -> int:
        return self.vae.latent_dim

    def encode(self, X: ArrayLike) -> NDArray[np.float64]:
        """Posterior means, `(n, n_var)` -> `(n, latent_dim)`."""
        X = check_shape(X, self.n_var)
        with torch.inference_mode():
            mu, _ = self.vae.encode(torch.as_tensor(X, dtype=torch.float32))
        return mu.double().numpy()

    def decode(self, Z: ArrayLike, hard: bool = True) -> NDArray[np.float64]:
        """Simplex rows, `(n, latent_dim)` -> `(n, n_var)` float64 summing to 1.

        Args:
            Z: latent points.
            hard: sparse decoding (exact zeros off the decided support); see the head.
        """
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise DataError(f"latent points must have shape (n, {self.latent_dim}), got {Z.shape}")
        with torch.inference_mode():
            params = self.vae.decode(torch.as_tensor(Z, dtype=torch.float32))
            rows = self.vae.head.decode(params, hard=hard).double().numpy()
        # float32 softmax sums to 1 only within ~1e-7; renormalise in float64
        return rows / rows.sum(axis=1, keepdims=True)

    def reconstruct(self, X: ArrayLike, hard: bool = True) -> NDArray[np.float64]:
        """Decode the posterior means of ``X``, `(n, n_var)` -> `(n, n_var)`."""
        return self.decode(self.encode(X), hard=hard)

    def sample_latent(self, n: int, source: str, generator: torch.Generator) -> NDArray[np.float64]:
        """`(n, latent_dim)` latent points from the GAN or the VAE prior N(0, I)."""
        if source == "gan":
            if self.gan is None:
                raise OperatorsError(
                    "this model has no latent GAN: train one (fit_latent_gan) or use source='vae'"
                )
            with torch.inference_mode():
                return self.gan.sample(n, generator).double().numpy()
        if source == "vae":
            return torch.randn(n, self.latent_dim, generator=generator).double().numpy()
        raise ValueError(f"unknown latent source {source!r}; choose one of {SOURCES}")

    def sample(
        self, n: int, source: str, generator: torch.Generator, hard: bool = True
    ) -> NDArray[np.float64]:
        """`(n, n_var)` decoded samples from the GAN or the VAE prior."""
        return self.decode(self.sample_latent(n, source, generator), hard=hard)
