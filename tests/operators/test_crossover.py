from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population

from operators import LatentInterpolationCrossover, interpolation_children, lerp, slerp, vector_key
from operators.provenance import CLONE, parent_keys
from toy_data import N_VAR, ToyProblem


def _mating(train: np.ndarray, n_matings: int, seed: int = 0) -> tuple[Population, np.ndarray]:
    rng = np.random.default_rng(seed)
    pop = Population.new("X", train[:100])
    return pop, rng.integers(100, size=(n_matings, 2))


def test_do_shape_contract_and_valid_children(model, data):
    train, _ = data
    xover = LatentInterpolationCrossover(model)
    X = np.stack([train[:40], train[40:80]])  # (n_parents, n_matings, n_var)
    Q = xover._do(ToyProblem(), X, random_state=np.random.default_rng(0))
    assert Q.shape == (2, 40, N_VAR)
    pop, parents = _mating(train, 25)
    off = xover.do(ToyProblem(), pop, parents, random_state=np.random.default_rng(0))
    Y = off.get("X")
    assert Y.shape == (50, N_VAR)
    assert np.all(Y >= 0) and np.allclose(Y.sum(axis=1), 1.0, atol=1e-12)
    nnz = (Y > 0).sum(axis=1)
    assert nnz.min() >= 2 and nnz.max() <= 4


def test_children_at_t_0_and_1_are_the_parents_themselves(model, data):
    train, _ = data
    Xa, Xb = train[:3], train[3:6]
    children = interpolation_children(model, Xa, Xb, np.array([0.0, 1.0, 0.5]))
    assert children.shape == (2, 3, N_VAR)
    assert np.array_equal(children[0, 0], Xa[0]) and np.array_equal(children[1, 0], Xb[0])
    assert np.array_equal(children[0, 1], Xb[1]) and np.array_equal(children[1, 1], Xa[1])
    # t = 0.5 is decoded, and both children at t = 1 - t = 0.5 are the same decoding
    assert np.array_equal(children[0, 2], children[1, 2])


def test_one_encode_and_one_decode_per_call(model, data, monkeypatch):
    train, _ = data
    calls = {"encode": 0, "decode": 0}
    for name in calls:
        original = getattr(model, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(model, name, counted)
    pop, parents = _mating(train, 60)
    xover = LatentInterpolationCrossover(model)
    xover.do(ToyProblem(), pop, parents, random_state=np.random.default_rng(0))
    assert calls == {"encode": 1, "decode": 1}


def test_same_seed_same_children_other_seed_other_children(model, data):
    train, _ = data
    pop, parents = _mating(train, 30)
    xover = LatentInterpolationCrossover(model, method="lerp")

    def run(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return xover.do(ToyProblem(), pop, parents, random_state=rng).get("X")

    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_provenance_names_operator_and_parents(model, data):
    train, _ = data
    pop, parents = _mating(train, 40)
    off = LatentInterpolationCrossover(model, prob=0.5).do(
        ToyProblem(), pop, parents, random_state=np.random.default_rng(3)
    )
    operators = off.get("operator")
    assert set(operators) == {"LatentInterpolationCrossover", CLONE}
    for i, child in enumerate(off):
        a, b = (pop[k].X for k in parents[i % 40])
        if child.get("operator") == CLONE:
            assert child.get("parents") in {vector_key(a), vector_key(b)}
            assert vector_key(child.X) == child.get("parents")
        else:
            assert parent_keys(child.get("parents")) == (vector_key(a), vector_key(b))
    assert off.get("parents").shape == (80,)  # pymoo's array view works


def test_slerp_and_lerp_end_points_and_arc():
    rng = np.random.default_rng(0)
    za, zb = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    for f in (slerp, lerp):
        np.testing.assert_allclose(f(za, zb, np.zeros(5)), za, atol=1e-12)
        np.testing.assert_allclose(f(za, zb, np.ones(5)), zb, atol=1e-12)
    # slerp of two vectors of equal norm keeps the norm; lerp shrinks it
    zb = zb / np.linalg.norm(zb, axis=1, keepdims=True) * np.linalg.norm(za, axis=1, keepdims=True)
    half = np.full(5, 0.5)
    norm = np.linalg.norm(za, axis=1)
    np.testing.assert_allclose(np.linalg.norm(slerp(za, zb, half), axis=1), norm)
    assert np.all(np.linalg.norm(lerp(za, zb, half), axis=1) < np.linalg.norm(za, axis=1))
    # parallel vectors fall back to the line
    np.testing.assert_allclose(slerp(za, 2 * za, half), 1.5 * za)


def test_bad_arguments_are_refused(model, data):
    with pytest.raises(ValueError, match="unknown interpolation"):
        LatentInterpolationCrossover(model, method="cubic")
    with pytest.raises(ValueError, match=r"shape \(n, 30\)"):
        interpolation_children(model, np.ones((2, 5)) / 5, np.ones((2, 5)) / 5, 0.5)


def test_extrapolation_draws_weights_beyond_the_parents_and_zero_keeps_the_old_draws():
    from operators.crossover import draw_weights

    t = draw_weights(np.random.default_rng(0), 20_000, 0.5)
    assert t.min() < -0.45 and t.max() > 1.45 and -0.5 <= t.min() and t.max() <= 1.5
    assert 0.45 < np.mean((t < 0) | (t > 1)) < 0.55  # half of U(-0.5, 1.5) lies outside [0, 1]
    plain = draw_weights(np.random.default_rng(1), 100, 0.0)
    assert np.array_equal(plain, np.random.default_rng(1).random(100))
    with pytest.raises(ValueError, match="extrapolation must be >= 0"):
        draw_weights(np.random.default_rng(0), 3, -0.1)


def test_extrapolating_crossover_children_are_valid_and_differ(model, data):
    train, _ = data
    X = np.stack([train[:40], train[40:80]])
    plain = LatentInterpolationCrossover(model)._do(ToyProblem(), X, random_state=np.random.default_rng(0))
    wide = LatentInterpolationCrossover(model, extrapolation=0.5)._do(ToyProblem(), X, random_state=np.random.default_rng(0))
    assert wide.shape == (2, 40, N_VAR) and np.allclose(wide.sum(axis=2), 1.0, atol=1e-12)
    assert not np.array_equal(plain, wide)
    with pytest.raises(ValueError, match=r"extrapolation must be in \[0, 1\]"):
        LatentInterpolationCrossover(model, extrapolation=2.0)
