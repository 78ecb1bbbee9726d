"""Training of the VAE and the latent GAN, with early stopping and no global random state.

All randomness -- validation split, initial weights, shuffling, reparameterisation and GAN
noise -- comes from one numpy Generator made from ``random_state`` and a ``torch.Generator``
seeded from it, so a fit is a function of its seed (on a given machine and torch build).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from operators.exceptions import DataError
from operators.gan import LatentGAN
from operators.codecs import Codec, make_codec
from operators.codecs.simplex import MATCH_TOLERANCE, SHARPEN_EPOCHS
from operators.codecs.simplex_heads import Head
from operators.progress import progress_bar
from operators.seeding import as_generator, torch_generator
from operators.vae import VAE
from operators.vaegan import VAEGAN

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "fit_generative_model",
    "fit_latent_gan",
    "fit_vae",
    "MATCH_TOLERANCE",
    "SHARPEN_EPOCHS",
    "frechet_distance",
    "torch_threads",
]

#: rows per network call where a whole data set is encoded or scored without gradients:
#: the first convolution of an image encoder holds 16 x 32 x 32 floats per 64x64 image, so
#: 20,000 images in one call would need 1.3 GB for that layer alone
EVAL_BATCH = 1024


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (``None``: unchanged), then restore."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _split(n: int, validation_fraction: float, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    n_val = max(1, int(round(validation_fraction * n)))
    if n - n_val < 2:
        raise DataError(f"need at least {n_val + 2} vectors to train and validate, got {n}")
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def encode_means(vae: VAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances of `(n, n_var)` ``x`` without gradients, in
    batches of :data:`EVAL_BATCH` rows: two `(n, latent_dim)` tensors."""
    with torch.no_grad():
        parts = [vae.encode(x[s : s + EVAL_BATCH]) for s in range(0, len(x), EVAL_BATCH)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def reconstruction_loss(vae: VAE, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean head loss of decoding `(n, latent_dim)` ``z`` against `(n, n_var)` ``x``,
    batched and without gradients (a scalar)."""
    with torch.no_grad():
        if len(x) <= EVAL_BATCH:  # one call, the mean exactly as it was computed before batching
            return vae.head.loss(vae.decode(z), x).mean()
        total = sum(
            vae.head.loss(vae.decode(z[s : s + EVAL_BATCH]), x[s : s + EVAL_BATCH]).sum()
            for s in range(0, len(x), EVAL_BATCH)
        )
    return total / len(x)


def reconstruction_scores(vae: VAE, x: torch.Tensor) -> dict[str, float]:
    """The codec's reconstruction scores of the hard reconstructions of `(n, n_var)` ``x``
    from the posterior means: for fraction rows ``support`` (share of rows with the right
    support) and ``match`` (also every fraction within :data:`MATCH_TOLERANCE`); for images
    ``pixel_accuracy`` and ``match`` (see :meth:`~operators.codecs.image.ImageCodec.scores`)."""
    mu, _ = encode_means(vae, x)
    with torch.no_grad():
        rec = torch.cat([
            vae.head.decode(vae.decode(mu[s : s + EVAL_BATCH]), hard=True)
            for s in range(0, len(mu), EVAL_BATCH)
        ])
    return vae.codec.scores(rec, x)


#: fit_vae's settings that depend on the kind of data: ``None`` takes the codec's
#: ``fit_defaults``
_CODEC_SETTINGS = (
    "latent_dim", "hidden", "beta", "warmup_epochs", "learning_rate", "batch_size",
    "max_epochs", "patience", "lr_patience", "sharpen_epochs",
)


def fit_vae(
    X: ArrayLike,
    *,
    latent_dim: int | None = None,
    hidden: tuple[int, ...] | None = None,
    head: str | Head | dict[str, Any] | None = None,
    codec: str | Codec = "simplex",
    beta: float | None = None,
    warmup_epochs: int | None = None,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    max_epochs: int | None = None,
    patience: int | None = None,
    lr_patience: int | None = None,
    lr_factor: float = 0.3,
    sharpen_epochs: int | None = None,
    min_delta: float = 1e-4,
    validation_fraction: float = 0.1,
    random_state: int | np.random.Generator | None = None,
    progress: bool = True,
) -> tuple[VAE, dict[str, Any]]:
    """Train a :class:`~operators.vae.VAE` on one kind of vectors, early-stopped on validation loss.

    The settings left ``None`` (latent_dim, hidden, beta, warmup_epochs, learning_rate,
    batch_size, max_epochs, patience, lr_patience, sharpen_epochs) take the codec's
    ``fit_defaults``: for fraction rows the values below, measured on compositions; for
    images those of :class:`~operators.codecs.image.ImageCodec`, sized for a CPU.

    Two phases:

    1. The VAE itself. The KL weight rises linearly from 0 to ``beta`` over
       ``warmup_epochs`` (the decoder learns to reconstruct before the prior pulls the codes
       together). Early stopping counts after the warm-up, on the validation objective at
       the final ``beta`` with the posterior mean as code (deterministic and comparable
       across epochs); the best epoch's weights are kept. The learning rate is cut by
       ``lr_factor`` after ``lr_patience`` epochs without improvement: at a fixed rate the
       fractions converge slowly (toy data of the tests: median fraction error 0.015 at a
       fixed 1e-3, 0.003 with the cuts, same epochs).
    2. Decoder sharpening. With the encoder frozen, the decoder is trained for
       ``sharpen_epochs`` more epochs (a fixed cosine-decayed schedule) on the posterior
       *means* instead of noisy draws. A VAE decoder trained on draws learns the average
       vector around a code and blurs neighbouring ratios; the operators decode means and
       interpolations of means, never draws, so sharpening at the means is what they need.
       Measured on the toy data of the tests with the defaults: training rows decoded to
       the identical integer formula 64 % -> 96 %, held-out rows 55 % -> 73 % (most of the
       rest have a support never seen in training), for 2 s more. No epoch is selected:
       the validation loss is flat through this phase, dominated by the few held-out rows
       whose support is wrong, and blind to the fraction precision the phase is for. The
       latent geometry that interpolation and the GAN rely on is unchanged, because the
       encoder is.

    Args:
        X: a `(n, n_var)` array the codec accepts: non-negative rows summing to 1
            (``"simplex"``), or 0/1 rows of square images / an `(n, H, W)` stack (``"image"``).
        latent_dim: latent dimension. Defaults (32, ``beta`` 1e-3, 150 epochs) are
            measured on the transport compositions (held-out exact formulas from the
            encoder's mean: 16 / 1e-2: 47 %; 32 / 1e-3: 76 %; 32 / 1e-4: 62 %; 64 / 1e-3:
            same as 32; docs/benchmarks/NOTES.md), within a ~3 min training budget.
        hidden: the networks' widths as the codec reads them (fraction rows: encoder
            hidden widths, decoder reversed; images: the convolutions' channels).
        head: output head of the codec (``None``: its default; for the simplex codec see
            :mod:`operators.codecs.simplex_heads`); settings left unset are fitted to ``X``
            by the codec (a sparse head's support bounds: the range of support sizes).
        codec: the kind of data (:mod:`operators.codecs`; ``"simplex"``: fraction rows,
            ``"image"``: square two-phase images), chosen by the caller, never guessed.
        beta: final KL weight (small: reconstructions must be exact; the latent GAN,
            not the prior, supplies realistic samples).
        warmup_epochs: epochs of linear KL warm-up.
        learning_rate: Adam learning rate.
        batch_size: minibatch size.
        max_epochs: upper bound on epochs of phase 1 (a time budget as much as a limit:
            on the transport data the validation loss still creeps down at 150).
        patience: stop phase 1 after this many post-warm-up epochs without improvement.
        lr_patience: cut the learning rate after this many epochs without improvement.
        lr_factor: factor of each cut.
        sharpen_epochs: epochs of phase 2 (0 skips it; 60 and 100 measured equal on the
            transport compositions).
        min_delta: smallest validation-loss decrease that counts as improvement.
        validation_fraction: share of rows held out.
        random_state: seed or numpy Generator.
        progress: show progress (:func:`operators.progress.progress_bar`: a bar in a
            terminal, plain lines in a log); it changes no number of the result.

    Returns:
        The trained VAE (eval mode) and a history dict: per-epoch ``train_loss``,
        ``val_loss`` and one ``val_<score>`` list per codec score of phase 1 (fraction rows:
        ``val_support``, share of held-out rows whose decoded support is exact, and
        ``val_match``, support exact and every fraction within 0.01; images:
        ``val_pixel_accuracy`` and ``val_match``), ``sharpen_val_loss`` of phase 2,
        ``best_epoch``, ``epochs``, ``sharpen_epochs``, ``val_<score>_final`` of the
        returned model, ``seconds``, ``seconds_per_epoch`` (phase 1), ``settings`` (the
        resolved codec-dependent settings) and the validation row indices.
    """
    start = time.perf_counter()
    codec = make_codec(codec)
    given = dict(
        latent_dim=latent_dim, hidden=hidden, beta=beta, warmup_epochs=warmup_epochs,
        learning_rate=learning_rate, batch_size=batch_size, max_epochs=max_epochs,
        patience=patience, lr_patience=lr_patience, sharpen_epochs=sharpen_epochs,
    )
    settings = {k: codec.fit_defaults[k] if given[k] is None else given[k] for k in _CODEC_SETTINGS}
    latent_dim, hidden, beta = settings["latent_dim"], settings["hidden"], settings["beta"]
    warmup_epochs, learning_rate = settings["warmup_epochs"], settings["learning_rate"]
    batch_size, max_epochs = settings["batch_size"], settings["max_epochs"]
    patience = settings["patience"]
    lr_patience, sharpen_epochs = settings["lr_patience"], settings["sharpen_epochs"]
    X = codec.check(X)
    rng = as_generator(random_state)
    train, val = _split(len(X), validation_fraction, rng)
    gen = torch_generator(rng)
    vae = VAE(X.shape[1], latent_dim=latent_dim, hidden=hidden, head=head, generator=gen, codec=codec)
    codec.fit_head(vae.head, X)
    x_train = torch.as_tensor(X[train], dtype=torch.float32)
    x_val = torch.as_tensor(X[val], dtype=torch.float32)

    history: dict[str, Any] = {"train_loss": [], "val_loss": []}
    stage = f"generators: VAE ({max_epochs} epochs at most, then {sharpen_epochs} sharpening)"
    with progress_bar(max_epochs + sharpen_epochs, stage, progress, unit="epoch",
                      early_stop=True) as bar:
        best_epoch, epochs = _fit_vae_phase(
            vae, x_train, x_val, history, bar, gen, beta=beta, warmup_epochs=warmup_epochs,
            learning_rate=learning_rate, batch_size=batch_size, max_epochs=max_epochs,
            patience=patience, lr_patience=lr_patience, lr_factor=lr_factor, min_delta=min_delta,
        )
        phase1_seconds = time.perf_counter() - start
        bar.update(max_epochs - epochs, "sharpening the decoder")
        history["sharpen_val_loss"] = _sharpen_decoder(
            vae, x_train, x_val, bar, gen, learning_rate=learning_rate / 3,
            batch_size=batch_size, epochs=sharpen_epochs,
        )
    vae.eval()
    final = reconstruction_scores(vae, x_val)
    history.update({f"val_{k}_final": v for k, v in final.items()})
    history.update(
        best_epoch=best_epoch,
        epochs=epochs,
        sharpen_epochs=sharpen_epochs,
        seconds=time.perf_counter() - start,
        seconds_per_epoch=phase1_seconds / max(1, epochs),
        settings={k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        validation_rows=val.tolist(),
    )
    return vae, history


def vae_epoch(
    vae: VAE, opt: torch.optim.Optimizer, x: torch.Tensor, order: torch.Tensor, batch_size: int,
    beta: float, gen: torch.Generator,
) -> float:
    """One epoch of the beta-ELBO (KL weight ``beta``, noise from ``gen``) over the rows
    ``x[order]`` of `(n, d)` ``x`` (``order``: `(m,)` a permutation, or weighted draws) in
    minibatches, training ``vae`` in place; returns the summed loss x rows (eval mode after)."""
    vae.train()
    total = 0.0
    for s in range(0, len(order), batch_size):
        xb = x[order[s : s + batch_size]]
        loss, _, _ = vae.loss(xb, beta, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    vae.eval()
    return total


def _fit_vae_phase(
    vae: VAE,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    history: dict[str, Any],
    bar: Any,
    gen: torch.Generator,
    *,
    beta: float,
    warmup_epochs: int,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    lr_patience: int,
    lr_factor: float,
    min_delta: float,
) -> tuple[int, int]:
    """Phase 1 of :func:`fit_vae`; returns (best epoch, epochs run)."""
    opt = torch.optim.Adam(vae.parameters(), lr=learning_rate)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=lr_factor, patience=lr_patience, threshold=min_delta, threshold_mode="abs"
    )
    best, best_epoch, stale = float("inf"), 0, 0
    best_state = copy.deepcopy(vae.state_dict())
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        beta_now = beta * min(1.0, epoch / max(1, warmup_epochs))
        order = torch.randperm(len(x_train), generator=gen)
        total = vae_epoch(vae, opt, x_train, order, batch_size, beta_now, gen)
        mu, logvar = encode_means(vae, x_val)
        recon = reconstruction_loss(vae, mu, x_val)
        val_loss = (recon + beta * VAE.kl(mu, logvar).mean()).item()
        scores = reconstruction_scores(vae, x_val)
        history["train_loss"].append(total / len(x_train))
        history["val_loss"].append(val_loss)
        for key, value in scores.items():
            history.setdefault(f"val_{key}", []).append(value)
        first = next(iter(scores))
        bar.update(1, f"val loss {val_loss:.4f}  {first.replace('_', ' ')} {scores[first]:.1%}")
        if epoch <= warmup_epochs:
            continue
        sched.step(val_loss)
        if val_loss < best - min_delta:
            best, best_epoch, stale = val_loss, epoch, 0
            best_state = copy.deepcopy(vae.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    if best_epoch:
        vae.load_state_dict(best_state)
    return best_epoch or epoch, epoch


def _sharpen_decoder(
    vae: VAE,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    bar: Any,
    gen: torch.Generator,
    *,
    learning_rate: float,
    batch_size: int,
    epochs: int,
) -> list[float]:
    """Phase 2 of :func:`fit_vae`: the decoder on the frozen posterior means."""
    if epochs <= 0:
        return []
    vae.eval()
    mu_train, _ = encode_means(vae, x_train)
    mu_val, _ = encode_means(vae, x_val)
    opt = torch.optim.Adam(vae.decoder.parameters(), lr=learning_rate)
    steps = epochs * -(-len(x_train) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=gen)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            loss = vae.head.loss(vae.decode(mu_train[idx]), x_train[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        val_loss = reconstruction_loss(vae, mu_val, x_val).item()
        losses.append(val_loss)
        bar.update(1, f"sharpening: val reconstruction {val_loss:.4f}")
    return losses


def frechet_distance(a: NDArray, b: NDArray) -> float:
    """Fréchet distance between Gaussians fitted to `(n, d)` and `(m, d)` samples.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``; the trace of the square root is
    the sum of the square roots of the eigenvalues of ``S_a S_b`` (real and non-negative for
    two covariance matrices), which avoids a matrix square root.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    sa, sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    eig = np.linalg.eigvals(sa @ sb).real.clip(min=0)
    diff = a.mean(axis=0) - b.mean(axis=0)
    return float(diff @ diff + np.trace(sa) + np.trace(sb) - 2 * np.sqrt(eig).sum())


def _gradient_penalty(
    critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """Gulrajani et al.'s penalty: (|grad critic| - 1)^2 at random points between batches."""
    eps = torch.rand(len(real), 1, generator=gen)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def fit_latent_gan(
    vae: VAE,
    X: ArrayLike,
    *,
    noise_dim: int = 32,
    hidden: tuple[int, ...] = (256, 256),
    n_steps: int | None = None,
    n_critic: int = 3,
    gp_weight: float = 10.0,
    learning_rate: float = 5e-4,
    batch_size: int = 256,
    eval_every: int = 100,
    patience: int = 5,
    validation_fraction: float = 0.1,
    random_state: int | np.random.Generator | None = None,
    progress: bool = True,
) -> tuple[LatentGAN, dict[str, Any]]:
    """Train a WGAN-GP on the VAE's latent means of ``X``.

    Stopping criterion: every ``eval_every`` generator steps the Fréchet distance between
    generated and held-out latent codes is measured; the generator of the best evaluation
    is kept, and training stops after ``patience`` evaluations without improvement (or
    after ``n_steps``). ``fd_floor`` in the history -- the distance between the training
    and the held-out codes themselves -- says how low that distance can sensibly go.

    Args:
        vae: a trained VAE.
        X: a `(n, n_var)` array of the VAE's training vectors.
        noise_dim: generator input dimension.
        hidden: hidden widths of generator and critic. Defaults measured on the
            32-d latents of the transport compositions (Fréchet distance to held-out codes,
            floor 0.19): noise 16 / 128-128: 6.9; 32 / 128-128: 3.1; 32 / 256-256: 0.57
            (54 s on one thread).
        n_steps: maximum generator steps (``None``: the codec's ``gan_fit_defaults``;
            2,000 for fraction rows, 6,000 for images).
        n_critic: critic steps per generator step (the paper's 5 is for images; on the
            toy latents 3 reached the same distance in less time).
        gp_weight: gradient-penalty weight.
        learning_rate: Adam learning rate (betas 0.5, 0.9 as in the WGAN-GP paper; the
            rate is 5x the paper's, measured to converge faster on 16-d latents).
        batch_size: minibatch size.
        eval_every: generator steps between evaluations.
        patience: evaluations without improvement before stopping.
        validation_fraction: share of codes held out for the evaluation.
        random_state: seed or numpy Generator.
        progress: show progress (:func:`operators.progress.progress_bar`: a bar in a
            terminal, plain lines in a log); it changes no number of the result.

    Returns:
        The trained GAN (eval mode) and a history dict: ``step``, ``fd`` and
        ``critic_loss`` per evaluation, ``best_step``, ``best_fd``, ``steps`` run,
        ``fd_floor`` and ``seconds``.
    """
    start = time.perf_counter()
    X = vae.codec.check(X)
    if X.shape[1] != vae.n_var:
        raise DataError(
            f"X has {X.shape[1]} components per row; the VAE was trained on {vae.n_var}"
        )
    if n_steps is None:
        n_steps = int(vae.codec.gan_fit_defaults["n_steps"])
    rng = as_generator(random_state)
    train, val = _split(len(X), validation_fraction, rng)
    gen = torch_generator(rng)
    vae.eval()
    codes, _ = encode_means(vae, torch.as_tensor(X, dtype=torch.float32))
    gan = LatentGAN(vae.latent_dim, noise_dim=noise_dim, hidden=hidden, generator=gen)
    gan.z_mean.copy_(codes[train].mean(dim=0))
    gan.z_scale.copy_(codes[train].std(dim=0).clamp(min=1e-6))
    z_train = (codes[train] - gan.z_mean) / gan.z_scale
    z_val = ((codes[val] - gan.z_mean) / gan.z_scale).numpy()
    n_eval = max(len(z_val), 512)

    opt_g = torch.optim.Adam(gan.generator_net.parameters(), lr=learning_rate, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(gan.critic.parameters(), lr=learning_rate, betas=(0.5, 0.9))
    history: dict[str, Any] = {"step": [], "fd": [], "critic_loss": []}
    best, best_step, stale = float("inf"), 0, 0
    best_state = copy.deepcopy(gan.state_dict())
    batch = min(batch_size, len(z_train))
    critic_loss = torch.zeros(())
    step = 0
    with progress_bar(n_steps, "generators: latent GAN", progress, unit="step",
                      early_stop=True) as bar:
        for step in range(1, n_steps + 1):
            gan.train()
            for _ in range(n_critic):
                real = z_train[torch.randint(len(z_train), (batch,), generator=gen)]
                with torch.no_grad():
                    fake = gan.generate(gan.noise(batch, gen))
                penalty = _gradient_penalty(gan.critic, real, fake, gen)
                wasserstein = gan.critic(fake).mean() - gan.critic(real).mean()
                critic_loss = wasserstein + gp_weight * penalty
                opt_c.zero_grad(set_to_none=True)
                critic_loss.backward()
                opt_c.step()
            gen_loss = -gan.critic(gan.generate(gan.noise(batch, gen))).mean()
            opt_g.zero_grad(set_to_none=True)
            gen_loss.backward()
            opt_g.step()
            if step % eval_every and step != n_steps:
                bar.update(1)
                continue
            gan.eval()
            with torch.no_grad():
                sample = gan.generate(gan.noise(n_eval, gen)).numpy()
            fd = frechet_distance(sample, z_val)
            history["step"].append(step)
            history["fd"].append(fd)
            history["critic_loss"].append(critic_loss.item())
            bar.update(1, f"latent FD {fd:.3f}")
            if fd < best:
                best, best_step, stale = fd, step, 0
                best_state = copy.deepcopy(gan.state_dict())
            else:
                stale += 1
                if stale >= patience:
                    break
    gan.load_state_dict(best_state)
    gan.eval()
    history.update(
        best_step=best_step,
        steps=step,
        best_fd=best,
        fd_floor=frechet_distance(z_train.numpy(), z_val),
        seconds=time.perf_counter() - start,
    )
    return gan, history


def fit_generative_model(
    X: ArrayLike,
    *,
    vae_options: dict[str, Any] | None = None,
    gan_options: dict[str, Any] | None = None,
    train_gan: bool = True,
    metadata: dict[str, Any] | None = None,
    refine_steps: int | None = None,
    refine_tol: float | None = None,
    num_threads: int | None = 1,
    random_state: int | np.random.Generator | None = None,
    progress: bool = True,
) -> tuple[VAEGAN, dict[str, Any]]:
    """Train a VAE and (``train_gan``) a latent GAN on ``X`` and bundle them.

    The kind of data is ``vae_options["codec"]`` (default ``"simplex"``; ``"image"`` for
    square 0/1 images), never guessed from ``X``; settings not given take that codec's
    defaults (see :func:`fit_vae`).

    Args:
        X: a `(n, n_var)` array the codec accepts (see :func:`fit_vae`).
        vae_options: keyword arguments of :func:`fit_vae`.
        gan_options: keyword arguments of :func:`fit_latent_gan`.
        train_gan: also train the GAN.
        metadata: facts saved with the model (vocabulary, data hash, ...).
        refine_steps: the model's encoding refinement (see :mod:`operators.vaegan`;
            ``None``: the codec's ``default_refine_steps``, 10 for fraction rows --
            held-out transport formulas reconstructed 76 % -> 97 % -- and 0 for images).
        refine_tol: its tolerance (``None``: the codec's ``default_refine_tol``).
        num_threads: torch intra-op threads while training, restored afterwards
            (``None``: leave as is). One is the default because these networks are small:
            on 2 shared cores an epoch took 0.7 s with one thread and 5 s with two, the
            pool spinning against the other processes. A speed setting only.
        random_state: seed or numpy Generator, shared by both fits in turn.
        progress: show progress (see :func:`fit_vae`).

    Returns:
        The :class:`~operators.vaegan.VAEGAN` and ``{"vae": history, "gan": history or None}``.
    """
    rng = as_generator(random_state)
    vae_options, gan_options = dict(vae_options or {}), dict(gan_options or {})
    # checked once up front (an (n, H, W) stack becomes rows); the fits renormalise
    # fraction rows themselves, as they always did
    X = make_codec(vae_options.get("codec", "simplex")).check(X, renormalize=False)
    with torch_threads(num_threads):
        vae, vae_history = fit_vae(X, random_state=rng, progress=progress, **vae_options)
        gan, gan_history = None, None
        if train_gan:
            gan, gan_history = fit_latent_gan(
                vae, X, random_state=rng, progress=progress, **gan_options
            )
    options = {k: v for k, v in vae_options.items() if not isinstance(v, Head)}
    if "codec" in options:  # a codec instance is saved by its name
        options["codec"] = vae.codec.name
    finals = sorted(k for k in vae_history if k.startswith("val_") and k.endswith("_final"))
    summary = {
        "vae_options": options,
        "gan_options": gan_options if train_gan else None,
        "n_rows": int(X.shape[0]),
        "vae": {
            k: vae_history[k]
            for k in ("best_epoch", "epochs", "sharpen_epochs", *finals, "seconds")
        },
        "gan": None
        if gan_history is None
        else {k: gan_history[k] for k in ("best_step", "steps", "best_fd", "fd_floor", "seconds")},
    }
    if refine_steps is None:
        refine_steps = vae.codec.default_refine_steps
    model = VAEGAN(
        vae, gan, metadata=metadata, info=summary, refine_steps=refine_steps,
        refine_tol=refine_tol,
    )
    return model, {"vae": vae_history, "gan": gan_history}
