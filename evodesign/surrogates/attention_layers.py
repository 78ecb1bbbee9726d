"""The attention network's torch modules (issue 16.2), used by
:class:`~evodesign.surrogates.attention.AttentionEnsembleRegressor`.

A member maps a composition's element tokens to a mean and a variance per target: element
vectors from a pretrained table, projected, plus CrabNet's fractional-amount encoding, a few
pre-LayerNorm transformer blocks (:func:`_encoder_block`), a fraction-weighted mean and a
small head. Dropout masks are drawn from a caller's ``torch.Generator``, never the global RNG.
"""

from __future__ import annotations

import math
from typing import Any

import torch

#: resolution of CrabNet's fractional encoding (fractions below 1/resolution read as 1/resolution)
_RESOLUTION = 5000


def _sinusoid(x: torch.Tensor, dim: int) -> torch.Tensor:
    """CrabNet's encoding of values in [0, 1]: `(B, K)` -> `(B, K, dim)` sines and cosines."""
    x = x.clamp(min=1.0 / _RESOLUTION) * _RESOLUTION
    freq = 50.0 ** (-torch.arange(0, dim, 2, dtype=torch.float32, device=x.device) / dim)
    angle = x[..., None] * freq
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)[..., :dim]


def _dropout(x: torch.Tensor, rate: float, generator: torch.Generator | None) -> torch.Tensor:
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= rate
    return x * keep / (1.0 - rate)


def _encoder_block(layer: torch.nn.TransformerEncoderLayer, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """``layer(x, src_key_padding_mask=pad)`` for a pre-LayerNorm GELU layer without dropout, written out.

    The same parameters and the same map as torch's layer (to float rounding), computed with
    plain tensor operations: for a composition's few tokens (K <= ~8) the attention as two
    einsums is cheaper on a CPU than torch's fused attention kernel, which is built for long
    sequences (about a quarter less time per training step, forward and backward).

    Args:
        layer: a ``TransformerEncoderLayer(..., dropout=0, activation="gelu", batch_first=True,
            norm_first=True)``.
        x: `(B, K, d)` tokens.
        pad: `(B, K)` True where a token is padding (no row is all padding).

    Returns:
        `(B, K, d)`.
    """
    b, k, d = x.shape
    attn = layer.self_attn
    heads = attn.num_heads
    h = torch.nn.functional.layer_norm(x, (d,), layer.norm1.weight, layer.norm1.bias, layer.norm1.eps)
    q, key, v = torch.nn.functional.linear(h, attn.in_proj_weight, attn.in_proj_bias).view(
        b, k, 3, heads, d // heads).unbind(2)
    scores = torch.einsum("bqhe,bkhe->bhqk", q, key) / math.sqrt(d // heads)
    weights = scores.masked_fill(pad[:, None, None, :], float("-inf")).softmax(-1)
    out = torch.einsum("bhqk,bkhe->bqhe", weights, v).reshape(b, k, d)
    x = x + torch.nn.functional.linear(out, attn.out_proj.weight, attn.out_proj.bias)
    h = torch.nn.functional.layer_norm(x, (d,), layer.norm2.weight, layer.norm2.bias, layer.norm2.eps)
    h = torch.nn.functional.gelu(torch.nn.functional.linear(h, layer.linear1.weight, layer.linear1.bias))
    return x + torch.nn.functional.linear(h, layer.linear2.weight, layer.linear2.bias)


class _Member(torch.nn.Module):
    """One attention network: tokens `(B, K)` (vocabulary indices, fractions, mask) -> `(B, 2 t)`."""

    def __init__(
        self, table: torch.Tensor, missing: torch.Tensor, d_model: int, n_layers: int, n_heads: int,
        n_targets: int, generator: torch.Generator | None, n_descriptors: int = 0,
    ) -> None:
        super().__init__()
        v, d_emb = table.shape
        n_missing = int(missing.sum())
        # the pretrained rows first, then one learned row per missing element
        remap = torch.empty(v, dtype=torch.long)
        remap[~missing] = torch.arange(v - n_missing)
        remap[missing] = torch.arange(v - n_missing, v)
        self.register_buffer("remap", remap, persistent=False)
        self.register_buffer("pretrained", table[~missing].clone(), persistent=False)
        self.learned = torch.nn.Parameter(torch.randn(n_missing, d_emb, generator=generator) / math.sqrt(d_emb))
        self.project = torch.nn.Linear(d_emb, d_model)
        self.frac_scale = torch.nn.Parameter(torch.ones(2))  # linear- and log-scale encodings
        self.blocks = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0,
                                             activation="gelu", batch_first=True, norm_first=True)
            for _ in range(n_layers)
        )
        self.norm = torch.nn.LayerNorm(d_model)
        # optional composition descriptors (standardised), mapped to d_model and read by the head
        # beside the pooled tokens
        self.describe = torch.nn.Linear(n_descriptors, d_model) if n_descriptors else None
        width = 2 * d_model if n_descriptors else d_model
        self.head = torch.nn.Sequential(
            torch.nn.Linear(width, d_model), torch.nn.SiLU(), torch.nn.Linear(d_model, 2 * n_targets)
        )
        # torch initialises from the global RNG; redraw every weight from the local generator
        for name, p in self.named_parameters():
            if name in ("learned", "frac_scale") or "norm" in name:
                continue
            with torch.no_grad():
                if p.dim() >= 2:
                    bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
                    p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
                else:
                    p.zero_()

    def forward(
        self, idx: torch.Tensor, frac: torch.Tensor, mask: torch.Tensor, desc: torch.Tensor | None = None,
        dropout: float = 0.0, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`(B, K)` long, float, bool (and `(B, n_descriptors)` descriptors if the member reads
        them) -> `(B, 2 t)` means then raw variances."""
        # project the V table rows once, then gather (the same map as projecting each token)
        x = self.project(torch.cat([self.pretrained, self.learned]))[self.remap[idx]]
        half = x.shape[-1] // 2
        log_frac = (0.0025 * torch.log2(frac.clamp(min=1e-12)) ** 2).clamp(max=1.0)
        enc = torch.cat([self.frac_scale[0] * _sinusoid(frac, half),
                         self.frac_scale[1] * _sinusoid(log_frac, x.shape[-1] - half)], dim=-1)
        x = x + enc
        drop = self.training and dropout > 0
        for block in self.blocks:
            if drop:
                x = _dropout(x, dropout, generator)
            x = _encoder_block(block, x, ~mask)
        w = torch.where(mask, frac, torch.zeros_like(frac))
        pooled = (self.norm(x) * (w / w.sum(1, keepdim=True))[..., None]).sum(1)
        if self.describe is not None:
            pooled = torch.cat([pooled, torch.nn.functional.silu(self.describe(desc))], dim=-1)
        if drop:
            pooled = _dropout(pooled, dropout, generator)
        return self.head(pooled)


class _Ensemble(torch.nn.Module):
    """The members and the pretrained table they share (saved once, with the weights)."""

    def __init__(self, table: torch.Tensor, missing: torch.Tensor, n_members: int, d_model: int, n_layers: int,
                 n_heads: int, n_targets: int, generator: torch.Generator | None = None,
                 n_descriptors: int = 0) -> None:
        super().__init__()
        self.register_buffer("table", table)
        self.register_buffer("missing", missing)
        self.members = torch.nn.ModuleList(
            _Member(table, missing, d_model, n_layers, n_heads, n_targets, generator, n_descriptors)
            for _ in range(n_members)
        )

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> Any:
        out = super().load_state_dict(state, strict)
        for member in self.members:  # the members' copies follow the saved table
            member.pretrained = self.table[~self.missing].clone()
        return out
