"""The simplex codec: non-negative, sparse rows that sum to one (compositions as fractions).

Everything a generative model assumes about fraction vectors is here: the data check
(:func:`~operators.vectors.check_simplex`), the encoder's log-ratio features, the output
heads (:mod:`operators.codecs.simplex_heads`) and their support bounds, the float64
renormalisation of decoded rows, and what "a decoding reproduces a row" means (same
support, every fraction within a tolerance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from operators.codecs.simplex_heads import Head
from operators.codecs.simplex_heads import make_head as _make_head
from operators.mlp import mlp
from operators.vectors import check_simplex

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["MATCH_TOLERANCE", "SHARPEN_EPOCHS", "SimplexCodec"]

#: a decoded row "matches" in the training scores when its support is right and every
#: fraction is this close
MATCH_TOLERANCE = 0.01

#: epochs of the VAE's decoder-sharpening phase (60 and 100 measured equal on the
#: transport compositions); campaigns cap it at their own ``max_epochs``
SHARPEN_EPOCHS = 60


class SimplexCodec:
    """Fraction rows: non-negative, summing to 1, mostly zeros (see the module docstring)."""

    name = "simplex"
    default_head = "sparse_simplex"
    #: hidden widths of the encoder MLP (the decoder's reversed)
    default_hidden = (256, 256)
    #: every fraction of a matching decoding is within this of the row
    default_refine_tol = 0.005
    #: refinement steps of a trained model's encoder (held-out transport formulas
    #: reconstructed 76 % -> 97 %)
    default_refine_steps = 10
    #: :func:`~operators.training.fit_vae`'s settings where the caller gives none; measured
    #: on the transport compositions (see fit_vae's docstring)
    fit_defaults: dict[str, Any] = {
        "latent_dim": 32,
        "hidden": (256, 256),
        "beta": 0.001,
        "warmup_epochs": 10,
        "learning_rate": 3e-3,
        "batch_size": 128,
        "max_epochs": 150,
        "patience": 30,
        "lr_patience": 8,
        "sharpen_epochs": SHARPEN_EPOCHS,
    }
    #: :func:`~operators.training.fit_latent_gan`'s settings where the caller gives none
    gan_fit_defaults: dict[str, Any] = {"n_steps": 2000}

    def __repr__(self) -> str:
        return "SimplexCodec()"

    def check(self, X: ArrayLike, name: str = "X", renormalize: bool = True) -> NDArray[np.float64]:
        """See :func:`~operators.vectors.check_simplex`."""
        return check_simplex(X, name, renormalize=renormalize)

    def n_features(self, n_var: int) -> int:
        return 3 * int(n_var)

    @staticmethod
    def features(x: torch.Tensor) -> torch.Tensor:
        """Encoder input, `(n, n_var)` -> `(n, 3 * n_var)`: fractions, presence mask and the
        centred log-ratios of the present fractions (0 elsewhere), which resolve small
        fractions and ratios that the raw fractions squeeze near 0."""
        present = x > 0
        m = present.to(x.dtype)
        log_x = torch.log(torch.where(present, x, torch.ones_like(x)))
        mean_log = log_x.sum(dim=-1, keepdim=True) / m.sum(dim=-1, keepdim=True).clamp(min=1)
        clr = (log_x - mean_log) * m
        return torch.cat([x, m, clr], dim=-1)

    def networks(
        self, n_var: int, latent_dim: int, hidden: tuple[int, ...], n_params: int,
        generator: torch.Generator,
    ) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Encoder `(n, n_var)` -> `(n, 2 * latent_dim)` (on the features) and decoder
        `(n, latent_dim)` -> `(n, n_params)`: MLPs, the decoder's widths reversed; the
        encoder's weights are drawn first (the order model files were trained with)."""
        encoder = mlp((self.n_features(n_var), *hidden, 2 * latent_dim), generator)
        decoder = mlp((latent_dim, *hidden[::-1], n_params), generator)
        return encoder, decoder

    def make_head(self, head: str | Head | dict[str, Any], n_var: int) -> Head:
        """See :func:`~operators.codecs.simplex_heads.make_head`."""
        return _make_head(head, n_var)

    def fit_head(self, head: Head, X: NDArray[np.float64]) -> None:
        """Unset support bounds of a sparse head become the range of support sizes in
        `(n, n_var)` ``X`` (see :class:`~operators.codecs.simplex_heads.SparseSimplexHead`)."""
        nnz = (np.asarray(X) > 0).sum(axis=1)
        if getattr(head, "min_support", 0) is None:
            head.min_support = int(nnz.min())
        if getattr(head, "max_support", 0) is None:
            head.max_support = int(nnz.max())

    def finish(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Rows divided by their float64 sums: a float32 softmax sums to 1 only within ~1e-7."""
        return rows / rows.sum(axis=1, keepdims=True)

    def matches(self, rec: torch.Tensor, x: torch.Tensor, tol: float) -> torch.Tensor:
        """`(n,)`: ``rec`` has the support of ``x`` and every fraction within ``tol``."""
        support = ((rec > 0) == (x > 0)).all(dim=1)
        return support & ((rec - x).abs().amax(dim=1) <= tol)

    def scores(self, rec: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
        """Reconstruction scores of hard-decoded `(n, n_var)` ``rec`` against ``x``: the
        share of rows with the right support (``support``), and of those that also have
        every fraction within :data:`MATCH_TOLERANCE` (``match``)."""
        support = ((rec > 0) == (x > 0)).all(dim=1)
        close = support & ((rec - x).abs().amax(dim=1) <= MATCH_TOLERANCE)
        return {"support": support.double().mean().item(), "match": close.double().mean().item()}
