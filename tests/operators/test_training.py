from __future__ import annotations

import numpy as np
import pytest
import torch

from toy_data import N_VAR, integer_formula, toy_vectors
from operators import VAE, DataError, LatentGAN, fit_latent_gan, fit_vae
from operators.training import frechet_distance


def test_vae_shape_contracts():
    vae = VAE(N_VAR, latent_dim=4, hidden=(16,))
    x = torch.as_tensor(toy_vectors(5), dtype=torch.float32)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 4)
    assert vae.decode(mu).shape == (5, 2 * N_VAR)
    assert vae.reconstruct(x).shape == (5, N_VAR)
    assert vae.sample(7, torch.Generator().manual_seed(0)).shape == (7, N_VAR)
    total, recon, kl = vae.loss(x, beta=0.1, generator=torch.Generator().manual_seed(0))
    assert total.ndim == recon.ndim == kl.ndim == 0
    gan = LatentGAN(4, noise_dim=3, hidden=(8,))
    assert gan.sample(6, torch.Generator().manual_seed(0)).shape == (6, 4)


def test_construction_does_not_touch_the_global_torch_rng():
    state = torch.random.get_rng_state()
    VAE(N_VAR, hidden=(16,))
    LatentGAN(16, hidden=(8,))
    assert torch.equal(state, torch.random.get_rng_state())


def test_trained_vae_reconstructs_held_out_vectors(trained, data):
    model, history = trained
    train, test = data
    rec = model.reconstruct(test)
    support = ((rec > 0) == (test > 0)).all(axis=1)
    same = np.array([integer_formula(a) == integer_formula(b) for a, b in zip(rec, test)])
    seen = {tuple(np.flatnonzero(r)) for r in train}
    in_domain = np.array([tuple(np.flatnonzero(r)) in seen for r in test])
    # measured with the tiny settings of conftest (5 s of training): support 0.82,
    # identical integer formula 0.65, and 0.80 on rows whose support occurs in training
    # (the others carry a random substitution never seen); thresholds leave a margin
    assert support.mean() >= 0.72
    assert same.mean() >= 0.55
    assert same[in_domain].mean() >= 0.7
    assert history["fit_seconds"] > 0
    assert history["vae"]["best_epoch"] <= history["vae"]["epochs"]
    assert len(history["vae"]["sharpen_val_loss"]) == history["vae"]["sharpen_epochs"]


def test_generated_rows_are_sparse_simplex_rows(model, data):
    train, _ = data
    gen = torch.Generator().manual_seed(0)
    for source in ("gan", "vae"):
        rows = model.sample(500, source, gen)
        assert rows.shape == (500, N_VAR)
        assert np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-12)
        nnz = (rows > 0).sum(axis=1)
        assert nnz.min() >= 2 and nnz.max() <= 4  # the support range of the training data
    seen = {tuple(np.flatnonzero(r)) for r in train}
    gan_rows = model.sample(1000, "gan", gen)
    realistic = np.mean([tuple(np.flatnonzero(r)) in seen for r in gan_rows])
    assert realistic > 0.3  # measured 0.42; ~0 for random supports of this size


def test_fit_is_a_function_of_the_seed():
    X = toy_vectors(300, seed=3)
    small = dict(
        hidden=(16,), latent_dim=3, max_epochs=4, warmup_epochs=2, patience=2, sharpen_epochs=2
    )
    a, _ = fit_vae(X, random_state=5, progress=False, **small)
    b, _ = fit_vae(X, random_state=np.random.default_rng(5), progress=False, **small)
    c, _ = fit_vae(X, random_state=6, progress=False, **small)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.decoder[0].weight, c.decoder[0].weight)
    tiny = dict(hidden=(8,), n_steps=6, eval_every=3, random_state=1, progress=False)
    g1, h1 = fit_latent_gan(a, X, **tiny)
    g2, _ = fit_latent_gan(a, X, **tiny)
    assert torch.equal(g1.generator_net[0].weight, g2.generator_net[0].weight)
    assert h1["steps"] <= 6 and len(h1["fd"]) == len(h1["step"])


def test_progress_display_can_be_shown(capsys):
    X = toy_vectors(100, seed=4)
    fit_vae(
        X, hidden=(8,), latent_dim=2, max_epochs=2, warmup_epochs=1, sharpen_epochs=1,
        progress=True,
    )
    assert "VAE" in capsys.readouterr().out


def test_bad_training_vectors_are_refused_with_the_row():
    X = toy_vectors(50)
    X[7] *= 2
    with pytest.raises(DataError, match="row 7 of X sums to 2"):
        fit_vae(X, progress=False)
    X = toy_vectors(50)
    X[3, 0] = -0.1
    with pytest.raises(DataError, match="negative fraction"):
        fit_vae(X, progress=False)
    with pytest.raises(DataError, match="need at least"):
        fit_vae(toy_vectors(2), progress=False)


def test_frechet_distance_is_zero_for_the_same_sample_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert abs(frechet_distance(a, a)) < 1e-8
    assert frechet_distance(a, a + 1.0) == pytest.approx(4.0, rel=1e-6)
