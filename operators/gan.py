"""A Wasserstein GAN with gradient penalty in the VAE's latent space.

Why a *latent* GAN (after "Adversarially regularized autoencoders", Zhao et al., ICML 2018,
and the latent-GAN of Achlioptas et al., ICML 2018): the vectors are sparse points on a
simplex, and a GAN that must emit them directly has to learn exact zeros and a discrete
support through a critic's gradient -- unstable and slow. The VAE already maps the data to
a smooth 16-dimensional space and back with a decoder that is sharp on the support. A GAN on
the latent means of the training data is two small MLPs, trains in seconds on a CPU, and
its samples decode through that decoder, so they inherit the VAE's sparsity and realism;
it also samples the *aggregate* posterior (where the data actually lie in latent space),
which the N(0, I) prior only approximates -- prior samples fall into holes between
clusters and decode to less realistic vectors.

WGAN-GP (Gulrajani et al., NeurIPS 2017) is used because its critic loss is a meaningful
training signal and it does not need the balancing tricks of the original GAN loss.
"""

from __future__ import annotations

from typing import Any

import torch

from operators.mlp import mlp

__all__ = ["LatentGAN"]


class LatentGAN(torch.nn.Module):
    """Generator ``noise -> z`` and critic ``z -> score`` over standardised latent codes.

    The networks work on latents standardised with the training latents' mean and std
    (buffers ``z_mean`` and ``z_scale``); :meth:`sample` returns unstandardised latents
    ready for the VAE decoder.

    Args:
        latent_dim: dimension of the VAE latent space.
        noise_dim: dimension of the generator's Gaussian input.
        hidden: hidden widths of both networks.
        generator: source of the initial weights (``None``: a fixed seed).
    """

    def __init__(
        self,
        latent_dim: int,
        noise_dim: int = 16,
        hidden: tuple[int, ...] = (128, 128),
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.noise_dim = int(noise_dim)
        self.hidden = tuple(int(h) for h in hidden)
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        self.generator_net = mlp((self.noise_dim, *self.hidden, self.latent_dim), generator)
        self.critic = mlp((self.latent_dim, *self.hidden, 1), generator, torch.nn.LeakyReLU)
        self.register_buffer("z_mean", torch.zeros(self.latent_dim))
        self.register_buffer("z_scale", torch.ones(self.latent_dim))

    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """Standardised latents from noise, `(n, noise_dim)` -> `(n, latent_dim)`."""
        return self.generator_net(noise)

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`(n, noise_dim)` standard normal generator input, drawn from ``generator``."""
        return torch.randn(n, self.noise_dim, generator=generator)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`(n, latent_dim)` latent codes in the VAE's units, noise drawn from ``generator``."""
        return self.generate(self.noise(n, generator)) * self.z_scale + self.z_mean

    def config(self) -> dict[str, Any]:
        """Constructor arguments as JSON."""
        return {
            "latent_dim": self.latent_dim,
            "noise_dim": self.noise_dim,
            "hidden": list(self.hidden),
        }
