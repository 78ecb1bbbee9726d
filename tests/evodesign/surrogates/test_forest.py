"""RandomForestSurrogate: several targets, calibrated spread of trees, saved without pickle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor

from evodesign.exceptions import ArtifactError, DataError
from evodesign.surrogates import RandomForestSurrogate, load_model, save_model


def toy(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    noise = rng.normal(size=(n, 2)) * np.array([0.1, 0.5])
    Y = np.c_[X[:, 0] ** 2, X[:, 1] - X[:, 2]] + noise
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = toy(600, 0)
    Y[::7, 1] = np.nan  # a row may miss a target: the other forest still learns from it
    return RandomForestSurrogate(n_estimators=40, n_jobs=1, random_state=0).fit(X, Y)


def test_fits_several_targets_with_calibrated_std(fitted):
    X, Y = toy(3000, 1)
    mean, std = fitted.predict(X, return_std=True)
    assert mean.shape == std.shape == (3000, 2) and (std >= 0).all()
    assert fitted.n_targets_ == 2 and len(fitted.roots_) == 2 * 40
    # the raw spread of the trees is not calibrated; the scaled one holds ~90% of new points
    assert not np.allclose(fitted.std_scale_, 1.0)
    coverage = (np.abs(Y - mean) <= 1.6449 * std).mean(axis=0)
    assert np.all(np.abs(coverage - 0.9) < 0.05), coverage
    assert np.corrcoef(mean[:, 1], Y[:, 1])[0, 1] > 0.8


def test_predictions_equal_scikit_learns_forest():
    X, Y = toy(300, 2)
    ours = RandomForestSurrogate(n_estimators=15, calibrate=False, n_jobs=1, random_state=3).fit(X, Y[:, 0])
    seed = np.random.default_rng(3)
    seed.permutation(300)
    ref = RandomForestRegressor(
        n_estimators=15, max_features=1 / 3, random_state=int(seed.integers(2**31 - 1)), n_jobs=1
    ).fit(X, Y[:, 0])
    Xt, _ = toy(200, 4)
    mean, std = ours.predict(Xt, return_std=True)
    assert mean.shape == (200,)  # a 1-d target gives 1-d predictions
    np.testing.assert_array_equal(mean, ref.predict(Xt))
    np.testing.assert_allclose(std, np.stack([t.predict(Xt) for t in ref.estimators_]).std(axis=0))


def test_estimator_conventions():
    model = RandomForestSurrogate(n_estimators=5, random_state=np.random.default_rng(0))
    assert model.get_params()["n_estimators"] == 5 and not hasattr(model, "roots_")
    X, Y = toy(60, 5)
    assert clone(model).set_params(random_state=1).fit(X, Y) is not None
    again = [RandomForestSurrogate(n_estimators=5, n_jobs=1, random_state=7).fit(X, Y).predict(X) for _ in range(2)]
    np.testing.assert_array_equal(*again)
    with pytest.raises(DataError, match="not fitted yet"):
        RandomForestSurrogate().predict(X)
    with pytest.raises(DataError, match="y holds inf"):
        RandomForestSurrogate(n_estimators=2).fit(X, np.where(Y > 1, np.inf, Y))


def test_save_load_round_trip_is_bit_identical_and_needs_no_pickle(fitted, tmp_path):
    path = save_model(fitted, tmp_path / "forest", metadata={"targets": ["a", "b"]})
    from safetensors.torch import load_file

    tensors = load_file(tmp_path / "forest.safetensors")  # plain arrays: nothing to unpickle
    assert {"left_", "right_", "feature_", "threshold_", "value_", "roots_", "std_scale_"} == set(tensors)
    loaded = load_model(path, expect={"targets": ["a", "b"]})
    X, _ = toy(100, 6)
    for a, b in zip(loaded.predict(X, return_std=True), fitted.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_inconsistent_tree_arrays_are_refused(fitted, tmp_path):
    tensors = fitted._state_tensors()
    info = fitted._fitted_info()
    params = fitted.get_params()
    bad = dict(tensors)
    left = tensors["left_"].clone()
    internal = int(torch.nonzero(left >= 0)[1])
    left[internal] = 0  # a child before its parent: a walk could loop for ever
    bad["left_"] = left
    with pytest.raises(TypeError, match="inconsistent"):
        RandomForestSurrogate._from_state(params, info, bad)
    # through a model file whose hash was forged to match, it is an ArtifactError
    path = tmp_path / "forged"
    fitted_copy = RandomForestSurrogate._from_state(params, info, tensors)
    fitted_copy.left_ = left.numpy()
    save_model(fitted_copy, path)
    with pytest.raises(ArtifactError, match="does not match its sidecar .*inconsistent.*delete"):
        load_model(path)


def test_out_of_bag_calibration_uses_every_row_and_covers():
    X, Y = toy(1500, 8)
    oob = RandomForestSurrogate(n_estimators=60, n_jobs=1, random_state=0, calibration="oob").fit(X, Y)
    raw = RandomForestSurrogate(n_estimators=60, n_jobs=1, random_state=0, calibrate=False).fit(X, Y)
    Xt, Yt = toy(3000, 9)
    mean, std = oob.predict(Xt, return_std=True)
    # the same forests as without calibration (no row held out); only the std is scaled
    np.testing.assert_array_equal(mean, raw.predict(Xt))
    np.testing.assert_allclose(std, raw.predict(Xt, return_std=True)[1] * oob.std_scale_)
    coverage = (np.abs(Yt - mean) <= 1.6449 * std).mean(axis=0)
    assert np.all((coverage > 0.86) & (coverage < 0.96)), coverage
    with pytest.raises(DataError, match="calibration must be 'holdout' or 'oob', got 'cv'"):
        RandomForestSurrogate(calibration="cv").fit(X, Y)


def _zero_inflated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A band-gap-like target: 0 (a metal) for about half the rows, else a smooth positive
    value, with the class only partly predictable from the features."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 6))
    metal = X[:, 0] + 0.6 * rng.normal(size=n) > 0
    gap = np.where(metal, 0.0, 1.5 + X[:, 1] + 0.3 * rng.normal(size=n))
    return X, np.maximum(gap, 0.0)


@pytest.mark.parametrize("calibration", ["holdout", "oob"])
def test_median_center_predicts_the_median_over_trees_and_wins_in_mae_on_a_point_mass(calibration, tmp_path):
    X, y = _zero_inflated(3000, 0)  # 300 calibration rows for the holdout
    Xt, yt = _zero_inflated(2000, 1)
    kwargs = dict(n_estimators=60, n_jobs=1, random_state=0, calibration=calibration)
    mean_forest = RandomForestSurrogate(**kwargs).fit(X, y)
    median_forest = RandomForestSurrogate(center="median", **kwargs).fit(X, y)
    per_tree = median_forest._per_tree(Xt)
    center, std = median_forest.predict(Xt, return_std=True)
    # the same trees; only the point prediction (and the std's calibration around it) differ
    np.testing.assert_array_equal(per_tree, mean_forest._per_tree(Xt))
    np.testing.assert_array_equal(center, np.median(per_tree, axis=0))
    np.testing.assert_array_equal(mean_forest.predict(Xt), per_tree.mean(axis=0))
    mae_mean, mae_median = (np.abs(p - yt).mean() for p in (mean_forest.predict(Xt), center))
    assert mae_median < 0.9 * mae_mean, (mae_median, mae_mean)
    coverage = (np.abs(yt - center) <= 1.6449 * std).mean()
    assert 0.85 < coverage < 0.96, coverage
    loaded = load_model(save_model(median_forest, tmp_path / "median"))
    assert loaded.center == "median"
    np.testing.assert_array_equal(loaded.predict(Xt), center)
    with pytest.raises(DataError, match="center must be 'mean' or 'median', got 'mode'"):
        RandomForestSurrogate(center="mode").fit(X, y)
