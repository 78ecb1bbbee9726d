"""The first :class:`~operators.generative.GenerativeModel`: a VAE and optionally a latent GAN.

Encoding can be *refined* (semi-amortized inference, Kim et al., ICML 2018): the encoder's
posterior mean is a first guess, and a few Adam steps on each row's code then minimise the
decoder's reconstruction loss of that row, the decoder frozen. An encoder is one network
asked to invert the decoder on inputs it never saw, and that is where held-out rows are
lost: on the transport compositions the decoder reproduces ~97 % of held-out formulas
exactly from an optimised code, the encoder's own mean only ~76 % (``docs/benchmarks/NOTES.md``).
Only rows whose reconstruction does not yet match (the codec's test: for fraction rows the
support and every component within ``refine_tol``, for images at most that share of the
pixels wrong) are refined, and a row leaves as soon as it matches, so rows the encoder
already gets right keep its code and cost one decoder pass. The VAE and the GAN work on
any codec's rows (:mod:`operators.codecs`): compositions and images alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from operators.exceptions import DataError, OperatorsError
from operators.generative import LATENT_SOURCES
from operators.vectors import check_shape

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from operators.gan import LatentGAN
    from operators.vae import VAE

__all__ = ["VAEGAN"]


def _unique_rows(X: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Distinct rows of `(n, d)` ``X`` and the `(n,)` index of each row among them.

    Rows are grouped by a dot product with a fixed vector of unrelated weights (a sort of n
    floats, several times faster than ``np.unique(axis=0)``; square roots of integers were
    tried and collide on sparse rational rows), and the grouping is verified exactly; on a
    collision it falls back to ``np.unique(axis=0)``.
    """
    # a constant, not a source of randomness: the same weights in every call and process
    weights = np.random.default_rng(20261124).standard_normal(X.shape[1])
    key = X @ weights
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    if np.array_equal(X[first][inverse], X):
        return X[first], inverse
    unique, inverse = np.unique(X, axis=0, return_inverse=True)
    return unique, np.asarray(inverse).reshape(-1)


class VAEGAN:
    """A VAE (encoder + sharp decoder) and an optional latent GAN, in inference mode.

    Implements :class:`~operators.generative.GenerativeModel`. Every method is batched: one
    network call for the whole input. Arrays cross this boundary as numpy: vectors as
    float64 (the VAE's codec makes decoded rows exact, e.g. summing to 1 to machine
    precision), latents as float64 too (the interpolation arithmetic is done in numpy).
    What depends on the kind of data is the VAE's codec (:mod:`operators.codecs`).

    Args:
        vae: the trained VAE.
        gan: the trained latent GAN, or ``None`` (then only ``source="vae"`` sampling).
        metadata: facts the model depends on, saved with it (vocabulary, data hash, ...).
        info: training settings and results, saved with it.
        refine_steps: at most this many refinement steps in :meth:`encode` (0: the
            encoder's mean as is); saved with the model.
        refine_lr: Adam step size of the refinement.
        refine_tol: a row's reconstruction matches within this tolerance, as the codec
            reads it (``None``: the codec's ``default_refine_tol``): for fraction rows the
            support is right and every component is within it of the row (default
            0.005); for images at most this share of the pixels differ (default 0.01).

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
        refine_steps: int = 0,
        refine_lr: float = 0.05,
        refine_tol: float | None = None,
    ) -> None:
        if int(refine_steps) != refine_steps or refine_steps < 0:
            raise ValueError(f"refine_steps must be an integer >= 0, got {refine_steps!r}")
        if gan is not None and gan.latent_dim != vae.latent_dim:
            raise ValueError(f"GAN latent_dim {gan.latent_dim} != VAE latent_dim {vae.latent_dim}")
        self.vae = vae.eval()
        self.gan = gan.eval() if gan is not None else None
        self.metadata = dict(metadata or {})
        self.info = dict(info or {})
        self.refine_steps = int(refine_steps)
        self.refine_lr = float(refine_lr)
        self.refine_tol = float(vae.codec.default_refine_tol if refine_tol is None else refine_tol)
        self.path: Path | None = None
        self.sha256: str | None = None

    def inference_config(self) -> dict[str, Any]:
        """The encoding settings, as saved with the model."""
        return {
            "refine_steps": self.refine_steps,
            "refine_lr": self.refine_lr,
            "refine_tol": self.refine_tol,
        }

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"VAEGAN(n_var={self.n_var}, latent_dim={self.latent_dim}, "
            f"gan={self.gan is not None}{where})"
        )

    @property
    def n_var(self) -> int:
        return self.vae.n_var

    @property
    def latent_dim(self) -> int:
        return self.vae.latent_dim

    @property
    def codec(self) -> Any:
        """The VAE's codec (:mod:`operators.codecs`)."""
        return self.vae.codec

    @property
    def sources(self) -> tuple[str, ...]:
        """Latent sources :meth:`sample_latent` draws from: ``"gan"`` if trained, ``"vae"``."""
        return LATENT_SOURCES if self.gan is not None else ("vae",)

    def encode(self, X: ArrayLike, refine: bool = True, init: ArrayLike | None = None) -> NDArray[np.float64]:
        """Latent codes, `(n, n_var)` -> `(n, latent_dim)`: the posterior means, refined.

        Args:
            X: the vectors.
            refine: apply the model's refinement (``refine_steps``; see the module
                docstring); ``False``: the encoder's posterior means.
            init: optional `(n, latent_dim)` starting codes for the refinement (e.g. the
                latent point a child was decoded from before it was repaired); rows with a
                NaN start from the encoder's mean. A start whose decoding already matches
                its row is kept as it is.
        """
        X = check_shape(X, self.n_var)
        refine = refine and self.refine_steps > 0 and len(X) > 0
        inverse = None
        if refine and init is None:  # a parent drawn twice (tournament selection) is refined once
            X, inverse = _unique_rows(X)
        x = torch.as_tensor(X, dtype=torch.float32)
        with torch.inference_mode():
            mu, _ = self.vae.encode(x)
        if init is not None:
            start = torch.as_tensor(np.asarray(init, dtype=np.float64), dtype=torch.float32)
            if start.shape != mu.shape:
                raise DataError(f"init must have shape {tuple(mu.shape)}, got {tuple(start.shape)}")
            given = torch.isfinite(start).all(dim=1)
            mu = torch.where(given[:, None], start, mu)
        if refine:
            mu = self._refine(x, mu.clone())
        Z = mu.double().numpy()
        return Z if inverse is None else Z[inverse]

    def _refine(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Adam on the codes `(n, latent_dim)` of the rows of `(n, n_var)` ``x`` whose
        reconstruction does not match yet; a row stops as soon as it matches."""
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        head = self.vae.head
        with torch.inference_mode():  # most rows match at once: one cheap pass finds them
            active = (~self._matches(self.vae.decode(z), x)).nonzero(as_tuple=True)[0]
        m = torch.zeros(len(active), z.shape[1])
        v = torch.zeros_like(m)
        for step in range(1, self.refine_steps + 1):
            if len(active) == 0:
                break
            zs = z[active].requires_grad_(True)
            with torch.enable_grad():
                params = self.vae.decode(zs)
                loss = head.loss(params, x[active]).sum()
                (grad,) = torch.autograd.grad(loss, zs)
            with torch.no_grad():
                # rows matching at this step's code are done; the others take the step
                keep = ~self._matches(params, x[active]) if step > 1 else torch.ones(
                    len(active), dtype=torch.bool
                )
                active, grad, m, v = active[keep], grad[keep], m[keep], v[keep]
                m = beta1 * m + (1 - beta1) * grad
                v = beta2 * v + (1 - beta2) * grad.pow(2)
                m_hat = m / (1 - beta1**step)
                v_hat = v / (1 - beta2**step)
                z[active] = z[active] - self.refine_lr * m_hat / (v_hat.sqrt() + eps)
        return z

    def _matches(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`(n,)`: the hard decoding of `(n, n_params)` ``params`` reproduces `(n, n_var)`
        ``x`` within ``refine_tol`` (the codec says what that means)."""
        return self.codec.matches(self.vae.head.decode(params, hard=True), x, self.refine_tol)

    def matches(self, decoded: ArrayLike, X: ArrayLike) -> NDArray[np.bool_]:
        """`(n,)` bools: hard-decoded rows `(n, n_var)` reproduce the rows `(n, n_var)` ``X``
        within ``refine_tol``, the test :meth:`encode`'s refinement stops on -- so a latent
        point that decoded to ``decoded[i]`` serves as a code of ``X[i]``."""
        rec = torch.as_tensor(np.asarray(decoded, dtype=np.float64))
        x = torch.as_tensor(np.asarray(X, dtype=np.float64))
        return self.codec.matches(rec, x, self.refine_tol).numpy()

    def decode(self, Z: ArrayLike, hard: bool = True) -> NDArray[np.float64]:
        """Decoded rows, `(n, latent_dim)` -> `(n, n_var)` float64 (see the codec's ``finish``).

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
        return self.codec.finish(rows)

    def reconstruct(
        self, X: ArrayLike, hard: bool = True, refine: bool = True
    ) -> NDArray[np.float64]:
        """Decode the codes of ``X`` (see :meth:`encode`), `(n, n_var)` -> `(n, n_var)`."""
        return self.decode(self.encode(X, refine=refine), hard=hard)

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
        raise ValueError(f"unknown latent source {source!r}; choose one of {LATENT_SOURCES}")

    def sample(
        self, n: int, source: str, generator: torch.Generator, hard: bool = True
    ) -> NDArray[np.float64]:
        """`(n, n_var)` decoded samples from the GAN or the VAE prior."""
        return self.decode(self.sample_latent(n, source, generator), hard=hard)
