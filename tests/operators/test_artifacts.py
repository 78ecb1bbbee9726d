from __future__ import annotations

import json

import numpy as np
import pytest

from operators import (
    ArtifactError,
    ArtifactMismatchError,
    VAEGAN,
    load_generative_model,
    read_sidecar,
    save_generative_model,
)
from operators.artifacts import model_paths


def test_round_trip_gives_the_same_model(model, model_path, data):
    _, test = data
    loaded = load_generative_model(model_path, expect={"vocabulary": model.metadata["vocabulary"]})
    np.testing.assert_array_equal(loaded.reconstruct(test), model.reconstruct(test))
    np.testing.assert_array_equal(loaded.encode(test), model.encode(test))
    assert loaded.sha256 == model.sha256 and loaded.path == model.path
    assert loaded.vae.head.config() == model.vae.head.config()
    sidecar = read_sidecar(model_path)
    assert sidecar["vae"]["latent_dim"] == model.latent_dim
    assert sidecar["gan"]["noise_dim"] == model.gan.noise_dim
    assert {"torch", "numpy", "python"} <= set(sidecar["versions"])
    assert sidecar["training"]["vae"]["epochs"] >= 1


def test_expect_names_the_differing_key(model_path):
    with pytest.raises(ArtifactMismatchError, match="vocabulary: model has") as err:
        load_generative_model(model_path, expect={"vocabulary": ["H", "He"], "data_sha256": "abc"})
    assert err.value.keys == ["vocabulary", "data_sha256"]
    assert isinstance(err.value, ValueError)


def test_corrupted_or_missing_files_are_refused(model, tmp_path):
    path = tmp_path / "m"
    save_generative_model(VAEGAN(model.vae, model.gan), path)
    with pytest.raises(ArtifactError, match="already exists"):
        save_generative_model(VAEGAN(model.vae), path)
    tensors, sidecar = model_paths(path)
    blob = bytearray(tensors.read_bytes())
    blob[-1] ^= 0xFF
    tensors.write_bytes(bytes(blob))
    with pytest.raises(ArtifactMismatchError, match="corrupted or was replaced") as err:
        load_generative_model(path)
    assert err.value.keys == ["sha256"]
    sidecar.write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_generative_model(path)
    sidecar.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ArtifactError, match="not a model file of type .operators-generative-model."):
        load_generative_model(path)
    with pytest.raises(ArtifactError, match="does not exist"):
        load_generative_model(tmp_path / "nothing")


def test_a_model_without_gan_round_trips(model, tmp_path, data):
    _, test = data
    bare = VAEGAN(model.vae)
    save_generative_model(bare, tmp_path / "vae_only", metadata={"note": "no gan"})
    loaded = load_generative_model(tmp_path / "vae_only.json")
    assert loaded.gan is None and loaded.metadata == {"note": "no gan"}
    np.testing.assert_array_equal(loaded.reconstruct(test[:20]), bare.reconstruct(test[:20]))
