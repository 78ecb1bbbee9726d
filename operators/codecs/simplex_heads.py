"""Decoder output heads of the simplex codec: raw decoder outputs -> fraction rows, and their loss.

A head turns the `(n, n_params)` output of a decoder network into `(n, n_var)` rows on the
simplex (non-negative, summing to 1) and scores such outputs against data.

Why a presence head and a fraction head (:class:`SparseSimplexHead`): the vectors this
package is made for are sparse -- a handful of non-zero components out of ~90 -- and a child
is only useful if it decodes to few components. A plain softmax (:class:`SimplexHead`) can
never output an exact zero: it smears a little mass over every component, and how much
"little" is turns into a threshold nobody can choose well. Splitting the question in two --
*which* components are present (an independent logistic output per component, trained with
binary cross-entropy) and *how much* of each present component (a softmax restricted to the
present ones, trained on log-ratio errors) -- makes the support a hard, learnable decision
and the fractions exact zeros elsewhere. Hard decoding returns rows whose support sizes stay
in the range seen in training.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["HEADS", "Head", "SimplexHead", "SparseSimplexHead", "make_head"]


class Head:
    """Interface of an output head (no learnable parameters of its own).

    Attributes:
        name: registry name, stored in model files.
        n_var: length of the vectors.
        n_params: width of the decoder output the head consumes.
    """

    name = "head"

    def __init__(self, n_var: int) -> None:
        self.n_var = int(n_var)

    @property
    def n_params(self) -> int:
        raise NotImplementedError

    def loss(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-row reconstruction loss, `(n, n_params)` x `(n, n_var)` -> `(n,)`."""
        raise NotImplementedError

    def decode(self, params: torch.Tensor, hard: bool = True) -> torch.Tensor:
        """Rows on the simplex, `(n, n_params)` -> `(n, n_var)`."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor arguments (plus ``name``)."""
        return {"name": self.name, "n_var": self.n_var}


def _kl_to(x: torch.Tensor, log_q: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """KL(x || q) per row over the ``present`` entries; 0 when q reproduces x exactly."""
    log_q = torch.where(present, log_q, torch.zeros_like(log_q))  # keeps -inf out of the sum
    return (torch.xlogy(x, x) - x * log_q).sum(dim=-1)


def _aitchison2(logits: torch.Tensor, x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Squared Aitchison distance between softmax(logits) and x on the ``present`` entries, `(n,)`.

    Both are compared as centred log-ratios over the support, so an error of 10 % counts
    the same for a 0.01 dopant as for a 0.5 host component -- the KL divergence, weighting
    errors by ``x``, barely sees small fractions.
    """
    m = present.to(logits.dtype)
    k = m.sum(dim=-1, keepdim=True).clamp(min=1)
    log_x = torch.log(torch.where(present, x, torch.ones_like(x)))
    diff = (logits - log_x) * m
    diff = (diff - diff.sum(dim=-1, keepdim=True) / k) * m
    return diff.pow(2).sum(dim=-1)


class SimplexHead(Head):
    """A plain softmax over all components (a baseline: it never outputs an exact zero).

    Loss: KL divergence from the data row to the softmax. ``decode`` returns the softmax
    whatever ``hard`` says, so every component gets some mass.
    """

    name = "simplex"

    @property
    def n_params(self) -> int:
        return self.n_var

    def loss(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _kl_to(x, params.log_softmax(dim=-1), x > 0)

    def decode(self, params: torch.Tensor, hard: bool = True) -> torch.Tensor:
        return params.softmax(dim=-1)


class SparseSimplexHead(Head):
    """Presence logits and fraction logits per component (see the module docstring).

    The decoder output `(n, 2 * n_var)` holds the presence logits in its first half and the
    fraction logits in its second half.

    Hard decoding keeps the components whose presence logit is positive, but never fewer
    than ``min_support`` nor more than ``max_support`` (the most likely ones): far from the
    training codes -- between clusters, where a GAN or an interpolation may land -- all
    presence logits can drop below 0, and a one-component row is then an artefact of the
    threshold, not a prediction. :func:`operators.training.fit_vae` sets both bounds to the
    range of support sizes in the training data unless they were given.

    Args:
        n_var: vector length.
        presence_weight: weight of the presence BCE (summed over components) in the loss.
        fraction_weight: weight of the fraction loss. The default 10 is measured: a 1 %
            fraction error costs only ~1e-4 of squared log-ratio, so at weight 1 the
            fractions are left imprecise (median error 0.032 on the toy data of the tests,
            0.012 at weight 10, same training).
        fraction_loss: ``"aitchison"`` (squared distance of centred log-ratios; default,
            relative errors count the same for small and large fractions) or ``"kl"``
            (KL divergence from the data fractions; weights errors by the fraction).
        min_support: fewest components a hard-decoded row has (``None``: 1).
        max_support: most components a hard-decoded row has (``None``: ``n_var``).
    """

    name = "sparse_simplex"

    def __init__(
        self,
        n_var: int,
        presence_weight: float = 1.0,
        fraction_weight: float = 10.0,
        fraction_loss: str = "aitchison",
        min_support: int | None = None,
        max_support: int | None = None,
    ) -> None:
        super().__init__(n_var)
        if fraction_loss not in ("aitchison", "kl"):
            raise ValueError(f"fraction_loss must be 'aitchison' or 'kl', got {fraction_loss!r}")
        self.presence_weight = float(presence_weight)
        self.fraction_weight = float(fraction_weight)
        self.fraction_loss = fraction_loss
        self.min_support = min_support
        self.max_support = max_support

    @property
    def n_params(self) -> int:
        return 2 * self.n_var

    def split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Presence logits and fraction logits, each `(n, n_var)`."""
        return params[..., : self.n_var], params[..., self.n_var :]

    def loss(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """BCE on presence (``x > 0``) plus the fraction loss on the true support, `(n,)`.

        The fraction softmax is restricted to the *true* support (teacher forcing), so the
        fraction logits learn "how much, given present" and the two heads do not fight over
        the same mass.
        """
        presence, fraction = self.split(params)
        present = x > 0
        target = present.to(presence.dtype)
        bce = F.binary_cross_entropy_with_logits(presence, target, reduction="none")
        if self.fraction_loss == "kl":
            log_q = fraction.masked_fill(~present, float("-inf")).log_softmax(dim=-1)
            frac = _kl_to(x, log_q, present)
        else:
            frac = _aitchison2(fraction, x, present)
        return self.presence_weight * bce.sum(dim=-1) + self.fraction_weight * frac

    def support(self, params: torch.Tensor) -> torch.Tensor:
        """Boolean `(n, n_var)`: presence logit > 0, with the support size clipped to
        ``[min_support, max_support]`` by keeping the most likely components."""
        presence, _ = self.split(params)
        lo = max(1, self.min_support or 1)
        hi = min(self.n_var, self.max_support or self.n_var)
        k = (presence > 0).sum(dim=-1, keepdim=True).clamp(lo, hi)
        # the hi most likely components, of which the first k are kept: positions, not a
        # threshold on the k-th value, so that ties cannot widen the support; topk rather
        # than a full sort (hi is small: 4 for compositions)
        top = presence.topk(hi, dim=-1).indices
        keep = torch.arange(hi, device=presence.device) < k
        support = torch.zeros(presence.shape, dtype=torch.bool, device=presence.device)
        return support.scatter_(-1, top, keep)

    def decode(self, params: torch.Tensor, hard: bool = True) -> torch.Tensor:
        """Fraction rows, `(n, 2 * n_var)` -> `(n, n_var)`.

        Args:
            params: decoder output.
            hard: softmax over the decided support (exact zeros elsewhere); else the
                expected vector with each component weighted by its presence probability
                (dense, for inspection only).
        """
        presence, fraction = self.split(params)
        if hard:
            return fraction.masked_fill(~self.support(params), float("-inf")).softmax(dim=-1)
        return (fraction + F.logsigmoid(presence)).softmax(dim=-1)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "presence_weight": self.presence_weight,
            "fraction_weight": self.fraction_weight,
            "fraction_loss": self.fraction_loss,
            "min_support": self.min_support,
            "max_support": self.max_support,
        }


HEADS: dict[str, type[Head]] = {
    SimplexHead.name: SimplexHead,
    SparseSimplexHead.name: SparseSimplexHead,
}


def make_head(head: str | Head | dict[str, Any], n_var: int) -> Head:
    """A head from its name, its :meth:`Head.config` dict, or an instance (checked for
    ``n_var``)."""
    if isinstance(head, Head):
        if head.n_var != n_var:
            raise ValueError(f"head is for n_var={head.n_var}, the model for n_var={n_var}")
        return head
    if isinstance(head, dict):
        kwargs = dict(head)
        name = kwargs.pop("name")
        kwargs.pop("n_var", None)
    else:
        name, kwargs = head, {}
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; choose one of {sorted(HEADS)}")
    return HEADS[name](n_var, **kwargs)
