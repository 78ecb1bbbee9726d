"""Weighted fine-tuning of the generators during a search (operators.adaptation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from operators import GANMutation, LatentInterpolationCrossover, fit_generative_model
from operators.adaptation import (
    adopt,
    fine_tune,
    load_state_arrays,
    rank_weights,
    split_weights,
    state_arrays,
)
from operators.exceptions import DataError
from operators.variation import shared_model
from image_data import noise_images


def test_rank_weights_are_tripps_one_over_kn_plus_rank_normalised():
    # k N = 0.25 * 4 = 1: raw weights 1, 1/2, 1/2, 1/3 (sum 7/3)
    np.testing.assert_allclose(rank_weights([0, 1, 1, 2], k=0.25), [3 / 7, 3 / 14, 3 / 14, 1 / 7], rtol=1e-15)
    # a large k tends to uniform weights, a small one to the first front
    assert np.ptp(rank_weights([0, 5, 9], k=1e6)) < 1e-5
    w = rank_weights([0, 1, 2, 3], k=1e-4)
    assert w[0] > 0.99


def test_split_weights_take_the_better_half_ties_in_row_order():
    assert split_weights([2, 0, 1, 1, 3]).tolist() == [0, 1, 1, 1, 0]  # ceil(5 / 2) = 3
    assert split_weights([1, 0, 1, 1]).tolist() == [1, 1, 0, 0]  # the first tied row wins
    assert split_weights([0, 0, 0, 0]).tolist() == [1, 1, 0, 0]
    assert split_weights([7]).tolist() == [1]


@pytest.mark.parametrize("ranks, message", [([0, -1], "row 1"), ([0, np.nan], "row 1"), ([], "non-empty")])
def test_bad_ranks_are_refused_by_row(ranks, message):
    with pytest.raises(DataError, match=message):
        split_weights(ranks)
    with pytest.raises(DataError, match=message):
        rank_weights(ranks, k=1.0)


def test_rank_weights_refuse_a_non_positive_k():
    with pytest.raises(DataError, match="k must be > 0"):
        rank_weights([0, 1], k=0.0)


def _weights_differ(a, b) -> bool:
    sa, sb = state_arrays(a), state_arrays(b)
    return any(not np.array_equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def tuned(model, data):
    X = data[0][:300]
    w = split_weights(np.arange(300) % 7)
    return X, w, fine_tune(model, X, w, epochs=1, random_state=5, gan_steps=5)


def test_fine_tune_changes_a_copy_and_keeps_the_original(model, tuned):
    _, _, new = tuned
    before = state_arrays(model)
    assert new is not model and new.vae is not model.vae and new.gan is not model.gan
    assert _weights_differ(new, model)
    # the original model is untouched (other operators and runs may share it)
    assert all(np.array_equal(v, state_arrays(model)[k]) for k, v in before.items())
    assert new.path is None and new.sha256 is None
    assert new.inference_config() == model.inference_config() and new.metadata == model.metadata
    # the GAN's standardisation stays: the generator's outputs are in those units
    assert torch.equal(new.gan.z_mean, model.gan.z_mean) and torch.equal(new.gan.z_scale, model.gan.z_scale)
    info = new.info["adaptation"]
    assert new.info["adaptations"] == model.info.get("adaptations", 0) + 1
    assert info["rows"] == 300 and info["epochs"] == 1 and info["gan_steps"] == 5
    # rows of weight 0 are never drawn
    assert 0 < info["rows_drawn"] <= 150


def test_fine_tune_is_a_function_of_its_seed(model, tuned):
    X, w, new = tuned
    again = fine_tune(model, X, w, epochs=1, random_state=5, gan_steps=5)
    other = fine_tune(model, X, w, epochs=1, random_state=6, gan_steps=5)
    assert not _weights_differ(again, new)
    assert _weights_differ(other, new)
    np.testing.assert_array_equal(
        again.sample(8, "gan", torch.Generator().manual_seed(0)), new.sample(8, "gan", torch.Generator().manual_seed(0))
    )


def _row_losses(m, X):
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        mu, _ = m.vae.encode(x)
        return m.vae.head.loss(m.vae.decode(mu), x).numpy()


def test_weights_decide_what_is_learned(model, data):
    """Fine-tuned on its worst-reconstructed row only, the VAE reconstructs it better."""
    X = data[0][:200]
    worst = int(np.argmax(_row_losses(model, X)))
    w = np.zeros(200)
    w[worst] = 1.0
    new = fine_tune(model, X, w, epochs=3, random_state=0, gan_steps=0)
    assert new.info["adaptation"]["rows_drawn"] == 1
    assert _row_losses(new, X[worst : worst + 1])[0] < 0.7 * _row_losses(model, X[worst : worst + 1])[0]
    # gan_steps=0 leaves the GAN's weights as they were
    sa, sb = state_arrays(new), state_arrays(model)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa if k.startswith("gan."))


def test_the_gan_moves_towards_the_weighted_rows(model, data):
    X = data[0][:400]
    c = int(np.argmax((X > 0).sum(axis=0)))
    w = (X[:, c] > 0).astype(np.float64)

    def share(m):  # GAN samples that hold the weighted rows' component
        return (m.sample(1000, "gan", torch.Generator().manual_seed(1))[:, c] > 0).mean()

    new = fine_tune(model, X, w, epochs=6, random_state=0)
    assert share(new) > share(model) + 0.1


@pytest.mark.parametrize(
    "weights, message",
    [(np.zeros(10), "all 0"), (-np.ones(10), "row 0"), (np.ones(9), r"shape \(10,\)")],
)
def test_bad_weights_are_refused(model, data, weights, message):
    with pytest.raises(DataError, match=message):
        fine_tune(model, data[0][:10], weights, epochs=1, random_state=0)


def test_state_arrays_round_trip_exactly(model, tuned):
    _, _, new = tuned
    arrays = state_arrays(new)
    assert all(a.dtype == np.float32 for a in arrays.values())
    back = load_state_arrays(model, arrays, info=new.info)
    assert not _weights_differ(back, new) and back.info == new.info
    Z = np.random.default_rng(0).standard_normal((5, model.latent_dim))
    np.testing.assert_array_equal(back.decode(Z), new.decode(Z))
    broken = dict(arrays)
    broken.pop(next(k for k in arrays if k.startswith("vae.")))
    with pytest.raises(DataError, match="VAE weights do not fit"):
        load_state_arrays(model, broken)


def test_adopt_gives_crossover_and_mutation_one_model(model_path, tuned):
    _, _, new = tuned
    cx, mut = LatentInterpolationCrossover(model_path), GANMutation(model_path)
    assert cx.model is not mut.model  # each loaded its own copy of the file
    assert adopt(new, cx, mut, None, object()) == 2
    assert cx.model is new and mut.model is new and shared_model(cx, mut) is new


def test_fine_tune_works_on_images():
    X = noise_images(120, 16, seed=1).reshape(120, -1).astype(np.float64)
    model, _ = fit_generative_model(
        X, vae_options=dict(codec="image", max_epochs=2, sharpen_epochs=1),
        gan_options=dict(hidden=(32, 32), noise_dim=8, n_steps=20, eval_every=10), random_state=0, progress=False,
    )
    w = rank_weights(np.arange(120) // 10, k=1e-3)
    new = fine_tune(model, X, w, epochs=1, random_state=0)
    assert _weights_differ(new, model)
    # the GAN steps come in the first training's proportion: 20 steps over 2 VAE epochs
    assert new.info["adaptation"]["gan_steps"] == round(1 * model.info["gan"]["steps"] / model.info["vae"]["epochs"])
    out = new.sample(4, "gan", torch.Generator().manual_seed(0))
    assert out.shape == (4, 256) and set(np.unique(out)) <= {0.0, 1.0}
