"""The codec seam: models know their data kind by name; old model files are simplex models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from operators import VAE, GenerativeModel, SimplexCodec, load_generative_model, save_generative_model
from operators.artifacts import model_paths
from operators.codecs import make_codec


def test_the_bundle_implements_the_protocol_and_names_its_codec(model):
    assert isinstance(model, GenerativeModel)
    assert isinstance(model.codec, SimplexCodec)
    assert model.vae.config()["codec"] == "simplex"
    assert model.sources == ("gan", "vae")


def test_an_unknown_codec_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown codec 'voxel'; valid codecs: \['image', 'simplex'\]"):
        make_codec("voxel")
    with pytest.raises(ValueError, match="unknown codec"):
        VAE(5, codec="voxel")


def test_a_model_file_saved_before_codecs_loads_as_a_simplex_model(model, tmp_path):
    save_generative_model(model, tmp_path / "m")
    _, sidecar = model_paths(tmp_path / "m")
    data = json.loads(sidecar.read_text())
    del data["vae"]["codec"]  # what files written before codecs existed hold
    sidecar.write_text(json.dumps(data))
    old = load_generative_model(tmp_path / "m")
    assert isinstance(old.codec, SimplexCodec)
    Z = np.random.default_rng(0).standard_normal((5, model.latent_dim))
    assert np.array_equal(old.decode(Z), model.decode(Z))


def test_matches_is_the_refinement_test(model, data):
    X = data[0][:50]
    rec = model.reconstruct(X)
    expected = model.codec.matches(torch.as_tensor(rec), torch.as_tensor(X), model.refine_tol).numpy()
    assert np.array_equal(model.matches(rec, X), expected)
    assert model.matches(X, X).all()
