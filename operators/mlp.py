"""The multilayer perceptron that the VAE and the latent GAN are built from."""

from __future__ import annotations

import math

import torch

__all__ = ["mlp"]


def mlp(
    sizes: tuple[int, ...] | list[int],
    generator: torch.Generator | None = None,
    activation: type[torch.nn.Module] = torch.nn.SiLU,
) -> torch.nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the last).

    Weights and biases are drawn U(-1/sqrt(fan_in), 1/sqrt(fan_in)) -- torch's default scale --
    from ``generator``; the layers are created uninitialised first so that construction never
    draws from torch's global RNG.

    Args:
        sizes: `(n_in, hidden..., n_out)` widths.
        generator: source of the initial weights; ``None`` means a fixed seed (0), which suits
            modules about to be overwritten by saved weights.
        activation: the non-linearity class.

    Returns:
        The network, mapping `(batch, n_in)` to `(batch, n_out)`.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    layers: list[torch.nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = torch.nn.utils.skip_init(torch.nn.Linear, fan_in, fan_out)
        bound = 1.0 / math.sqrt(fan_in)
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers)
