"""Encoding refinement (semi-amortized inference): better codes for rows the encoder misses."""

from __future__ import annotations

import numpy as np
import pytest

from operators import VAEGAN, load_generative_model, save_generative_model


def _matches(model: GenerativeModel, X: np.ndarray, refine: bool) -> np.ndarray:
    R = model.reconstruct(X, refine=refine)
    support = ((R > 0) == (X > 0)).all(axis=1)
    return support & (np.abs(R - X).max(axis=1) <= model.refine_tol)


def test_refinement_reconstructs_more_held_out_rows_and_leaves_matching_rows_alone(model, data):
    _, held = data
    refined = VAEGAN(model.vae, model.gan, refine_steps=30)
    before, after = _matches(refined, held, False), _matches(refined, held, True)
    assert before.mean() < 0.98
    assert after.mean() > before.mean() + 0.25 * (1 - before.mean())
    # rows the encoder already reconstructs keep the encoder's code exactly
    np.testing.assert_array_equal(
        refined.encode(held[before]), refined.encode(held[before], refine=False)
    )
    assert not np.array_equal(refined.encode(held), refined.encode(held, refine=False))
    # deterministic
    np.testing.assert_array_equal(refined.encode(held), refined.encode(held))


def test_refine_steps_zero_is_the_posterior_mean_and_settings_are_saved(model, data, tmp_path):
    _, held = data
    plain = VAEGAN(model.vae, model.gan, refine_steps=0)
    np.testing.assert_array_equal(plain.encode(held), plain.encode(held, refine=False))
    own = VAEGAN(model.vae, model.gan, refine_steps=7, refine_lr=0.02, refine_tol=0.01)
    save_generative_model(own, tmp_path / "m")
    loaded = load_generative_model(tmp_path / "m")
    assert loaded.inference_config() == {"refine_steps": 7, "refine_lr": 0.02, "refine_tol": 0.01}
    np.testing.assert_array_equal(loaded.encode(held[:50]), own.encode(held[:50]))
    with pytest.raises(ValueError, match="refine_steps"):
        VAEGAN(model.vae, refine_steps=-1)


def test_repeated_rows_get_the_same_code_as_alone(model, data):
    _, held = data
    refined = VAEGAN(model.vae, model.gan, refine_steps=10)
    twice = refined.encode(np.vstack([held[:100], held[:100][::-1]]))
    np.testing.assert_array_equal(twice[:100], twice[100:][::-1])
    np.testing.assert_allclose(twice[:100], refined.encode(held[:100]), atol=1e-5)


def test_unique_rows_groups_exactly_equal_rows_only():
    from operators.vaegan import _unique_rows

    rng = np.random.default_rng(0)
    base = rng.integers(0, 4, size=(300, 12)).astype(float)
    base[base.sum(axis=1) == 0, 0] = 1
    base /= base.sum(axis=1, keepdims=True)  # sparse rational rows, many exact repeats
    X = base[rng.integers(300, size=1000)]
    unique, inverse = _unique_rows(X)
    np.testing.assert_array_equal(unique[inverse], X)
    assert len(unique) == len(np.unique(X, axis=0))
