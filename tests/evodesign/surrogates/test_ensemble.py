from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from evodesign.exceptions import ArtifactError, DataError
from evodesign.surrogates import (
    DeepEnsembleRegressor,
    PropertyModel,
    RandomForestSurrogate,
    load_model,
    save_model,
)

SMALL = dict(n_members=3, hidden_layer_sizes=(32, 32), max_epochs=60, patience=10, batch_size=64)


def toy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-d regression with noise that grows with x (heteroscedastic)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    noise = 0.05 + 0.2 * (X[:, 0] + 2) / 4
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + noise * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[DeepEnsembleRegressor, np.ndarray, np.ndarray]:
    X, y = toy(1500)
    return DeepEnsembleRegressor(random_state=0, **SMALL).fit(X[:1000], y[:1000]), X[1000:], y[1000:]


def test_sklearn_conventions():
    model = DeepEnsembleRegressor(n_members=2, random_state=3)
    assert model.get_params()["n_members"] == 2
    assert not hasattr(model, "net_")  # __init__ does nothing but store
    cloned = clone(model)
    assert cloned.get_params() == model.get_params()


def test_shapes_accuracy_and_calibrated_coverage(fitted):
    model, X, y = fitted
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == (len(X),)
    assert (std > 0).all()
    mae = np.mean(np.abs(y - mean))
    assert mae < 0.5 * np.mean(np.abs(y - y.mean()))  # learns something real
    lo, hi = model.interval(X, confidence=0.9)
    coverage = np.mean((y >= lo) & (y <= hi))
    assert 0.8 <= coverage <= 0.97
    # heteroscedastic: predicted std grows with the true noise level
    assert std[X[:, 0] > 1].mean() > std[X[:, 0] < -1].mean()


def test_multi_target_with_missing_values():
    X, y = toy(600)
    Y = np.stack([y, -y], axis=1)
    Y[::7, 1] = np.nan
    model = DeepEnsembleRegressor(random_state=0, **SMALL).fit(X, Y)
    mean, std = model.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5, 2)
    assert np.isfinite(mean).all()


def test_same_seed_same_model_other_seed_differs():
    X, y = toy(400)
    params = {**SMALL, "max_epochs": 5}
    a = DeepEnsembleRegressor(random_state=7, **params).fit(X, y).predict(X[:20])
    b = DeepEnsembleRegressor(random_state=7, **params).fit(X, y).predict(X[:20])
    c = DeepEnsembleRegressor(random_state=8, **params).fit(X, y).predict(X[:20])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_inputs_are_refused():
    X, y = toy(50)
    with pytest.raises(DataError, match="not fitted yet"):
        DeepEnsembleRegressor().predict(X)
    with pytest.raises(DataError, match="non-finite value at row 3, column 1"):
        Xbad = X.copy()
        Xbad[3, 1] = np.inf
        DeepEnsembleRegressor(**SMALL).fit(Xbad, y)
    with pytest.raises(DataError, match="X has 50 rows but y has 49"):
        DeepEnsembleRegressor(**SMALL).fit(X, y[:-1])
    model = DeepEnsembleRegressor(random_state=0, **{**SMALL, "max_epochs": 2}).fit(X, y)
    with pytest.raises(DataError, match=r"shape \(n, 3\)"):
        model.predict(X[:, :2])


def test_save_load_round_trip_and_refusals(fitted, tmp_path):
    model, X, _ = fitted
    path = tmp_path / "model"
    sidecar = save_model(model, path, metadata={"targets": ["y"], "data_hash": "abc"})
    meta = json.loads(sidecar.read_text())
    assert meta["class"] == "DeepEnsembleRegressor" and meta["params"]["n_members"] == 3
    loaded = load_model(path, expect={"targets": ["y"]})
    np.testing.assert_allclose(
        loaded.predict(X, return_std=True)[1], model.predict(X, return_std=True)[1], rtol=1e-6
    )
    # never overwritten silently
    with pytest.raises(ArtifactError, match="already exists; pass overwrite=True"):
        save_model(model, path)
    # mismatched metadata names the key
    with pytest.raises(ArtifactError, match=r"data_hash: model has \"abc\", expected \"xyz\""):
        load_model(path, expect={"data_hash": "xyz"})
    # corrupted weights are detected by the hash
    weights = tmp_path / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-10] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="corrupted or was replaced"):
        load_model(path)
    # a sidecar that is not JSON
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_model(path)
    with pytest.raises(ArtifactError, match="does not exist"):
        load_model(tmp_path / "nothing")


def test_random_forest_baseline():
    X, y = toy(400)
    rf = RandomForestSurrogate(n_estimators=20, random_state=0, n_jobs=1).fit(X[:300], y[:300])
    mean, std = rf.predict(X[300:], return_std=True)
    assert mean.shape == std.shape == (100,)
    np.testing.assert_allclose(mean, rf.predict(X[300:]))
    assert np.mean(np.abs(y[300:] - mean)) < np.mean(np.abs(y[300:] - y.mean()))


def test_property_model_on_compositions(tmp_path):
    from evodesign.representation import CompositionSpace

    space = CompositionSpace(["O", "Na", "Cl", "Fe", "Ti", "Ba"])
    rng = np.random.default_rng(0)
    X = space.fractions(space.decode(rng.random((300, space.n_var)) ** 3))
    Y = np.stack([X @ np.arange(space.n_var), X[:, 0] * 3], axis=1)
    model = PropertyModel(
        space.elements, ["a", "b"], estimator=DeepEnsembleRegressor(random_state=0, **SMALL)
    ).fit(X, Y)
    mean, std = model.predict(X[:4])
    assert mean.shape == std.shape == (4, 2)
    model.save(tmp_path / "pm")
    again = PropertyModel.load(tmp_path / "pm", elements=space.elements, targets=["a", "b"])
    np.testing.assert_allclose(again.predict(X[:4])[0], mean, rtol=1e-6)
    with pytest.raises(ArtifactError, match="targets: model has"):
        PropertyModel.load(tmp_path / "pm", targets=["a"])
    with pytest.raises(ArtifactError, match="elements: model has"):
        PropertyModel.load(tmp_path / "pm", elements=["O", "Na"])
    with pytest.raises(DataError, match="Y has 1 columns but the model predicts 2"):
        model.fit(X, Y[:, 0])


RESIDUAL = dict(SMALL, hidden_layer_sizes=(32, 32), architecture="residual", dropout=0.1,
                lr_schedule="cosine", warmup_epochs=2)


def test_residual_architecture_learns_is_seeded_and_round_trips(tmp_path):
    X, y = toy(1500)
    model = DeepEnsembleRegressor(random_state=0, **RESIDUAL).fit(X[:1000], y[:1000])
    mean, std = model.predict(X[1000:], return_std=True)
    assert np.mean(np.abs(y[1000:] - mean)) < 0.5 * np.mean(np.abs(y[1000:] - y[1000:].mean()))
    lo, hi = model.interval(X[1000:], confidence=0.9)
    assert 0.8 <= np.mean((y[1000:] >= lo) & (y[1000:] <= hi)) <= 0.97
    # dropout masks come from the estimator's own generator: same seed, same model
    params = {**RESIDUAL, "max_epochs": 4}
    a = DeepEnsembleRegressor(random_state=5, **params).fit(X[:300], y[:300]).predict(X[:20])
    b = DeepEnsembleRegressor(random_state=5, **params).fit(X[:300], y[:300]).predict(X[:20])
    c = DeepEnsembleRegressor(random_state=6, **params).fit(X[:300], y[:300]).predict(X[:20])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    save_model(model, tmp_path / "res", metadata={"targets": ["y"]})
    loaded = load_model(tmp_path / "res")
    assert loaded.architecture == "residual"
    np.testing.assert_allclose(loaded.predict(X[1000:]), mean, rtol=1e-6, atol=1e-6)


def test_cosine_schedule_warms_up_and_decays_to_zero():
    model = DeepEnsembleRegressor(learning_rate=1e-3)
    assert model._cosine_lr(0, 10, 100) == pytest.approx(1e-4)
    assert model._cosine_lr(9, 10, 100) == pytest.approx(1e-3)
    assert model._cosine_lr(55, 10, 100) == pytest.approx(0.5e-3)
    assert model._cosine_lr(100, 10, 100) == pytest.approx(0.0, abs=1e-12)


def test_bad_architecture_settings_are_refused():
    X, y = toy(50)
    with pytest.raises(DataError, match="architecture must be 'mlp' or 'residual', got 'cnn'"):
        DeepEnsembleRegressor(architecture="cnn").fit(X, y)
    with pytest.raises(DataError, match=r"one repeated width .* got \(64, 32\)"):
        DeepEnsembleRegressor(architecture="residual", hidden_layer_sizes=(64, 32)).fit(X, y)
    with pytest.raises(DataError, match=r"dropout must be in \[0, 1\), got 1.5"):
        DeepEnsembleRegressor(dropout=1.5).fit(X, y)
    with pytest.raises(DataError, match="lr_schedule must be 'constant' or 'cosine', got 'step'"):
        DeepEnsembleRegressor(lr_schedule="step").fit(X, y)


def test_warm_start_continues_training_and_keeps_the_scaling():
    """A warm-started fit starts from the fitted networks: one more epoch keeps the fitted
    accuracy (a fresh one-epoch fit is far worse), the scaling stays the first fit's, and
    data of another width is refused by name."""
    X, y = toy(600)
    model = DeepEnsembleRegressor(random_state=0, **SMALL).fit(X[:400], y[:400])
    x_mean = model.x_mean_.copy()

    def mae(m):
        return float(np.abs(m.predict(X[400:]) - y[400:]).mean())

    before = mae(model)
    warm = clone(model).set_params(warm_start=True, max_epochs=1)
    warm.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    warm.fit(X[:500], y[:500])
    cold = DeepEnsembleRegressor(random_state=0, **dict(SMALL, max_epochs=1)).fit(X[:500], y[:500])
    assert np.array_equal(warm.x_mean_, x_mean)
    assert mae(warm) < 1.2 * before < mae(cold)
    with pytest.raises(DataError, match="reads 3 features .* new data has 2"):
        warm.fit(X[:500, :2], y[:500])


def test_property_model_warm_start_updates_a_copy(tmp_path):
    """PropertyModel.fit(warm_start=True) continues from its fitted estimator, leaving the
    previous estimator object untouched (the model in use is never half-updated)."""
    from evodesign.representation import CompositionSpace

    space = CompositionSpace(["O", "Na", "Cl", "Fe", "Ti", "Ba"])
    rng = np.random.default_rng(1)
    X = space.fractions(space.decode(rng.random((300, space.n_var)) ** 3))
    Y = (X @ np.arange(space.n_var))[:, None]
    model = PropertyModel(space.elements, ["a"], estimator=DeepEnsembleRegressor(random_state=0, **SMALL))
    model.fit(X[:200], Y[:200])
    old = model.estimator_
    old_prediction = old.predict(model.features.transform(X[200:]))
    model.fit(X, Y, warm_start=True)
    assert model.estimator_ is not old and model.estimator_.warm_start
    np.testing.assert_array_equal(old.predict(model.features.transform(X[200:])), old_prediction)
    from evodesign.surrogates import data_hash

    assert model.data_hash_ == data_hash(X, Y)  # the hash of the rows it was updated on
    forest = PropertyModel(space.elements, ["a"], estimator=RandomForestSurrogate(n_estimators=5, random_state=0))
    forest.fit(X[:100], Y[:100])
    with pytest.raises(DataError, match="cannot be warm-started"):
        forest.fit(X, Y, warm_start=True)


def test_inputs_outside_the_training_range_are_clipped_to_it():
    """A feature nearly constant in training (tiny scale) must not turn one unusual input
    into a wild extrapolation: the ensemble predicts it as at the edge of the training
    range (what blew up to 12,757 eV for Fe9Co7 on the band-gap data, session 8)."""
    X, y = toy(600)
    rng = np.random.default_rng(1)
    X[:, 2] = 1e-5 * rng.normal(size=len(X))  # ~constant in training
    model = DeepEnsembleRegressor(random_state=0, **SMALL).fit(X, y)
    odd = X[:5].copy()
    odd[:, 2] = 1.5  # 1e5 training stds away
    edge = odd.copy()
    edge[:, 2] = model.x_max_[2]
    mean, std = model.predict(odd, return_std=True)
    np.testing.assert_array_equal(mean, model.predict(edge))
    assert np.all(np.abs(mean) < 5 * np.abs(y).max()) and np.all(std < 5 * y.std())
    assert np.all(X.min(axis=0) <= model.x_min_) and np.all(model.x_max_ <= X.max(axis=0))


def test_model_files_without_an_input_range_load_unclipped():
    """Files written before the clipping existed load, and predict as they did (no clip)."""
    X, y = toy(300)
    model = DeepEnsembleRegressor(random_state=0, **dict(SMALL, max_epochs=3)).fit(X, y)
    tensors = model._state_tensors()
    del tensors["x_min_"], tensors["x_max_"]
    old = DeepEnsembleRegressor._from_state(model.get_params(), model._fitted_info(), tensors)
    assert np.all(np.isinf(old.x_min_)) and np.all(np.isinf(old.x_max_))
    far = X[:4] * 100
    np.testing.assert_array_equal(old.predict(X[:4]), model.predict(X[:4]))  # inside: same
    assert not np.allclose(old.predict(far), model.predict(far))  # outside: old one unclipped
    np.testing.assert_array_equal(model.predict(far), model.predict(np.clip(far, model.x_min_, model.x_max_)))


def test_warm_start_widens_the_input_range():
    X, y = toy(400)
    model = DeepEnsembleRegressor(random_state=0, **dict(SMALL, max_epochs=3)).fit(X[:300], y[:300])
    lo, hi = model.x_min_.copy(), model.x_max_.copy()
    warm = clone(model).set_params(warm_start=True, max_epochs=1)
    warm.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    X2 = X[300:] * 3  # beyond the first range
    warm.fit(X2, y[300:])
    assert np.all(warm.x_min_ <= lo) and np.all(warm.x_max_ >= hi)
    assert np.any(warm.x_max_ > hi) and np.any(warm.x_min_ < lo)
