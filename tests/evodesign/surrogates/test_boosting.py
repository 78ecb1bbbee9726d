"""GradientBoostingSurrogate: mean + quantile boosters, calibrated band, saved without pickle."""

from __future__ import annotations

import numpy as np
import pytest
from operators.seeding import as_generator
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from evodesign.exceptions import DataError
from evodesign.surrogates import load_model, save_model
from evodesign.surrogates import GradientBoostingSurrogate

FAST = {"max_iter": 60, "learning_rate": 0.2, "n_threads": 1}


def toy(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    noise = rng.normal(size=(n, 2)) * np.array([0.1, 0.5])
    Y = np.c_[X[:, 0] ** 2, X[:, 1] - X[:, 2]] + noise
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = toy(1500, 0)
    Y[::7, 1] = np.nan  # a row may miss a target: the other target's boosters still learn from it
    return GradientBoostingSurrogate(random_state=0, **FAST).fit(X, Y)


def test_fits_several_targets_with_calibrated_std(fitted):
    X, Y = toy(4000, 1)
    mean, std = fitted.predict(X, return_std=True)
    assert mean.shape == std.shape == (4000, 2) and (std > 0).all()
    assert fitted.n_iter_.shape == (2, 3) and not np.allclose(fitted.std_scale_, 1.0)
    coverage = (np.abs(Y - mean) <= 1.6449 * std).mean(axis=0)
    assert np.all(np.abs(coverage - 0.9) < 0.05), coverage
    # the noise of target 1 is 5x that of target 0: the band must see it
    assert 3 < np.median(std[:, 1]) / np.median(std[:, 0]) < 8
    assert np.corrcoef(mean[:, 1], Y[:, 1])[0, 1] > 0.8


def test_predictions_equal_scikit_learns_boosters():
    X, Y = toy(400, 2)
    ours = GradientBoostingSurrogate(calibrate=False, random_state=3, **FAST).fit(X, Y[:, 0])
    rng = as_generator(3)
    rng.permutation(400)
    seeds = rng.integers(2**31 - 1, size=(1, 2, 3))
    Xt, _ = toy(300, 4)
    raw = ours._boosters(Xt)
    for b, (loss, q) in enumerate([("squared_error", 0.5), ("quantile", 0.05), ("quantile", 0.95)]):
        with threadpool_limits(limits=1, user_api="openmp"):
            ref = HistGradientBoostingRegressor(
                loss=loss, quantile=q, learning_rate=0.2, max_iter=60, max_leaf_nodes=31, min_samples_leaf=10,
                max_features=0.5, early_stopping=True, n_iter_no_change=30, random_state=int(seeds[0, 0, b]),
            ).fit(X, Y[:, 0])
        np.testing.assert_allclose(raw[b], ref.predict(Xt), rtol=1e-12, atol=1e-12)
    mean, std = ours.predict(Xt, return_std=True)
    assert mean.shape == std.shape == (300,)  # a 1-d target gives 1-d predictions
    np.testing.assert_allclose(std, np.abs(raw[2] - raw[1]) / (2 * 1.6448536269514722))


def test_estimator_conventions():
    model = GradientBoostingSurrogate(max_iter=5, random_state=np.random.default_rng(0))
    assert model.get_params()["max_iter"] == 5 and not hasattr(model, "roots_")
    X, Y = toy(80, 5)
    assert clone(model).set_params(random_state=1, n_threads=1).fit(X, Y) is not None
    again = [GradientBoostingSurrogate(random_state=7, **FAST).fit(X, Y).predict(X, return_std=True)
             for _ in range(2)]
    np.testing.assert_array_equal(again[0][0], again[1][0])
    np.testing.assert_array_equal(again[0][1], again[1][1])
    other = GradientBoostingSurrogate(random_state=8, **FAST).fit(X, Y).predict(X)
    assert not np.array_equal(other, again[0][0])
    with pytest.raises(DataError, match="not fitted yet"):
        GradientBoostingSurrogate().predict(X)
    with pytest.raises(DataError, match="quantiles must be"):
        GradientBoostingSurrogate(quantiles=(0.9, 0.1)).fit(X, Y)
    with pytest.raises(DataError, match="first in row 3"):
        GradientBoostingSurrogate().fit(np.where(np.arange(80)[:, None] == 3, np.nan, X), Y)


def test_save_load_round_trip_is_bit_identical_and_needs_no_pickle(fitted, tmp_path):
    path = save_model(fitted, tmp_path / "boost", metadata={"targets": ["a", "b"]})
    from safetensors.torch import load_file

    tensors = load_file(tmp_path / "boost.safetensors")  # plain arrays: nothing to unpickle
    assert {"left_", "right_", "feature_", "threshold_", "value_", "roots_", "booster_start_",
            "baseline_", "std_scale_"} == set(tensors)
    loaded = load_model(path, expect={"targets": ["a", "b"]})
    assert loaded.quantiles == (0.05, 0.95) and loaded.n_iter_.tolist() == fitted.n_iter_.tolist()
    X, _ = toy(100, 6)
    for a, b in zip(loaded.predict(X, return_std=True), fitted.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_inconsistent_tree_arrays_are_refused(fitted):
    tensors = fitted._state_tensors()
    params, info = fitted.get_params(), fitted._fitted_info()
    assert GradientBoostingSurrogate._from_state(params, info, tensors).n_targets_ == 2
    for name, bad in [
        ("booster_start_", tensors["booster_start_"][:-1]),  # one booster fewer than 3 per target
        ("left_", tensors["left_"].clone().fill_(0)),  # a child pointing back up: an endless walk
        ("feature_", tensors["feature_"] + 5),  # a split on a feature the model never saw
    ]:
        with pytest.raises(TypeError, match="inconsistent"):
            GradientBoostingSurrogate._from_state(params, info, {**tensors, name: bad})
