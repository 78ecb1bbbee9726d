"""Generators that learn during a search: weighted fine-tuning of a VAE + latent GAN.

A generative model trained once on a prior keeps proposing designs like its training data,
however far the search has moved. The methods that report gains from learned generators
retrain them on the search's own good designs: GMOEA (He et al., IEEE TCYB 2021) retrains
a GAN each generation on the better half of the parents against the rest; weighted
retraining (Tripp et al., NeurIPS 2020, "Sample-efficient optimization in the latent space
of deep generative models via weighted retraining") periodically retrains on all data with
weights ``w_i`` proportional to ``1 / (k N + rank_i)``. This module holds both weightings
as pure functions of the non-dominated ranks, and :func:`fine_tune`, which continues the
training of a :class:`~operators.vaegan.VAEGAN` on weighted rows:

1. the VAE, ``epochs`` epochs of the beta-ELBO at the model's final ``beta`` (no warm-up:
   the model is trained already) on rows drawn with replacement, with probability
   proportional to their weights (so a weight-0 row is never seen), at a small share of
   the first training's rate (:data:`VAE_RATE_FACTOR`);
2. the decoder sharpened on the posterior means of such draws for as many epochs, as
   :func:`~operators.training.fit_vae` ends (a decoder trained on noisy draws blurs the
   exact ratios the operators decode);
3. the latent GAN, the same share of steps per epoch as in its first training, at its
   first training's rate, on the weighted draws of the fine-tuned encoder's means. Its standardisation (``z_mean``,
   ``z_scale``) is kept: the generator's outputs are in those units, and re-standardising
   would move every sample at once.

The model passed in is never changed: a copy is trained and returned (operators loaded
from one file may share the original, other runs in the process too). Every random number
comes from ``random_state``, through one ``torch.Generator`` seeded from it.
"""

from __future__ import annotations

import copy
import inspect
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from operators.exceptions import DataError
from operators.reference import ModelHolder
from operators.seeding import as_generator, torch_generator
from operators.training import _gradient_penalty, encode_means, fit_latent_gan, torch_threads, vae_epoch
from operators.vaegan import VAEGAN

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "adopt",
    "fine_tune",
    "load_state_arrays",
    "rank_weights",
    "split_weights",
    "state_arrays",
]

#: the VAE's fine-tuning rate relative to its first training's. A fresh Adam moves every
#: weight by about its rate in the first steps, whatever the gradient, so a converged VAE
#: is easily undone. Measured on the toy simplex data of the tests (200 rows, the better
#: half weighted, 3 epochs): rows of the good half reconstructed exactly 90 % before, 89 %
#: at 1/3 of the rate, 93 % at 1/10, 95 % at 1/30; one poorly reconstructed row alone
#: (loss 17.1): 7.8 after 3 epochs at 1/30
VAE_RATE_FACTOR = 1.0 / 30.0
#: the GAN's, relative to its first training's: where its samples fall is what the search
#: draws from, and it must move. Measured on the same data (106 of 400 rows weighted, 30
#: steps): share of GAN samples with the weighted rows' component 0.33 before, 0.34 at
#: 1/30, 0.41 at 1/3, 0.66 at the full rate
GAN_RATE_FACTOR = 1.0

#: fit_latent_gan's settings (critic steps, penalty, rate, batch) where the model's
#: training summary does not record them: read from its signature, never copied
_GAN_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(fit_latent_gan).parameters.items()
    if p.default is not inspect.Parameter.empty
}


def _check_ranks(ranks: ArrayLike) -> NDArray[np.float64]:
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 1 or len(r) == 0:
        raise DataError(f"ranks must be a non-empty 1-d array, got shape {r.shape}")
    bad = np.flatnonzero(~np.isfinite(r) | (r < 0))
    if len(bad):
        raise DataError(f"ranks must be finite and >= 0 (0 = first front); row {bad[0]} is {r[bad[0]]!r}")
    return r


def rank_weights(ranks: ArrayLike, k: float) -> NDArray[np.float64]:
    """Weighted retraining's weights (Tripp et al. 2020): ``1 / (k N + rank)``, summing to 1.

    Args:
        ranks: `(N,)` non-dominated ranks, 0 for the first front.
        k: small ``k`` puts nearly all the weight on the first fronts; large ``k``
            approaches uniform weights.

    Returns:
        `(N,)` weights summing to 1.

    Example:
        >>> rank_weights([0, 1, 1, 2], k=0.25).round(4).tolist()
        [0.4286, 0.2143, 0.2143, 0.1429]
    """
    r = _check_ranks(ranks)
    if not np.isfinite(k) or k <= 0:
        raise DataError(f"k must be > 0, got {k!r}")
    w = 1.0 / (k * len(r) + r)
    return w / w.sum()


def split_weights(ranks: ArrayLike) -> NDArray[np.float64]:
    """GMOEA's good/poor split (He et al. 2020): the better half weight 1, the rest 0.

    The better half is the ``ceil(N / 2)`` rows of lowest rank. Rows tied at the rank where
    the half ends are taken in row order (a stable sort), so exactly ``ceil(N / 2)`` rows
    get weight 1 whatever the ties: deterministic, and the caller decides which tied row
    comes first by the order it passes them in.

    Args:
        ranks: `(N,)` non-dominated ranks, 0 for the first front.

    Returns:
        `(N,)` weights, 1.0 or 0.0.

    Example:
        >>> split_weights([2, 0, 1, 1, 3]).tolist()
        [0.0, 1.0, 1.0, 1.0, 0.0]
        >>> split_weights([1, 0, 1, 1]).tolist()
        [1.0, 1.0, 0.0, 0.0]
    """
    r = _check_ranks(ranks)
    good = np.argsort(r, kind="stable")[: -(-len(r) // 2)]
    w = np.zeros(len(r))
    w[good] = 1.0
    return w


def _check_weights(weights: ArrayLike, n: int) -> torch.Tensor:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise DataError(f"weights must have shape ({n},), one per row of X, got {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise DataError(f"weights must be finite and >= 0; row {bad[0]} has {w[bad[0]]!r}")
    if w.sum() <= 0:
        raise DataError("weights are all 0: no row to fine-tune on")
    return torch.as_tensor(w / w.sum(), dtype=torch.float64)


def _setting(model: VAEGAN, section: str, key: str, default: Any) -> Any:
    """A training setting as the model's summary recorded it, else ``default``."""
    value = (model.info.get(section) or {}).get(key)
    return default if value is None else value


def _gan_steps(model: VAEGAN, epochs: int) -> int:
    """GAN steps per ``epochs`` VAE epochs in the proportion of the model's first training."""
    codec = model.codec
    vae_epochs = (model.info.get("vae") or {}).get("epochs") or codec.fit_defaults["max_epochs"]
    steps = (model.info.get("gan") or {}).get("steps") or codec.gan_fit_defaults["n_steps"]
    return max(1, int(round(epochs * steps / vae_epochs)))


def fine_tune(
    model: VAEGAN,
    X: ArrayLike,
    weights: ArrayLike,
    *,
    epochs: int = 2,
    random_state: int | np.random.Generator | None = None,
    gan_steps: int | None = None,
    learning_rate: float | None = None,
    gan_learning_rate: float | None = None,
    batch_size: int | None = None,
    num_threads: int | None = 1,
) -> VAEGAN:
    """A copy of ``model`` trained further on the rows of ``X``, drawn by ``weights``.

    See the module docstring for the three phases.

    Args:
        model: the trained model (not changed).
        X: `(n, n_var)` rows the model's codec accepts (e.g. an archive of designs).
        weights: `(n,)` non-negative weights (e.g. :func:`rank_weights`); rows are drawn
            with replacement with probability proportional to them, ``n`` per epoch.
        epochs: VAE epochs, and as many sharpening epochs.
        random_state: seed or numpy Generator: the only source of randomness.
        gan_steps: generator steps of the GAN (``None``: ``epochs`` times the model's
            first training's steps per VAE epoch, from its summary, else the codec's
            defaults); 0 leaves the GAN as it is.
        learning_rate: Adam rate of the VAE and the sharpening (``None``: the first
            training's rate times :data:`VAE_RATE_FACTOR`).
        gan_learning_rate: Adam rate of the GAN (``None``: its first training's rate times
            :data:`GAN_RATE_FACTOR`).
        batch_size: VAE minibatch size (``None``: the first training's).
        num_threads: torch intra-op threads while training, restored after (``None``:
            unchanged).

    Returns:
        The fine-tuned :class:`~operators.vaegan.VAEGAN`, unsaved (``path`` and
        ``sha256`` ``None``), with the same encoding settings and metadata;
        ``info["adaptation"]`` records this fine-tuning (rows, distinct rows drawn, epochs,
        GAN steps, seconds, losses) and ``info["adaptations"]`` counts them.
    """
    start = time.perf_counter()
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    X = model.codec.check(X)
    if X.shape[1] != model.n_var:
        raise DataError(f"X has {X.shape[1]} components per row; the model has n_var = {model.n_var}")
    p = _check_weights(weights, len(X))
    codec = model.codec
    lr = learning_rate or VAE_RATE_FACTOR * _setting(model, "vae_options", "learning_rate",
                                                      codec.fit_defaults["learning_rate"])
    gan_lr = gan_learning_rate or GAN_RATE_FACTOR * float(
        _setting(model, "gan_options", "learning_rate", _GAN_DEFAULTS["learning_rate"])
    )
    beta = float(_setting(model, "vae_options", "beta", codec.fit_defaults["beta"]))
    batch = int(batch_size or _setting(model, "vae_options", "batch_size", codec.fit_defaults["batch_size"]))
    steps = _gan_steps(model, epochs) if gan_steps is None else int(gan_steps)
    gen = torch_generator(as_generator(random_state))
    vae, gan = copy.deepcopy(model.vae), copy.deepcopy(model.gan)
    x = torch.as_tensor(X, dtype=torch.float32)
    drawn = torch.zeros(len(X), dtype=torch.bool)
    with torch_threads(num_threads):
        vae_loss, draws = _vae_epochs(vae, x, p, epochs, batch, beta, lr, gen)
        for idx in draws:
            drawn[idx] = True
        sharpen_loss = _sharpen(vae, x, p, epochs, batch, lr, gen)
        critic_loss = _gan_steps_on(vae, gan, x, p, steps, gan_lr, model, gen) if gan is not None and steps > 0 else None
    summary = {
        "rows": int(len(X)),
        "rows_drawn": int(drawn.sum()),
        "epochs": int(epochs),
        "gan_steps": int(steps) if gan is not None else 0,
        "learning_rate": float(lr),
        "gan_learning_rate": float(gan_lr),
        "vae_loss": vae_loss,
        "sharpen_loss": sharpen_loss,
        "critic_loss": critic_loss,
        "seconds": time.perf_counter() - start,
    }
    info = {**model.info, "adaptation": summary, "adaptations": int(model.info.get("adaptations", 0)) + 1}
    return VAEGAN(vae, gan, metadata=model.metadata, info=info, **model.inference_config())


def _draw(p: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """`(n,)` row indices drawn with replacement with probabilities `(N,)` ``p``."""
    return torch.multinomial(p, n, replacement=True, generator=gen)


def _vae_epochs(
    vae: Any, x: torch.Tensor, p: torch.Tensor, epochs: int, batch: int, beta: float, lr: float,
    gen: torch.Generator,
) -> tuple[float, list[torch.Tensor]]:
    """Phase 1: the beta-ELBO on weighted draws; the last epoch's mean loss and the draws."""
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    draws, total = [], 0.0
    for _ in range(epochs):
        idx = _draw(p, len(x), gen)
        draws.append(idx)
        total = vae_epoch(vae, opt, x, idx, batch, beta, gen)
    return total / len(x), draws


def _sharpen(
    vae: Any, x: torch.Tensor, p: torch.Tensor, epochs: int, batch: int, lr: float, gen: torch.Generator
) -> float:
    """Phase 2: the decoder alone on the posterior means of weighted draws; last epoch's loss."""
    mu, _ = encode_means(vae, x)
    opt = torch.optim.Adam(vae.decoder.parameters(), lr=lr)
    total = 0.0
    for _ in range(epochs):
        idx = _draw(p, len(x), gen)
        total = 0.0
        for s in range(0, len(idx), batch):
            rows = idx[s : s + batch]
            loss = vae.head.loss(vae.decode(mu[rows]), x[rows]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
    return total / len(x)


def _gan_steps_on(
    vae: Any, gan: Any, x: torch.Tensor, p: torch.Tensor, steps: int, lr: float, model: VAEGAN,
    gen: torch.Generator,
) -> float:
    """Phase 3: WGAN-GP steps on the weighted, standardised codes; the last critic loss."""
    n_critic = int(_setting(model, "gan_options", "n_critic", _GAN_DEFAULTS["n_critic"]))
    gp_weight = float(_setting(model, "gan_options", "gp_weight", _GAN_DEFAULTS["gp_weight"]))
    batch = int(_setting(model, "gan_options", "batch_size", _GAN_DEFAULTS["batch_size"]))
    codes, _ = encode_means(vae, x)
    z = (codes - gan.z_mean) / gan.z_scale
    opt_g = torch.optim.Adam(gan.generator_net.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(gan.critic.parameters(), lr=lr, betas=(0.5, 0.9))
    gan.train()
    critic_loss = torch.zeros(())
    for _ in range(steps):
        for _ in range(n_critic):
            real = z[_draw(p, batch, gen)]
            with torch.no_grad():
                fake = gan.generate(gan.noise(batch, gen))
            penalty = _gradient_penalty(gan.critic, real, fake, gen)
            critic_loss = gan.critic(fake).mean() - gan.critic(real).mean() + gp_weight * penalty
            opt_c.zero_grad(set_to_none=True)
            critic_loss.backward()
            opt_c.step()
        gen_loss = -gan.critic(gan.generate(gan.noise(batch, gen))).mean()
        opt_g.zero_grad(set_to_none=True)
        gen_loss.backward()
        opt_g.step()
    gan.eval()
    return float(critic_loss.item())


def adopt(model: VAEGAN, *operators: Any) -> int:
    """Make every operator among ``operators`` that holds a model use ``model``.

    Operators built from one saved file each load their own copy; after a fine-tuning they
    must all hold the *same* new one, or the crossover's codes would not be the mutation's.
    Operators without a model (SBX, polynomial mutation, ``None``) are skipped.

    Returns:
        How many operators now hold ``model``.
    """
    n = 0
    for operator in operators:
        if isinstance(operator, ModelHolder):
            operator._hold(model)
            n += 1
    return n


def state_arrays(model: VAEGAN) -> dict[str, NDArray]:
    """The model's weights as numpy arrays, ``"vae.<name>"`` and ``"gan.<name>"`` (exact
    copies of the tensors: float32 stays float32), e.g. for a checkpoint."""
    out = {f"vae.{k}": v.detach().cpu().numpy().copy() for k, v in model.vae.state_dict().items()}
    if model.gan is not None:
        out.update({f"gan.{k}": v.detach().cpu().numpy().copy() for k, v in model.gan.state_dict().items()})
    return out


def load_state_arrays(model: VAEGAN, arrays: dict[str, NDArray], info: dict[str, Any] | None = None) -> VAEGAN:
    """A copy of ``model`` (the same architecture) with the weights of :func:`state_arrays`.

    Args:
        model: a model of the architecture the arrays were taken from (not changed).
        arrays: ``"vae.<name>"`` / ``"gan.<name>"`` arrays; every weight must be there.
        info: the training summary of the copy (``None``: the model's).

    Raises:
        DataError: a weight is missing, unexpected or of the wrong shape, named.
    """
    vae, gan = copy.deepcopy(model.vae), copy.deepcopy(model.gan)
    for prefix, module in (("vae.", vae), ("gan.", gan)):
        if module is None:
            continue
        state = {k[len(prefix) :]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise DataError(f"the saved {prefix[:-1].upper()} weights do not fit this model: {error}") from error
    if gan is None and any(k.startswith("gan.") for k in arrays):
        raise DataError("the saved weights hold a latent GAN; this model has none")
    return VAEGAN(vae, gan, metadata=model.metadata, info=model.info if info is None else info,
                  **model.inference_config())
