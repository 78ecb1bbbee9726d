from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population

from operators import GANMutation, VAEGAN, OperatorsError, latent_step, vector_key
from toy_data import N_VAR, ToyProblem


def test_shape_contract_and_valid_rows(model, data):
    train, _ = data
    mutation = GANMutation(model, strength=0.5)
    Y = mutation._do(ToyProblem(), train[:64], random_state=np.random.default_rng(0))
    assert Y.shape == (64, N_VAR)
    assert np.all(Y >= 0) and np.allclose(Y.sum(axis=1), 1.0, atol=1e-12)
    nnz = (Y > 0).sum(axis=1)
    assert nnz.min() >= 2 and nnz.max() <= 4
    assert np.mean(np.any(Y != train[:64], axis=1)) > 0.9  # it does mutate


def test_strength_zero_returns_the_parents_bit_identical(model, data):
    train, _ = data
    pop = Population.new("X", train[:30].copy())
    mutation = GANMutation(model, strength=0.0)
    off = mutation.do(ToyProblem(), pop, random_state=np.random.default_rng(0))
    assert np.array_equal(off.get("X"), train[:30])
    assert all(op is None for op in off.get("operator"))  # nothing changed, nothing recorded
    import torch

    assert np.array_equal(latent_step(model, train[:5], 0.0, torch.Generator()), train[:5])


def test_strength_one_lands_on_gan_samples_and_small_strength_stays_close(model, data):
    train, _ = data
    rng = np.random.default_rng(0)
    near = GANMutation(model, strength=0.05, direction="toward")._do(ToyProblem(), train[:200], random_state=rng)
    far = GANMutation(model, strength=1.0, direction="toward")._do(ToyProblem(), train[:200], random_state=rng)
    reconstruction = model.reconstruct(train[:200])
    dist_near = np.abs(near - reconstruction).sum(axis=1).mean()
    dist_far = np.abs(far - reconstruction).sum(axis=1).mean()
    assert dist_near < 0.5 * dist_far


def test_same_seed_same_mutants_other_seed_other_mutants(model, data):
    train, _ = data
    mutation = GANMutation(model, prob=0.7)

    def run(seed: int) -> np.ndarray:
        pop = Population.new("X", train[:40].copy())
        return mutation.do(ToyProblem(), pop, random_state=np.random.default_rng(seed)).get("X")

    assert np.array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


def test_provenance_chains_after_crossover(model, data):
    train, _ = data
    pop = Population.new("X", train[:6].copy())
    pop[:3].set("operator", "LatentInterpolationCrossover")
    pop[:3].set("parents", "a,b")
    mutation = GANMutation(model, strength=0.5)
    off = mutation.do(ToyProblem(), pop, random_state=np.random.default_rng(0))
    for i, ind in enumerate(off):
        if i < 3:
            assert ind.get("operator") == "LatentInterpolationCrossover+GANMutation"
            assert ind.get("parents") == "a,b"
        else:
            assert ind.get("operator") == "GANMutation"
            assert ind.get("parents") == vector_key(train[i])


def test_a_model_without_gan_needs_the_prior_source(model, data):
    train, _ = data
    bare = VAEGAN(model.vae)
    with pytest.raises(OperatorsError, match="no latent GAN"):
        GANMutation(bare)._do(ToyProblem(), train[:3], random_state=np.random.default_rng(0))
    prior = GANMutation(bare, source="vae")
    Y = prior._do(ToyProblem(), train[:3], random_state=np.random.default_rng(0))
    assert Y.shape == (3, N_VAR)
    with pytest.raises(ValueError, match="strength"):
        GANMutation(model, strength=1.5)


def test_difference_direction_has_no_pull_towards_the_data_centre(model, data):
    import torch

    from operators.mutation import _step

    z = torch.zeros(4000, model.latent_dim).numpy() + 3.0  # far from where the GAN samples lie
    g = torch.Generator().manual_seed(0)
    toward = _step(model, z, 0.5, g, "gan", "toward")
    diff = _step(model, z, 0.5, torch.Generator().manual_seed(0), "gan", "difference")
    # a pull moves the mean of the codes towards the samples' mean; a difference step does not
    centre = model.sample_latent(4000, "gan", torch.Generator().manual_seed(1)).mean(axis=0)
    assert np.linalg.norm(toward.mean(axis=0) - centre) < 0.75 * np.linalg.norm(z.mean(axis=0) - centre)
    np.testing.assert_allclose(diff.mean(axis=0), z.mean(axis=0), atol=0.15)
    assert diff.std(axis=0).mean() > 0.01  # but it does move each code


def test_difference_mutants_are_valid_and_reproducible(model, data):
    train, _ = data
    mutation = GANMutation(model, strength=0.5, direction="difference")
    Y = mutation._do(ToyProblem(), train[:64], random_state=np.random.default_rng(3))
    assert Y.shape == (64, N_VAR) and np.allclose(Y.sum(axis=1), 1.0, atol=1e-12)
    assert np.mean(np.any(Y != train[:64], axis=1)) > 0.5
    again = mutation._do(ToyProblem(), train[:64], random_state=np.random.default_rng(3))
    assert np.array_equal(Y, again)
    with pytest.raises(ValueError, match="unknown direction 'away'"):
        GANMutation(model, direction="away")
