"""The array-level entries `cross` / `mutate`: known latent codes are used, not re-encoded,
and every child comes back with the latent point it was decoded from."""

from __future__ import annotations

import numpy as np

from operators import GANMutation, LatentInterpolationCrossover
from operators.mutation import DEFAULT_DIRECTION, DEFAULT_STRENGTH


def _count_encodes(model, monkeypatch):
    rows = []
    encode = model.encode

    def counting(X, *args, **kwargs):
        rows.append(len(X))
        return encode(X, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    return rows


def test_defaults_are_the_measured_best():
    assert (DEFAULT_STRENGTH, DEFAULT_DIRECTION) == (0.6, "difference")
    import inspect

    params = inspect.signature(GANMutation).parameters
    assert params["strength"].default == 0.6 and params["direction"].default == "difference"


def test_cross_uses_known_codes_and_returns_the_decoded_points(model, data, monkeypatch):
    train, _ = data
    X = np.stack([train[:40], train[40:80]])
    Z = np.stack([model.encode(train[:40]), model.encode(train[40:80])])
    Z[0, :5] = np.nan  # five unknown codes: only they are encoded
    rows = _count_encodes(model, monkeypatch)
    xover = LatentInterpolationCrossover(model)
    Y, Zc = xover.cross(X, np.random.default_rng(0), Z=Z)
    assert rows == [5]
    assert Y.shape == X.shape and Zc.shape == (2, 40, model.latent_dim)
    assert np.array_equal(model.decode(Zc.reshape(80, -1)), Y.reshape(80, -1))
    # without codes: the same children as the pymoo entry point, every parent encoded once
    rows.clear()
    plain, _ = xover.cross(X, np.random.default_rng(1))
    assert rows == [80]
    assert np.array_equal(plain, xover._do(None, X, random_state=np.random.default_rng(1)))


def test_mutate_steps_from_known_codes(model, data, monkeypatch):
    train, _ = data
    X = train[:30]
    Z = model.encode(X)
    rows = _count_encodes(model, monkeypatch)
    mutation = GANMutation(model)
    Y, Zm = mutation.mutate(X, np.random.default_rng(0), Z=Z)
    assert rows == []
    assert np.array_equal(model.decode(Zm), Y)
    # the same mutants as from freshly encoded parents (the codes are the same)
    again, _ = mutation.mutate(X, np.random.default_rng(0))
    assert rows == [30]
    assert np.array_equal(again, Y)
    # strength 0: the rows and codes as they are
    same, codes = GANMutation(model, strength=0.0).mutate(X, np.random.default_rng(0), Z=Z)
    assert np.array_equal(same, X) and np.array_equal(codes, Z)


def test_guided_operators_return_the_code_of_each_childs_last_draw(model, data):
    from toy_data import FewComponents

    train, _ = data
    X = np.stack([train[:40], train[40:80]])
    accept = FewComponents(2)
    Y, Zc = LatentInterpolationCrossover(model, accept=accept, max_tries=4).cross(X, np.random.default_rng(0))
    assert accept.calls > 1  # some children were redrawn
    flat, codes = Y.reshape(80, -1), Zc.reshape(80, -1)
    mid = ~np.isnan(codes).any(axis=1)
    assert mid.any()
    np.testing.assert_array_equal(model.decode(codes[mid]), flat[mid])
    accept = FewComponents(2)
    M, Zm = GANMutation(model, accept=accept, max_tries=4).mutate(flat, np.random.default_rng(1), Z=codes)
    assert accept.calls > 1
    np.testing.assert_array_equal(model.decode(Zm), M)
