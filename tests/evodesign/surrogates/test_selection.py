"""AutoSurrogate: per-target choice by k-fold CV, refit of the winner, saved without pickle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from evodesign.exceptions import DataError
from evodesign.surrogates import load_model, save_model
from evodesign.surrogates.artifacts import read_sidecar
from evodesign.surrogates import AutoSurrogate
from evodesign.surrogates.selection import CANDIDATES, greedy_ensemble_weights

SMALL = {
    "ensemble": {"n_members": 2, "hidden_layer_sizes": (32,), "max_epochs": 25, "patience": 25,
                 "learning_rate": 1e-2, "batch_size": 64},
    "forest": {"n_estimators": 20, "n_jobs": 1},
    "forest_median": {"n_estimators": 20, "n_jobs": 1},
    "boosting": {"max_iter": 40, "learning_rate": 0.2, "n_threads": 1},
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Two torch threads on a busy 2-core machine wait for each other (measured 14x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy(n, seed):
    """Target "smooth": a linear function of 12 features (an MLP's ground); "step": a step in
    feature 0 (a tree's)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12))
    smooth = X @ np.linspace(0.5, 1.5, 12)
    step = np.where(X[:, 0] > 0.3, 2.0, -1.0) + 0.05 * rng.normal(size=n)
    return X, np.c_[smooth, step]


@pytest.fixture(scope="module")
def fitted():
    X, Y = toy(500, 0)
    Y[::9, 0] = np.nan  # a row may miss one target
    model = AutoSurrogate(candidate_params=SMALL, n_splits=2, target_names=["smooth", "step"], random_state=0)
    return model.fit(X, Y)


def test_selects_per_target_and_stacks_the_winners(fitted):
    assert fitted.selected_["smooth"] == "ensemble"
    assert fitted.selected_["step"] in ("forest", "boosting")
    for target, name in fitted.selected_.items():
        scores = fitted.cv_scores_[target]
        assert set(scores) == {"ensemble", "forest", "boosting", "blend"} and len(scores[name]["folds"]) == 2
        assert scores[name]["mae"] == min(s["mae"] for s in scores.values())
    assert [[type(m) for m in models] for models in fitted.estimators_] == [
        [CANDIDATES[fitted.selected_[t]]] for t in ("smooth", "step")]
    X, Y = toy(300, 1)
    mean, std = fitted.predict(X, return_std=True)
    assert mean.shape == std.shape == (300, 2) and (std > 0).all()
    for j, (model,) in enumerate(fitted.estimators_):
        m, s = model.predict(X, return_std=True)
        np.testing.assert_array_equal(mean[:, j], m)
        np.testing.assert_array_equal(std[:, j], s)
    assert np.abs(mean - Y).mean(axis=0)[1] < 0.2


def test_deterministic_from_the_seed():
    X, Y = toy(200, 2)
    params = {"candidates": ("forest", "boosting"), "candidate_params": SMALL, "n_splits": 3}
    a = AutoSurrogate(random_state=5, **params).fit(X, Y[:, 1])
    b = AutoSurrogate(random_state=5, **params).fit(X, Y[:, 1])
    assert _scores(a) == _scores(b) and a.selected_ == b.selected_ == {"0": a.selected_["0"]}
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.predict(X).shape == (200,)  # a 1-d y gives 1-d predictions
    # cross_validate alone makes the same choice with the same scores as fit
    assert _scores(AutoSurrogate(random_state=5, **params).cross_validate(X, Y[:, 1])[1]) == _scores(a.cv_scores_)
    c = AutoSurrogate(random_state=6, **params).fit(X, Y[:, 1])
    assert _scores(c) != _scores(a)


def _scores(model_or_scores):
    scores = getattr(model_or_scores, "cv_scores_", model_or_scores)
    return {t: {n: s["folds"] for n, s in per.items()} for t, per in scores.items()}


class _Mean(RegressorMixin, BaseEstimator):
    """Predicts the training mean; records the rows it was fitted on."""

    fits: list[int] = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        _Mean.fits.append(len(X))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X, return_std=False):
        mean = np.full(len(X), self.mean_)
        return (mean, np.ones(len(X))) if return_std else mean


def test_cv_rows_caps_the_cross_validation_and_groups_stay_whole(monkeypatch):
    monkeypatch.setitem(CANDIDATES, "mean", _Mean)
    _Mean.fits = []
    X, Y = toy(400, 3)
    AutoSurrogate(candidates=("mean",), n_splits=4, cv_rows=100, random_state=0).fit(X, Y[:, 1])
    assert _Mean.fits == [75, 75, 75, 75, 400]  # 4 folds of the 100-row subsample, then the refit

    # 100 groups of 4 identical rows: memorised duplicates make a plain KFold look perfect
    rng = np.random.default_rng(0)
    Xg = np.repeat(rng.normal(size=(100, 3)), 4, axis=0)
    yg = np.repeat(rng.normal(size=100), 4)
    groups = np.repeat([f"formula{i}" for i in range(100)], 4)
    model = AutoSurrogate(candidates=("forest",), candidate_params=SMALL, n_splits=4, random_state=0)
    leaky = model.cross_validate(Xg, yg)[1]["0"]["forest"]["mae"]
    honest = model.cross_validate(Xg, yg, groups=groups)[1]["0"]["forest"]["mae"]
    assert leaky < 0.2 < 0.5 < honest


class _Const(RegressorMixin, BaseEstimator):
    """Predicts +1 whatever it saw (std 1)."""

    value = 1.0

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.fitted_ = True
        return self

    def predict(self, X, return_std=False):
        mean = np.full(len(X), self.value)
        return (mean, np.full(len(X), 2.0 + self.value)) if return_std else mean


class _MinusConst(_Const):
    value = -1.0


def test_blend_is_the_mean_of_the_candidates(monkeypatch):
    monkeypatch.setitem(CANDIDATES, "plus", _Const)
    monkeypatch.setitem(CANDIDATES, "minus", _MinusConst)
    X = np.random.default_rng(0).normal(size=(40, 3))
    model = AutoSurrogate(candidates=("plus", "minus"), n_splits=4, random_state=0).fit(X, np.zeros(40))
    scores = model.cv_scores_["0"]
    assert (scores["plus"]["mae"], scores["minus"]["mae"], scores["blend"]["mae"]) == (1.0, 1.0, 0.0)
    assert model.selected_ == {"0": "blend"} and [type(m) for m in model.estimators_[0]] == [_Const, _MinusConst]
    mean, std = model.predict(X[:5], return_std=True)
    np.testing.assert_array_equal(mean, np.zeros(5))
    np.testing.assert_array_equal(std, np.full(5, 2.0))  # the mean of the members' stds 3 and 1
    # without blending the first of two equal candidates wins
    assert AutoSurrogate(candidates=("plus", "minus"), n_splits=4, blend=False).fit(X, np.zeros(40)).selected_ == {
        "0": "plus"}


class _MinusThree(_Const):
    """Predicts -3 (std 1)."""

    value = -3.0

    def predict(self, X, return_std=False):
        mean = np.full(len(X), self.value)
        return (mean, np.full(len(X), 1.0)) if return_std else mean


def test_greedy_ensemble_weights_find_the_weighted_mean_that_cancels():
    # y = 0; models say +1 and -3: 3/4 of the first and 1/4 of the second predict 0
    P = np.array([np.full(10, 1.0), np.full(10, -3.0), np.full(10, 5.0)])
    np.testing.assert_array_equal(greedy_ensemble_weights(P, np.zeros(10), 4), [0.75, 0.25, 0.0])
    # one round: the best single model
    np.testing.assert_array_equal(greedy_ensemble_weights(P, np.zeros(10), 1), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(greedy_ensemble_weights(P[::-1], np.zeros(10), 1), [0.0, 0.0, 1.0])


def test_weighted_selection_is_cross_fitted_and_refit(monkeypatch):
    monkeypatch.setitem(CANDIDATES, "plus", _Const)
    monkeypatch.setitem(CANDIDATES, "minus3", _MinusThree)
    X = np.random.default_rng(0).normal(size=(40, 3))
    model = AutoSurrogate(candidates=("plus", "minus3"), n_splits=4, weighted=True, selection_rounds=4,
                          random_state=0).fit(X, np.zeros(40))
    scores = model.cv_scores_["0"]
    assert (scores["plus"]["mae"], scores["minus3"]["mae"], scores["blend"]["mae"]) == (1.0, 3.0, 1.0)
    assert scores["weighted"]["mae"] == 0.0 and scores["weighted"]["weights"] == {"plus": 0.75, "minus3": 0.25}
    assert model.selected_ == {"0": "weighted"} and model.weights_ == [[0.75, 0.25]]
    mean, std = model.predict(X[:5], return_std=True)
    np.testing.assert_array_equal(mean, np.zeros(5))
    np.testing.assert_array_equal(std, np.full(5, 0.75 * 3.0 + 0.25 * 1.0))
    # without weighted selection: no "weighted" score, the first of the equal-MAE candidate and blend wins
    plain = AutoSurrogate(candidates=("plus", "minus3"), n_splits=4, random_state=0).fit(X, np.zeros(40))
    assert "weighted" not in plain.cv_scores_["0"] and plain.selected_ == {"0": "plus"}
    with pytest.raises(DataError, match="selection_rounds must be >= 1"):
        AutoSurrogate(candidates=("plus", "minus3"), n_splits=4, weighted=True, selection_rounds=0).fit(X, np.zeros(40))


def test_weighted_selection_cannot_win_by_seeing_the_rows_it_is_scored_on():
    """Two models whose errors cancel on one fold and add on the others: weights chosen on
    all folds look perfect in-sample; the cross-fitted score is not fooled."""
    rng = np.random.default_rng(1)
    truth = [np.zeros(20) for _ in range(4)]
    a = [rng.normal(size=20) for _ in range(4)]
    auto = AutoSurrogate(candidates=("a", "b"), weighted=True, selection_rounds=2)
    # model b mirrors a on fold 0 only; elsewhere it is a plus noise
    b = [-a[0]] + [a[k] + rng.normal(size=20) for k in range(1, 4)]
    score = auto._weighted_score({"a": a, "b": b}, truth)
    in_sample = np.mean(np.abs(np.mean([a[0], b[0]], axis=0)))
    # fold 0 is scored with the weights of folds 1-3 (all on a), not the cancelling mean
    assert in_sample == 0.0 and score["folds"][0] == pytest.approx(np.mean(np.abs(a[0])))
    assert score["folds"][0] > 0.3
    assert len(score["folds"]) == 4 and set(score["weights"]) == {"a", "b"}


def test_a_saved_weighted_selection_loads(tmp_path):
    X, Y = toy(200, 7)
    params = {**SMALL, "boosting": {"max_iter": 12, "learning_rate": 0.2, "n_threads": 1}}
    model = AutoSurrogate(candidates=("forest", "boosting"), candidate_params=params, n_splits=2, weighted=True,
                          random_state=0).fit(X, Y[:, 0])
    weights = model.cv_scores_["0"]["weighted"]["weights"]
    assert sum(weights.values()) == pytest.approx(1.0) and model.weights_[0] == pytest.approx(
        [w for w in weights.values() if w > 0] if model.selected_["0"] == "weighted" else [1.0 / len(model.estimators_[0])]
        * len(model.estimators_[0]))
    loaded = load_model(save_model(model, tmp_path / "weighted"))
    assert loaded.weights_ == model.weights_
    for a, b in zip(loaded.predict(X, return_std=True), model.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_a_saved_blend_loads(tmp_path):
    X, Y = toy(200, 7)
    # boosting made as weak as the forest on the smooth target, so that their mean wins
    params = {**SMALL, "boosting": {"max_iter": 12, "learning_rate": 0.2, "n_threads": 1}}
    model = AutoSurrogate(candidates=("forest", "boosting"), candidate_params=params, n_splits=2, random_state=0)
    model.fit(X, Y[:, 0])
    assert model.selected_ == {"0": "blend"} and len(model.estimators_[0]) == 2
    loaded = load_model(save_model(model, tmp_path / "blend"))
    for a, b in zip(loaded.predict(X, return_std=True), model.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_save_load_round_trip_keeps_choice_and_scores(fitted, tmp_path):
    path = save_model(fitted, tmp_path / "auto", metadata={"targets": ["smooth", "step"]})
    sidecar = read_sidecar(path)
    assert sidecar["class"] == "AutoSurrogate" and sidecar["fitted"]["selected"] == fitted.selected_
    assert sidecar["fitted"]["cv_scores"]["step"]["forest"]["folds"] == fitted.cv_scores_["step"]["forest"]["folds"]
    loaded = load_model(path, expect={"targets": ["smooth", "step"]})
    assert loaded.selected_ == fitted.selected_
    X, _ = toy(50, 4)
    for a, b in zip(loaded.predict(X, return_std=True), fitted.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_clear_errors():
    X, Y = toy(40, 5)
    with pytest.raises(DataError, match="unknown surrogate candidate.*'svm'.*valid: ensemble, forest, boosting"):
        AutoSurrogate(candidates=("forest", "svm")).fit(X, Y)
    with pytest.raises(DataError, match=r"candidate_params\['forest'\]"):
        AutoSurrogate(candidates=("forest",), candidate_params={"forest": {"n_trees": 3}}).fit(X, Y)
    with pytest.raises(DataError, match="target_names has 1 name"):
        AutoSurrogate(candidates=("forest",), target_names=["a"]).fit(X, Y)
    with pytest.raises(DataError, match="'0' has 6 finite value.*needs at least 10"):
        AutoSurrogate(candidates=("forest",)).fit(X[:6], Y[:6, 0])
    with pytest.raises(DataError, match=r"confidence must be in \(0, 1\).*got 90"):
        AutoSurrogate(candidates=("forest",), confidence=90).fit(X, Y)
    with pytest.raises(DataError, match="not fitted yet"):
        AutoSurrogate().predict(X)


def test_warm_start_keeps_the_selection_and_updates_the_winners():
    """A warm-started fit runs no cross-validation: the choice stays, a deep ensemble winner
    continues from its weights (its input range grows with the new rows) and a tree winner
    is refit; data of another width is refused by name."""
    from evodesign.surrogates import AutoSurrogate

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(160, 3))
    y = np.column_stack([np.sin(3 * X[:, 0]), X[:, 1] ** 2])
    auto = AutoSurrogate(
        candidates=("ensemble", "forest"), blend=False, n_splits=2, random_state=0,
        candidate_params={"ensemble": {"n_members": 2, "hidden_layer_sizes": (8,), "max_epochs": 3},
                          "forest": {"n_estimators": 5}},
    ).fit(X[:120], y[:120])
    selected, scores = dict(auto.selected_), auto.cv_scores_
    # force one winner of each kind so both update paths run
    auto.estimators_ = [[auto.candidate("ensemble", 1).fit(X[:120], y[:120, 0])],
                        [auto.candidate("forest", 2).fit(X[:120], y[:120, 1])]]
    before = [m[0] for m in auto.estimators_]
    X2 = np.vstack([X[:120], 3 * X[120:]])  # new rows beyond the first range
    y2 = np.vstack([y[:120], y[120:]])
    auto.set_params(warm_start=True, update_epochs=1).fit(X2, y2)
    assert auto.selected_ == selected and auto.cv_scores_ is scores
    ens, forest = (m[0] for m in auto.estimators_)
    assert ens is not before[0] and ens.n_epochs_ == 1 and np.all(ens.x_max_ >= before[0].x_max_)
    assert np.any(ens.x_max_ > before[0].x_max_)
    assert forest is not before[1]
    assert not np.allclose(forest.predict(3 * X[120:]), before[1].predict(3 * X[120:]))
    with pytest.raises(DataError, match="reads 3 features and predicts 2 targets"):
        auto.fit(X2[:, :2], y2)


def test_forest_median_candidate_is_the_forest_predicting_the_median_of_its_trees(tmp_path):
    """On a band-gap-like target (half the values exactly 0) the median over the trees beats
    their mean in cross-validated MAE, so it is chosen; the choice survives saving."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(600, 5))
    y = np.where(X[:, 0] + 0.6 * rng.normal(size=600) > 0, 0.0, 1.5 + X[:, 1])
    params = {"forest": SMALL["forest"], "forest_median": SMALL["forest"]}
    model = AutoSurrogate(candidates=("forest", "forest_median"), candidate_params=params, n_splits=3,
                          blend=False, random_state=0).fit(X, y)
    scores = model.cv_scores_["0"]
    assert scores["forest_median"]["mae"] < scores["forest"]["mae"] and model.selected_ == {"0": "forest_median"}
    (winner,) = model.estimators_[0]
    assert winner.center == "median" and winner.n_estimators == 20
    assert AutoSurrogate().candidate("forest").center == "mean"
    loaded = load_model(save_model(model, tmp_path / "median"))
    assert loaded.estimators_[0][0].center == "median"
    np.testing.assert_array_equal(loaded.predict(X[:50]), model.predict(X[:50]))


def test_a_combination_of_models_whose_errors_cancel_gets_a_narrower_calibrated_std():
    """Two members biased +1 and -1: each one's calibrated std is ~1.5 / z, but their mean
    is off by noise only (0.21), so the mean of their stds over-covers; the factor fitted on
    the out-of-fold predictions brings the combination's interval to 90 % of the labels."""
    rng = np.random.default_rng(0)
    truth = [rng.normal(size=500) for _ in range(4)]
    a = [t + 1.0 + 0.3 * rng.normal(size=500) for t in truth]
    b = [t - 1.0 + 0.3 * rng.normal(size=500) for t in truth]
    auto = AutoSurrogate(candidates=("a", "b"))
    y = np.concatenate(truth)
    z = 1.6448536269514722
    oof = np.column_stack([np.concatenate(a), np.concatenate(b)])
    mean = oof.mean(axis=1)
    # each member's std calibrated on its own out-of-fold rows (raw std 1)
    own = [np.quantile(np.abs(y - oof[:, k]), 0.9) / z for k in range(2)]
    calibrated = np.tile(own, (len(y), 1))
    factor = auto._combined_std_factor(oof, calibrated, y, [1.0, 1.0])
    std = np.full(len(y), np.mean(own))
    assert np.mean(np.abs(y - mean) <= z * std) > 0.999  # the plain mean of calibrated stds
    assert 0.2 < factor < 0.3  # 1.645 * 0.3 / sqrt(2) over z * ~0.84
    assert np.mean(np.abs(y - mean) <= z * factor * std) == pytest.approx(0.9, abs=0.002)
    # weights: a member with weight 0 plays no part (b alone is calibrated already: factor 1)
    alone = auto._combined_std_factor(oof, calibrated, y, [0.0, 1.0])
    assert alone == pytest.approx(1.0, abs=1e-9)


def test_the_combined_std_factor_is_applied_saved_and_absent_from_older_files(tmp_path):
    X, Y = toy(200, 7)
    params = {**SMALL, "boosting": {"max_iter": 12, "learning_rate": 0.2, "n_threads": 1}}
    model = AutoSurrogate(candidates=("forest", "boosting"), candidate_params=params, n_splits=2, random_state=0)
    model.fit(X, Y[:, 0])
    assert model.selected_ == {"0": "blend"}
    factor = model.cv_scores_["0"]["blend"]["std_factor"]
    assert model.std_factors_ == [factor] and factor != 1.0
    mean, std = model.predict(X[:20], return_std=True)
    parts = [m.predict(X[:20], return_std=True) for m in model.estimators_[0]]
    np.testing.assert_allclose(std, factor * np.mean([p[1] for p in parts], axis=0), rtol=1e-12)
    np.testing.assert_array_equal(mean, np.mean([p[0] for p in parts], axis=0))
    path = save_model(model, tmp_path / "blend")
    assert read_sidecar(path)["fitted"]["std_factors"] == [factor]
    np.testing.assert_array_equal(load_model(path).predict(X[:20], return_std=True)[1], std)
    # a file written before the factors existed predicts with factor 1, as it did then
    info = {k: v for k, v in model._fitted_info().items() if k != "std_factors"}
    older = AutoSurrogate._from_state(model.get_params(), info, model._state_tensors())
    assert older._std_factors() == [1.0]
    np.testing.assert_allclose(older.predict(X[:20], return_std=True)[1], std / factor, rtol=1e-12)
