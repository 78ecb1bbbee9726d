"""The image codec: square 0/1 images as rows, convolutional VAE + latent GAN, and the
learned operators on them (16x16 images, a few hundred, a few epochs)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch
from pymoo.core.population import Population

from image_data import noise_images
from operators import (
    VAE,
    DataError,
    GANMutation,
    GenerativeModel,
    GeneratorSampling,
    ImageCodec,
    LatentInterpolationCrossover,
    VAEGAN,
    fit_generative_model,
    fit_latent_gan,
    load_generative_model,
    save_generative_model,
)
from operators.artifacts import model_paths
from operators.codecs.image import BernoulliHead
from operators.conv import conv_decoder, conv_encoder
from toy_data import ToyProblem

SIDE = 16
N_VAR = SIDE * SIDE
IMAGE_VAE = dict(codec="image", max_epochs=8)
IMAGE_GAN = dict(hidden=(64, 64), noise_dim=16, n_steps=200, eval_every=50, patience=3)


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) 16x16 images as `(400, 256)` and `(100, 256)` float rows."""
    X = noise_images(500, SIDE, seed=0).reshape(500, -1).astype(np.float64)
    return X[:400], X[400:]


@pytest.fixture(scope="module")
def fitted(images, tmp_path_factory):
    """A tiny image VAE + latent GAN, trained from an `(n, H, W)` uint8 stack and saved."""
    train, _ = images
    stack = train.reshape(-1, SIDE, SIDE).astype(np.uint8)
    model, history = fit_generative_model(
        stack, vae_options=IMAGE_VAE, gan_options=IMAGE_GAN, random_state=0, progress=False
    )
    save_generative_model(model, tmp_path_factory.mktemp("image-model") / "images")
    return model, history


@pytest.fixture(scope="module")
def image_model(fitted):
    return fitted[0]


@pytest.mark.parametrize("side", [16, 13, 7])
def test_conv_networks_map_rows_to_latents_and_back_for_any_side(side):
    g = torch.Generator().manual_seed(0)
    enc, dec = conv_encoder(side, (8, 16), 10, g), conv_decoder(side, (8, 16), 5, g)
    assert enc(torch.zeros(3, side * side)).shape == (3, 10)
    assert dec(torch.zeros(3, 5)).shape == (3, side * side)


def test_conv_networks_draw_their_weights_from_the_generator_only():
    before = torch.random.get_rng_state()
    a = conv_decoder(16, (8, 16), 4, torch.Generator().manual_seed(1))
    assert torch.equal(torch.random.get_rng_state(), before)
    b = conv_decoder(16, (8, 16), 4, torch.Generator().manual_seed(1))
    c = conv_decoder(16, (8, 16), 4, torch.Generator().manual_seed(2))
    pairs = list(zip(a.state_dict().values(), b.state_dict().values(), c.state_dict().values()))
    assert all(torch.equal(x, y) for x, y, _ in pairs)
    assert not any(torch.equal(x, z) for x, _, z in pairs)
    # torch's default scale: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in 16 * 4 * 4 for the
    # first transposed convolution (16 -> 8 channels: weight (16, 8, 4, 4), fan_in 8 * 16)
    w = a[3].weight
    assert w.abs().max() <= 1 / math.sqrt(8 * 16) and w.abs().max() > 0.9 / math.sqrt(8 * 16)


def test_too_many_halvings_are_refused_with_the_limit():
    with pytest.raises(ValueError, match="too small for 3 stride-2 convolutions.*at most 2"):
        conv_encoder(4, (8, 16, 32), 4, torch.Generator())


def test_check_takes_rows_or_stacks_and_names_the_first_bad_pixel():
    codec = ImageCodec()
    stack = np.zeros((2, 4, 4), dtype=np.uint8)
    stack[1, 2, 3] = 1
    rows = codec.check(stack)
    assert rows.dtype == np.float64 and rows.shape == (2, 16) and rows[1, 2 * 4 + 3] == 1
    assert np.array_equal(codec.check(rows), rows)
    bad = rows.copy()
    bad[1, 2 * 4 + 3] = 0.5
    with pytest.raises(DataError, match=r"value 0.5 at row 1, pixel \(y=2, x=3\).*must be 0/1"):
        codec.check(bad)
    bad[1, 2 * 4 + 3] = np.nan
    with pytest.raises(DataError, match=r"value nan at row 1"):
        codec.check(bad)
    with pytest.raises(DataError, match="square image.*n_var = 15"):
        codec.check(np.zeros((2, 15)))
    with pytest.raises(DataError, match="square images"):
        codec.check(np.zeros((2, 4, 5)))


def test_bernoulli_head_loss_and_decoding():
    head = BernoulliHead(4)
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    assert head.loss(torch.zeros(1, 4), x).item() == pytest.approx(4 * math.log(2), rel=1e-6)
    logits = torch.tensor([[-1.0, 0.0, 2.0, 30.0]])
    assert head.decode(logits).tolist() == [[0.0, 0.0, 1.0, 1.0]]  # probability > 0.5
    assert torch.allclose(head.decode(logits, hard=False), torch.sigmoid(logits))
    assert head.loss(torch.tensor([[-30.0, 30.0, 30.0, -30.0]]), x).item() < 1e-11


def test_matches_allows_the_tolerance_as_a_share_of_pixels():
    codec = ImageCodec()
    x = torch.zeros(2, N_VAR)
    rec = x.clone()
    rec[0, :2] = 1  # 2 / 256 = 0.0078 wrong
    rec[1, :3] = 1  # 3 / 256 = 0.0117 wrong
    assert codec.matches(rec, x, 0.01).tolist() == [True, False]
    assert codec.matches(rec, x, 0.0).tolist() == [False, False]
    assert codec.matches(x, x, 0.0).all()


def test_an_image_vae_is_built_by_its_codec():
    vae = VAE(N_VAR, latent_dim=6, codec="image")
    assert vae.hidden == ImageCodec.default_hidden
    assert isinstance(vae.encoder[1], torch.nn.Conv2d)
    assert vae.decode(torch.zeros(2, 6)).shape == (2, N_VAR)
    assert vae.config()["codec"] == "image" and vae.config()["head"]["name"] == "bernoulli"
    with pytest.raises(DataError, match="n_var = 250"):
        VAE(250, codec="image")
    with pytest.raises(ValueError, match="unknown head 'simplex' for images"):
        VAE(N_VAR, codec="image", head="simplex")


def test_the_image_model_serves_the_protocol_with_binary_images(image_model):
    model = image_model
    assert isinstance(model, GenerativeModel) and isinstance(model.codec, ImageCodec)
    assert model.n_var == N_VAR and model.sources == ("gan", "vae")
    assert model.refine_tol == ImageCodec.default_refine_tol
    Z = model.sample_latent(20, "gan", torch.Generator().manual_seed(0))
    hard, soft = model.decode(Z), model.decode(Z, hard=False)
    assert hard.shape == (20, N_VAR) and hard.dtype == np.float64
    assert set(np.unique(hard)) <= {0.0, 1.0}
    assert ((soft > 0) & (soft < 1)).all()
    assert np.array_equal(hard, (soft > 0.5).astype(np.float64))
    assert 0.1 < hard.mean() < 0.8  # neither blank nor full: the data hold 25-60 % filler


def test_held_out_images_are_reconstructed_better_than_any_flat_image(image_model, images):
    _, test = images
    assert image_model.refine_steps == ImageCodec.default_refine_steps == 0
    mean_code = (image_model.reconstruct(test) == test).mean()
    refining = VAEGAN(image_model.vae, image_model.gan, refine_steps=10)
    refined = (refining.reconstruct(test) == test).mean()
    # the best flat image (all matrix or all filler) gets max(phi, 1 - phi) of the pixels
    flat = np.maximum(test.mean(axis=1), 1 - test.mean(axis=1)).mean()
    assert flat < 0.62
    assert mean_code > 0.78 and refined >= mean_code  # measured 0.82 and 0.84
    assert image_model.matches(test, test).all()


def test_training_reports_pixel_accuracy_and_its_resolved_settings(fitted):
    model, history = fitted
    vae = history["vae"]
    assert len(vae["val_pixel_accuracy"]) == len(vae["val_match"]) == vae["epochs"] == 8
    assert vae["settings"] == {
        **{k: list(v) if isinstance(v, tuple) else v for k, v in ImageCodec.fit_defaults.items()},
        "max_epochs": 8,
    }
    assert vae["seconds_per_epoch"] > 0
    assert model.info["vae"]["val_pixel_accuracy_final"] == vae["val_pixel_accuracy_final"] > 0.7
    assert model.info["vae_options"] == {"codec": "image", "max_epochs": 8}


def test_the_latent_gan_takes_its_step_budget_from_the_codec(image_model, images, monkeypatch):
    assert ImageCodec.gan_fit_defaults["n_steps"] == 6000
    monkeypatch.setitem(ImageCodec.gan_fit_defaults, "n_steps", 7)
    _, history = fit_latent_gan(
        image_model.vae, images[0], eval_every=5, random_state=0, progress=False
    )
    assert history["steps"] == 7 and history["step"] == [5, 7]


def test_an_image_model_saves_and_loads_without_pickle(image_model):
    tensors, sidecar = model_paths(image_model.path)
    data = json.loads(sidecar.read_text())
    assert data["vae"]["codec"] == "image" and data["vae"]["hidden"] == [16, 32, 64]
    assert data["inference"]["refine_tol"] == ImageCodec.default_refine_tol
    loaded = load_generative_model(image_model.path)
    assert isinstance(loaded.codec, ImageCodec)
    Z = np.random.default_rng(0).standard_normal((5, image_model.latent_dim))
    assert np.array_equal(loaded.decode(Z), image_model.decode(Z))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    Zg = image_model.sample_latent(4, "gan", g2)
    assert np.array_equal(loaded.sample_latent(4, "gan", g1), Zg)


def _operators_children(model, parents, seed):
    rng = np.random.default_rng(seed)
    cx, mut = LatentInterpolationCrossover(model), GANMutation(model)
    children, codes = cx.cross(parents, rng, decode=False)
    rows, codes = children.reshape(-1, model.n_var), codes.reshape(-1, model.latent_dim)
    return mut.mutate(rows, rng, codes)[0]


def test_latent_crossover_and_gan_mutation_make_binary_images_reproducibly(image_model, images):
    train, _ = images
    parents = np.stack([train[:30], train[30:60]])
    a = _operators_children(image_model, parents, 1)
    assert a.shape == (60, N_VAR) and set(np.unique(a)) <= {0.0, 1.0}
    assert np.array_equal(a, _operators_children(image_model, parents, 1))
    assert not np.array_equal(a, _operators_children(image_model, parents, 2))
    assert not any((a[i] == train[:60]).all(axis=1).any() for i in range(len(a)))  # no clones


def test_pymoo_do_on_image_vectors_records_provenance(image_model, images):
    train, _ = images
    problem = ToyProblem(n_var=N_VAR)
    pop = Population.new("X", train[:20])
    parents = np.random.default_rng(0).integers(20, size=(10, 2))
    off = LatentInterpolationCrossover(image_model, prob=1.0).do(
        problem, pop, parents, random_state=np.random.default_rng(0)
    )
    off = GANMutation(image_model).do(problem, off, random_state=np.random.default_rng(1))
    Y = off.get("X")
    assert Y.shape == (20, N_VAR) and set(np.unique(Y)) <= {0.0, 1.0}
    assert set(off.get("operator")) == {"LatentInterpolationCrossover+GANMutation"}
    assert all(p for p in off.get("parents"))


def test_simplex_defaults_are_the_measured_composition_settings(trained):
    _, history = trained
    settings = history["vae"]["settings"]
    assert settings["hidden"] == [128, 128]  # given by TINY_VAE
    beta, rate, batch = settings["beta"], settings["learning_rate"], settings["batch_size"]
    assert (beta, rate, batch) == (0.001, 3e-3, 128)
    assert VAE(5).hidden == (256, 256)


def test_generator_sampling_mixes_gan_images_and_known_images(image_model, images):
    train, _ = images
    stack = train.reshape(-1, SIDE, SIDE)
    sampling = GeneratorSampling(image_model, source="mix", data=stack, mix=0.5)
    X = sampling._do(ToyProblem(n_var=N_VAR), 20, random_state=np.random.default_rng(0))
    assert X.shape == (20, N_VAR) and set(np.unique(X)) <= {0.0, 1.0}
    known = {row.tobytes() for row in train}
    assert [row.tobytes() in known for row in X[10:]] == [True] * 10
    with pytest.raises(DataError, match=r"data has the value 2.0 at row 0"):
        GeneratorSampling(image_model, source="data", data=2 * train[:3])


def test_operators_on_images_pickle_by_reference_and_give_the_same_children(image_model, images):
    train, _ = images
    ops = (LatentInterpolationCrossover(image_model), GANMutation(image_model))
    blob = pickle.dumps(ops)
    assert len(blob) < 10_000  # the path and hash, not the weights
    parents = np.stack([train[:10], train[10:20]])
    a = _operators_children(image_model, parents, 5)
    cx, mut = pickle.loads(blob)
    rng = np.random.default_rng(5)
    children, codes = cx.cross(parents, rng, decode=False)
    b, _ = mut.mutate(children.reshape(-1, N_VAR), rng, codes.reshape(-1, cx.model.latent_dim))
    assert np.array_equal(a, b)
