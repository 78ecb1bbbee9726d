"""Synthetic sparse simplex data and one tiny trained model shared by the operator tests."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from operators import fit_generative_model, save_generative_model
from toy_data import N_VAR, TINY_GAN, TINY_VAE, toy_vectors


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: these models are tiny and the test machines have few shared
    cores, where torch's default thread pool is ~100x slower from contention. Thread count
    is a speed setting, not a source of randomness."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data() -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) toy vectors, `(2000, 30)` and `(400, 30)`."""
    X = toy_vectors(2400)
    return X[:2000], X[2000:]


@pytest.fixture(scope="session")
def trained(data, tmp_path_factory):
    """A tiny VAE + latent GAN fitted on the toy data and saved (so operators can be pickled)."""
    train, _ = data
    start = time.perf_counter()
    model, history = fit_generative_model(
        train, vae_options=TINY_VAE, gan_options=TINY_GAN, random_state=0, progress=False
    )
    history["fit_seconds"] = time.perf_counter() - start
    path = tmp_path_factory.mktemp("model") / "toy"
    save_generative_model(model, path, metadata={"vocabulary": [f"c{i}" for i in range(N_VAR)]})
    return model, history


@pytest.fixture(scope="session")
def model(trained):
    return trained[0]


@pytest.fixture(scope="session")
def model_path(model) -> Path:
    return model.path
