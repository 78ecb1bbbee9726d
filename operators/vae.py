"""A variational autoencoder over vectors of one kind of data (Kingma & Welling, ICLR 2014).

What is specific to the kind of data -- the encoder's input features, the networks' shape
and the output head -- comes from a codec (:mod:`operators.codecs`): MLPs and a sparse
simplex head for fraction rows, convolutions (:mod:`operators.conv`) and a per-pixel
Bernoulli head for images. For fraction rows the encoder sees the vector and its presence
mask (``x > 0``) -- the mask makes "which components" as visible to the first layer as
"how much", which matters for small fractions -- and outputs a diagonal Gaussian; the
decoder maps a latent point to the parameters of an output head, by default the simplex
codec's :class:`~operators.codecs.simplex_heads.SparseSimplexHead`, whose hard decoding
gives sparse rows with exact zeros.

The KL term is weighted by ``beta`` (Higgins et al., ICLR 2017) with a linear warm-up from 0
(Bowman et al., CoNLL 2016; done by :func:`operators.training.fit_vae`): a small ``beta``
keeps reconstructions exact, the KL term keeps the latent space smooth and close to N(0, I)
so that interpolations and GAN samples decode to realistic vectors.
"""

from __future__ import annotations

from typing import Any

import torch

from operators.codecs import Codec, make_codec

__all__ = ["VAE"]

_LOGVAR_RANGE = (-12.0, 6.0)


class VAE(torch.nn.Module):
    """Gaussian-latent VAE with a pluggable output head.

    Args:
        n_var: vector length.
        latent_dim: dimension of the latent space.
        hidden: the networks' widths, as the codec reads them (``None``: the codec's
            ``default_hidden``): the encoder MLP's hidden widths for fraction rows (the
            decoder's reversed), the channels of the stride-2 convolutions for images.
        head: output head name, config dict or instance (``None``: the codec's default;
            for the simplex codec ``"sparse_simplex"`` or ``"simplex"``).
        generator: source of the initial weights (``None``: a fixed seed).
        codec: the data kind's codec or its name (default ``"simplex"``; model files saved
            before codecs existed are simplex models).
    """

    def __init__(
        self,
        n_var: int,
        latent_dim: int = 16,
        hidden: tuple[int, ...] | None = None,
        head: Any = None,
        generator: torch.Generator | None = None,
        codec: str | Codec = "simplex",
    ) -> None:
        super().__init__()
        self.codec = make_codec(codec)
        self.n_var = int(n_var)
        self.latent_dim = int(latent_dim)
        hidden = self.codec.default_hidden if hidden is None else hidden
        self.hidden = tuple(int(h) for h in hidden)
        self.head = self.codec.make_head(self.codec.default_head if head is None else head, self.n_var)
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.encoder, self.decoder = self.codec.networks(
            self.n_var, self.latent_dim, self.hidden, self.head.n_params, generator
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, `(n, n_var)` -> two `(n, latent_dim)` tensors."""
        out = self.encoder(self.features(x))
        mu, logvar = out.chunk(2, dim=-1)
        return mu, logvar.clamp(*_LOGVAR_RANGE)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder input, `(n, n_var)` -> `(n, n_features)`: the codec's features."""
        return self.codec.features(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Head parameters, `(n, latent_dim)` -> `(n, head.n_params)`."""
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor, hard: bool = True) -> torch.Tensor:
        """Decode the posterior mean, `(n, n_var)` -> `(n, n_var)` rows."""
        mu, _ = self.encode(x)
        return self.head.decode(self.decode(mu), hard=hard)

    def sample(self, n: int, generator: torch.Generator, hard: bool = True) -> torch.Tensor:
        """Decode `n` draws from the prior N(0, I) into `(n, n_var)` rows."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.head.decode(self.decode(z), hard=hard)

    def loss(
        self, x: torch.Tensor, beta: float, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Negative beta-ELBO for a batch, from one reparameterised latent draw per row.

        Args:
            x: a `(n, n_var)` batch of rows.
            beta: weight of the KL term.
            generator: source of the reparameterisation noise.

        Returns:
            (total, reconstruction, kl), each a scalar mean over the batch.
        """
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        recon = self.head.loss(self.decode(z), x).mean()
        kl = self.kl(mu, logvar).mean()
        return recon + beta * kl, recon, kl

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) per row, `(n, latent_dim)` x2 -> `(n,)`."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)

    def config(self) -> dict[str, Any]:
        """Constructor arguments as JSON (what a model file needs to rebuild the module)."""
        return {
            "n_var": self.n_var,
            "latent_dim": self.latent_dim,
            "hidden": list(self.hidden),
            "head": self.head.config(),
            "codec": self.codec.name,
        }
