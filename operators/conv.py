"""The convolutional encoder and decoder of image VAEs (the image codec's networks).

Both take and give flat rows, so that the VAE, the refinement and the operators handle
images exactly like any other vectors: the encoder maps `(n, H*W)` row-major images to
`(n, n_out)`, the decoder maps `(n, n_in)` latent points to `(n, H*W)` per-pixel logits.

Shape: a few stride-2 4x4 convolutions (each halves the side, SiLU between them) and a
linear layer to the latent parameters; the decoder mirrors it with a linear layer and
stride-2 4x4 transposed convolutions (kernel divisible by the stride: no checkerboard from
uneven overlap), the last of which outputs one logit per pixel. On a CPU the layers at
full resolution are what costs: measured at 64x64, batch 64, one thread, forward +
backward, a transposed convolution 16 -> 16 channels to 64x64 took ~100 ms and a 3x3
convolution 16 -> 1 after it or after nearest upsampling another ~20-100 ms, while the
transposed convolution 16 -> 1 used here takes ~20 ms; the whole network ~60 ms. Sides
that are not a multiple of ``2 ** len(channels)`` work too: the encoder's sizes are
recorded and each transposed convolution gets the ``output_padding`` (0 or 1) that
restores them exactly.

No normalisation layers: batch statistics would make a decoded image depend on what else
is in the batch, and the operators decode populations of any size, one row at a time or
all at once, and must get the same image either way.
"""

from __future__ import annotations

import math

import torch

__all__ = ["conv_decoder", "conv_encoder", "encoder_sizes"]


def _layer(cls: type[torch.nn.Module], *args: int, **kwargs: int) -> torch.nn.Module:
    """``cls(*args, **kwargs)`` created uninitialised: its default initialisation would draw
    from torch's global RNG (:func:`_init_uniform` then draws from a generator)."""
    return torch.nn.utils.skip_init(cls, *args, **kwargs)


def _init_uniform(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Draw every weight and bias of ``module``'s layers U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    from ``generator``: torch's default scale, without its global RNG. ``weight[0]`` holds
    one output's inputs for Linear and Conv2d and one input's outputs for ConvTranspose2d,
    which is the fan_in torch itself uses for each."""
    for layer in module.modules():
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            bound = 1.0 / math.sqrt(layer.weight[0].numel())
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)


def encoder_sizes(side: int, n_stages: int) -> list[int]:
    """Sides of the feature maps, `[side, side // 2, ...]` (``n_stages + 1`` entries).

    Raises:
        ValueError: the image is too small for that many halvings.
    """
    sizes = [int(side)]
    for _ in range(n_stages):
        sizes.append(sizes[-1] // 2)
    if sizes[-1] < 1:
        raise ValueError(
            f"images of side {side} are too small for {n_stages} stride-2 convolutions "
            f"(channels has {n_stages} entries): use at most {int(math.log2(max(side, 1)))}"
        )
    return sizes


def conv_encoder(
    side: int, channels: tuple[int, ...], n_out: int, generator: torch.Generator
) -> torch.nn.Sequential:
    """Strided convolutions then a linear layer: `(n, side*side)` -> `(n, n_out)`.

    Args:
        side: image side (images are square, rows are row-major).
        channels: output channels of each stride-2 convolution, e.g. `(16, 32, 64)`.
        n_out: output width (2 * latent_dim for a Gaussian posterior).
        generator: source of the initial weights.
    """
    sizes = encoder_sizes(side, len(channels))
    layers: list[torch.nn.Module] = [torch.nn.Unflatten(1, (1, side, side))]
    for c_in, c_out in zip((1, *channels[:-1]), channels):
        layers += [_layer(torch.nn.Conv2d, c_in, c_out, 4, stride=2, padding=1), torch.nn.SiLU()]
    layers += [torch.nn.Flatten(1), _layer(torch.nn.Linear, channels[-1] * sizes[-1] ** 2, n_out)]
    net = torch.nn.Sequential(*layers)
    _init_uniform(net, generator)
    return net


def conv_decoder(
    side: int, channels: tuple[int, ...], n_in: int, generator: torch.Generator
) -> torch.nn.Sequential:
    """The encoder's mirror: `(n, n_in)` -> `(n, side*side)` per-pixel logits.

    Args:
        side: image side.
        channels: the encoder's channels (used reversed).
        n_in: input width (latent_dim).
        generator: source of the initial weights.
    """
    sizes = encoder_sizes(side, len(channels))
    rev = channels[::-1]
    layers: list[torch.nn.Module] = [
        _layer(torch.nn.Linear, n_in, rev[0] * sizes[-1] ** 2),
        torch.nn.SiLU(),
        torch.nn.Unflatten(1, (rev[0], sizes[-1], sizes[-1])),
    ]
    for i, (c_in, c_out) in enumerate(zip(rev, (*rev[1:], 1))):
        target = sizes[-2 - i]
        pad = target - 2 * sizes[-1 - i]  # 1 where the encoder floored an odd side
        layers.append(_layer(
            torch.nn.ConvTranspose2d, c_in, c_out, 4, stride=2, padding=1, output_padding=pad
        ))
        if c_out != 1:
            layers.append(torch.nn.SiLU())
    layers.append(torch.nn.Flatten(1))
    net = torch.nn.Sequential(*layers)
    _init_uniform(net, generator)
    return net
