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
from operators.vectors import check_simplex

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["SimplexCodec"]


class SimplexCodec:
    """Fraction rows: non-negative, summing to 1, mostly zeros (see the module docstring)."""

    name = "simplex"
    default_head = "sparse_simplex"

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
