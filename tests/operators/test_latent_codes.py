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


def test_cross_without_decode_leaves_children_to_their_codes(model, data):
    train, _ = data
    X = np.stack([train[:40], train[40:80]])
    Z = np.stack([model.encode(train[:40]), model.encode(train[40:80])])
    xover = LatentInterpolationCrossover(model)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    Y, Zc = xover.cross(X, rng_a, Z=Z)
    lazy, Zl = xover.cross(X, rng_b, Z=Z, decode=False)
    assert np.array_equal(Zc, Zl)
    assert rng_a.random() == rng_b.random()  # the same random numbers consumed
    flat = lazy.reshape(80, -1)
    assert np.isnan(flat).all(axis=1).all()  # every child interpolated (t in (0, 1))
    np.testing.assert_array_equal(model.decode(Zl.reshape(80, -1)), Y.reshape(80, -1))
    # a guided crossover decodes regardless: its test needs the children
    from toy_data import FewComponents

    guided, _ = LatentInterpolationCrossover(model, accept=FewComponents(2)).cross(
        X, np.random.default_rng(3), Z=Z, decode=False
    )
    assert np.isfinite(guided).all()


def test_mutate_takes_undecoded_rows_by_their_codes(model, data):
    from toy_data import FewComponents

    train, _ = data
    Z = model.encode(train[:30])
    X = model.decode(Z)
    pending = X.copy()
    pending[::2] = np.nan  # half the rows not decoded yet
    mutation = GANMutation(model)
    Y, Zm = mutation.mutate(X, np.random.default_rng(0), Z=Z)
    Yp, Zp = mutation.mutate(pending, np.random.default_rng(0), Z=Z)
    assert np.array_equal(Y, Yp) and np.array_equal(Zm, Zp)
    # strength 0 returns the rows themselves: the undecoded ones are decoded
    same, _ = GANMutation(model, strength=0.0).mutate(pending, np.random.default_rng(0), Z=Z)
    assert np.array_equal(same, X)
    # a guided mutation compares mutants with their parents: same mutants either way
    guided = GANMutation(model, accept=FewComponents(2), max_tries=3)
    G, _ = guided.mutate(X, np.random.default_rng(1), Z=Z)
    Gp, _ = guided.mutate(pending, np.random.default_rng(1), Z=Z)
    assert np.array_equal(G, Gp)
    # a NaN row without a code is still refused
    bad = Z.copy()
    bad[0] = np.nan
    import pytest

    from operators.exceptions import DataError

    with pytest.raises(DataError, match="non-finite value at row 0"):
        mutation.mutate(pending, np.random.default_rng(0), Z=bad)
