"""Per-target model selection by cross-validation (issue 16.1).

:class:`AutoSurrogate` compares candidate surrogates -- the deep ensemble, the random forest
and gradient boosting by default (also the attention network and the forest predicting the
median of its trees, ``"forest_median"``) -- by k-fold cross-validated MAE on the training
rows, one target at a time, and refits the winner of each target on all of that target's rows; the mean
of all candidates ("blend") is scored on the same folds and may win too, and, with
``weighted=True``, a weighted mean chosen by greedy ensemble selection (Caruana et al.,
"Ensemble selection from libraries of models", ICML 2004; auto-sklearn's ensembles) on the
candidates' out-of-fold predictions ("weighted"). Its
``predict(X, return_std=True)`` stacks the winners' means and calibrated stds, so it drops in
wherever one surrogate did. The choice and the scores are kept (``selected_``,
``cv_scores_``) and go into the model file's sidecar.

The std of a blend or weighted mean is the weighted mean of the members' calibrated stds
times one factor per target, fitted on the same out-of-fold predictions (each candidate's raw
std calibrated on its own out-of-fold rows first), so its intervals cover what a single
model's do.

Cost: the cross-validation fits ``n_splits`` x candidates models per target on at most
``cv_rows`` rows (a seeded subsample; the winner's refit uses every row). Candidates are
scored without their std calibration (MAE does not need it; it would hold rows out).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from operators.seeding import as_generator
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import GroupKFold, KFold

from evodesign.exceptions import DataError
from evodesign.surrogates.attention import AttentionEnsembleRegressor
from evodesign.surrogates.boosting import GradientBoostingSurrogate
from evodesign.surrogates.calibration import std_scale
from evodesign.surrogates.ensemble import DeepEnsembleRegressor
from evodesign.surrogates.forest import RandomForestSurrogate

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CANDIDATES", "CANDIDATE_DEFAULTS", "AutoSurrogate", "combine_predictions", "greedy_ensemble_weights"]

#: the candidate names and their estimator classes (also the classes a saved winner may name)
CANDIDATES: dict[str, type] = {
    "ensemble": DeepEnsembleRegressor,
    "forest": RandomForestSurrogate,
    "boosting": GradientBoostingSurrogate,
    # needs candidate_params["attention"]["elements"] (the vocabulary of the fraction columns)
    "attention": AttentionEnsembleRegressor,
    # the forest predicting the median over its trees (CANDIDATE_DEFAULTS)
    "forest_median": RandomForestSurrogate,
}
#: what makes a candidate differ from its class's defaults (under ``candidate_params``)
CANDIDATE_DEFAULTS: dict[str, dict[str, Any]] = {"forest_median": {"center": "median"}}


class AutoSurrogate(RegressorMixin, BaseEstimator):
    """The best of several surrogates per target, chosen by k-fold cross-validated MAE.

    Args:
        candidates: names from :data:`CANDIDATES`, compared in this order (a tie keeps the
            earlier one).
        candidate_params: ``{name: {param: value}}`` hyperparameters of the candidates
            (``random_state`` is set by this estimator).
        n_splits: folds of the cross-validation.
        cv_rows: at most this many rows (per target, a seeded subsample) enter the
            cross-validation, so selection on ~30,000 rows stays within minutes; None = all.
        target_names: names of the columns of ``y`` (keys of ``selected_`` and
            ``cv_scores_``); default ``"0"``, ``"1"``, ...
        blend: also score ``"blend"``, the mean of all candidates' predictions (scored on
            the same folds at no extra cost; diverse models' errors partly cancel). If it
            wins, every candidate is refit and the std is the mean of their calibrated stds
            times a factor calibrated on the out-of-fold predictions (see ``std_factors_``).
        random_state: seed or numpy Generator; drives the folds, the subsample and every
            candidate.
        verbose: print one line per candidate and target.
        weighted: also score ``"weighted"``: greedy ensemble selection with replacement on the
            out-of-fold predictions (``selection_rounds`` rounds; each adds the candidate
            that most lowers the MAE of the running mean), so the weights are multiples of
            1 / ``selection_rounds``. Its score is cross-fitted -- the weights scored on fold
            k are chosen on the other folds' predictions -- so it does not win by having seen
            the rows it is scored on; the weights kept are chosen on all folds. If it wins,
            the candidates with a weight are refit and predictions (means and calibrated stds)
            are their weighted means, the std times its out-of-fold factor. No extra fits.
        selection_rounds: rounds of the greedy selection.
        warm_start: a second :meth:`fit` keeps the selection (no cross-validation) and
            updates the fitted winners on the new rows: models with a ``warm_start``
            parameter (the deep ensembles) continue from their weights, the others (trees)
            are refit with their own settings and seed. A closed loop's update.
        update_epochs: the ``max_epochs`` of a warm-started deep ensemble's update (None:
            its own).
        confidence: the central coverage the std of a blend or weighted mean is calibrated
            to (the candidates calibrate their own std to theirs, 0.9 by default).

    Attributes:
        selected_: ``{target: name}`` the winner of each target (a candidate or ``"blend"``).
        cv_scores_: ``{target: {name: {"mae": mean, "std": std over folds, "folds": [...],
            "seconds": fit time}}}``.
        estimators_: per target (in order), the list of fitted models whose predictions are
            averaged: the winner alone, every candidate for ``"blend"``, those with a weight
            for ``"weighted"``.
        weights_: per target, the weights of ``estimators_`` (sum 1).
        std_factors_: per target, the factor the weighted mean of the calibrated stds is
            multiplied by: 1.0 for a single winner; for ``"blend"`` and ``"weighted"`` the
            factor that makes the combination's interval cover ``confidence`` of the
            out-of-fold labels (a mean of models is more accurate than its members, so the
            mean of their stds alone over-covers). Also in ``cv_scores_`` as
            ``"std_factor"``.
        n_features_in_ / n_targets_ / y_is_1d_: as the other surrogates.
    """

    def __init__(
        self,
        candidates: Sequence[str] = ("ensemble", "forest", "boosting"),
        candidate_params: dict[str, dict[str, Any]] | None = None,
        n_splits: int = 5,
        cv_rows: int | None = 10_000,
        target_names: Sequence[str] | None = None,
        blend: bool = True,
        random_state: int | np.random.Generator | None = None,
        verbose: bool = False,
        weighted: bool = False,
        selection_rounds: int = 10,
        warm_start: bool = False,
        update_epochs: int | None = None,
        confidence: float = 0.9,
    ) -> None:
        self.candidates = candidates
        self.candidate_params = candidate_params
        self.n_splits = n_splits
        self.cv_rows = cv_rows
        self.target_names = target_names
        self.blend = blend
        self.random_state = random_state
        self.verbose = verbose
        self.weighted = weighted
        self.selection_rounds = selection_rounds
        self.warm_start = warm_start
        self.update_epochs = update_epochs
        self.confidence = confidence

    # ------------------------------------------------------------------ candidates
    def candidate(self, name: str, random_state: int | None = None) -> Any:
        """An unfitted candidate ``name`` with its ``candidate_params`` and ``random_state``."""
        unknown = sorted(set(self.candidate_params or {}) - set(CANDIDATES))
        if name not in CANDIDATES or unknown:
            bad = name if name not in CANDIDATES else unknown
            raise DataError(f"unknown surrogate candidate(s) {bad!r}; valid: {', '.join(CANDIDATES)}")
        params = {**CANDIDATE_DEFAULTS.get(name, {}), **(self.candidate_params or {}).get(name, {}),
                  "random_state": random_state}
        try:
            return CANDIDATES[name](**params)
        except TypeError as err:
            raise DataError(f"candidate_params[{name!r}]: {err}") from err

    def _names(self, n_targets: int) -> list[str]:
        names = [str(j) for j in range(n_targets)] if self.target_names is None else list(self.target_names)
        if len(names) != n_targets:
            raise DataError(f"target_names has {len(names)} name(s) for {n_targets} target column(s) of y")
        return names

    # ------------------------------------------------------------------ selection
    def cross_validate(
        self, X: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None
    ) -> tuple[dict[str, str], dict[str, dict[str, dict[str, Any]]]]:
        """Score every candidate on every target by k-fold MAE (no refit).

        Args:
            X: `(n, n_features)` finite features.
            y: `(n,)` or `(n, n_targets)` targets; NaN marks a missing value (that row
                leaves that target's folds).
            groups: `(n,)` labels (e.g. reduced formulas): with them the folds are
                ``GroupKFold`` folds, so no group is on both sides of a fold.

        Returns:
            ``(selected, cv_scores)`` as the attributes ``selected_`` and ``cv_scores_``.
        """
        cv_seed = int(as_generator(self.random_state).integers(2**63 - 1))
        return self._cross_validate(X, y, groups, cv_seed)

    def _cross_validate(
        self, X: ArrayLike, y: ArrayLike, groups: ArrayLike | None, cv_seed: int
    ) -> tuple[dict[str, str], dict[str, dict[str, dict[str, Any]]]]:
        X, Y = self._check(X, y)
        g = None if groups is None else np.asarray(groups)
        if g is not None and len(g) != len(X):
            raise DataError(f"groups has {len(g)} labels for {len(X)} rows of X")
        names = self._names(Y.shape[1])
        if not self.candidates:
            raise DataError("candidates is empty; give at least one of " + ", ".join(CANDIDATES))
        for name in self.candidates:
            self.candidate(name)  # unknown names and settings fail before any fit
        if not 0.0 < float(self.confidence) < 1.0:
            raise DataError(f"confidence must be in (0, 1), e.g. 0.9, got {self.confidence}")
        if self.weighted and int(self.selection_rounds) < 1:
            raise DataError(f"selection_rounds must be >= 1, got {self.selection_rounds}")
        cv_rng = np.random.default_rng(cv_seed)
        selected, scores = {}, {}
        for j, target in enumerate(names):
            rows = np.flatnonzero(np.isfinite(Y[:, j]))
            if self.cv_rows is not None and len(rows) > self.cv_rows:
                rows = np.sort(cv_rng.choice(rows, size=int(self.cv_rows), replace=False))
            if len(rows) < 2 * self.n_splits:
                raise DataError(f"target {target!r} has {len(rows)} finite value(s); {self.n_splits}-fold "
                                f"cross-validation needs at least {2 * self.n_splits}")
            seed = int(cv_rng.integers(2**31 - 1))
            if g is None:
                folds = list(KFold(self.n_splits, shuffle=True, random_state=seed).split(rows))
            else:
                folds = list(GroupKFold(self.n_splits, shuffle=True, random_state=seed).split(rows, groups=g[rows]))
            scores[target] = {}
            predictions, stds = {}, {}
            for name in self.candidates:
                maes, seconds, predictions[name], stds[name] = [], 0.0, [], []
                for k, (fit_idx, test_idx) in enumerate(folds):
                    model = self.candidate(name, seed + k)
                    if "calibrate" in model.get_params():
                        model.set_params(calibrate=False)
                    start = time.perf_counter()
                    model.fit(X[rows[fit_idx]], Y[rows[fit_idx], j])
                    seconds += time.perf_counter() - start
                    mean, std = model.predict(X[rows[test_idx]], return_std=True)
                    predictions[name].append(mean)
                    stds[name].append(std)
                    maes.append(float(np.mean(np.abs(predictions[name][-1] - Y[rows[test_idx], j]))))
                scores[target][name] = {"mae": float(np.mean(maes)), "std": float(np.std(maes)),
                                        "folds": maes, "seconds": seconds}
                if self.verbose:
                    print(f"  cv {target:>12s} {name:9s} MAE {np.mean(maes):.4g} +/- {np.std(maes):.2g} "
                          f"({seconds:.0f}s)", flush=True)
            if self.blend and len(self.candidates) > 1:
                maes = [float(np.mean(np.abs(np.mean([predictions[n][k] for n in self.candidates], axis=0)
                                             - Y[rows[test_idx], j])))
                        for k, (_, test_idx) in enumerate(folds)]
                scores[target]["blend"] = {"mae": float(np.mean(maes)), "std": float(np.std(maes)), "folds": maes,
                                           "seconds": sum(scores[target][n]["seconds"] for n in self.candidates)}
            if self.weighted and len(self.candidates) > 1:
                scores[target]["weighted"] = self._weighted_score(predictions, [Y[rows[t], j] for _, t in folds])
                scores[target]["weighted"]["seconds"] = sum(scores[target][n]["seconds"] for n in self.candidates)
            combinations = [c for c in ("blend", "weighted") if c in scores[target]]
            if combinations:
                truth = np.concatenate([Y[rows[t], j] for _, t in folds])
                oof_mean = np.stack([np.concatenate(predictions[n]) for n in self.candidates], axis=1)
                oof_std = np.stack([np.concatenate(stds[n]) for n in self.candidates], axis=1)
                # each candidate's raw std calibrated on its own out-of-fold rows, as its refit does
                oof_std = oof_std * std_scale(np.repeat(truth[:, None], len(self.candidates), axis=1),
                                              oof_mean, oof_std, self.confidence)
                for combined in combinations:
                    weights = scores[target][combined].get("weights") or {n: 1.0 for n in self.candidates}
                    scores[target][combined]["std_factor"] = self._combined_std_factor(
                        oof_mean, oof_std, truth, [weights.get(n, 0.0) for n in self.candidates])
            selected[target] = min(scores[target], key=lambda n: scores[target][n]["mae"])
        return selected, scores

    def _weighted_score(self, predictions: dict[str, list[NDArray]], truth: list[NDArray]) -> dict[str, Any]:
        """Cross-fitted MAE of greedy ensemble selection, and the weights chosen on every fold.

        Args:
            predictions: ``{candidate: [(n_k,) out-of-fold predictions of fold k]}``.
            truth: `[(n_k,)]` the labels of each fold.
        """
        names = list(self.candidates)
        rounds = int(self.selection_rounds)

        def stacked(folds: list[int]) -> tuple[NDArray, NDArray]:
            return (np.stack([np.concatenate([predictions[n][k] for k in folds]) for n in names]),
                    np.concatenate([truth[k] for k in folds]))

        maes = []
        for k in range(len(truth)):
            w = greedy_ensemble_weights(*stacked([i for i in range(len(truth)) if i != k]), rounds)
            maes.append(float(np.mean(np.abs(w @ np.stack([predictions[n][k] for n in names]) - truth[k]))))
        weights = greedy_ensemble_weights(*stacked(list(range(len(truth)))), rounds)
        return {"mae": float(np.mean(maes)), "std": float(np.std(maes)), "folds": maes,
                "weights": {n: float(w) for n, w in zip(names, weights)}}

    def _combined_std_factor(self, oof_mean: NDArray, oof_std: NDArray, truth: NDArray,
                             weights: Sequence[float]) -> float:
        """The factor that calibrates a weighted mean's std on the out-of-fold predictions.

        The combination's std is the weighted mean of the candidates' calibrated stds, which
        over-covers where their errors cancel (their mean is better than any of them, their
        stds are not smaller). The factor makes the weighted mean +/- z * factor * std cover
        ``confidence`` of the out-of-fold labels.

        Args:
            oof_mean / oof_std: `(n, n_candidates)` out-of-fold means and calibrated stds.
            truth: `(n,)` the labels of those rows.
            weights: `(n_candidates,)` weights (normalised to sum 1; a weight of 0 plays no part).

        Returns:
            the factor (1.0 where the out-of-fold residuals are all 0 or no std is finite).
        """
        w = np.asarray(weights, dtype=np.float64)
        used = w > 0  # a member left out is not read (its std may be NaN)
        w = w[used] / w[used].sum()
        mean, std = oof_mean[:, used] @ w, oof_std[:, used] @ w
        return float(std_scale(truth[:, None], mean[:, None], std[:, None], self.confidence)[0])

    def fit(self, X: ArrayLike, y: ArrayLike, groups: ArrayLike | None = None) -> AutoSurrogate:
        """Select the candidate per target by cross-validation, then refit it on all rows.

        Args:
            X / y / groups: as :meth:`cross_validate`.

        Returns:
            self.
        """
        X, Y = self._check(X, y)
        if self.warm_start and hasattr(self, "estimators_"):
            return self._update(X, Y)
        rng = as_generator(self.random_state)
        # the first draw seeds the cross-validation, as in cross_validate: same seed, same choice
        cv_seed = int(rng.integers(2**63 - 1))
        fit_seeds = rng.integers(2**31 - 1, size=Y.shape[1])
        self.selected_, self.cv_scores_ = self._cross_validate(X, y, groups, cv_seed)
        self.estimators_, self.weights_, self.std_factors_ = [], [], []
        for j, target in enumerate(self._names(Y.shape[1])):
            rows = np.flatnonzero(np.isfinite(Y[:, j]))
            choice = self.selected_[target]
            if choice == "weighted":
                chosen = self.cv_scores_[target]["weighted"]["weights"]
                pairs = [(k, name, w) for k, (name, w) in enumerate(chosen.items()) if w > 0]
            else:
                names = list(self.candidates) if choice == "blend" else [choice]
                pairs = [(k, name, 1.0 / len(names)) for k, name in enumerate(names)]
            self.estimators_.append([self.candidate(name, int(fit_seeds[j]) + k).fit(X[rows], Y[rows, j])
                                     for k, name, _ in pairs])
            self.weights_.append([float(w) for _, _, w in pairs])
            self.std_factors_.append(float(self.cv_scores_[target][choice].get("std_factor", 1.0)))
        self.n_features_in_ = X.shape[1]
        self.n_targets_ = Y.shape[1]
        self.y_is_1d_ = np.asarray(y).ndim == 1
        return self

    def _update(self, X: NDArray, Y: NDArray) -> AutoSurrogate:
        """The warm-start fit: the same winners, each updated on its target's finite rows."""
        if (X.shape[1], Y.shape[1]) != (self.n_features_in_, self.n_targets_):
            raise DataError(
                f"warm_start: the fitted AutoSurrogate reads {self.n_features_in_} features and predicts "
                f"{self.n_targets_} targets, the new data has {X.shape[1]} and {Y.shape[1]}; fit it afresh "
                "(warm_start=False)"
            )
        updated = []
        for j, models in enumerate(self.estimators_):
            rows = np.flatnonzero(np.isfinite(Y[:, j]))
            fresh = []
            for model in models:
                if "warm_start" in model.get_params():
                    model = copy.deepcopy(model).set_params(warm_start=True)
                    if self.update_epochs is not None:
                        model.set_params(max_epochs=int(self.update_epochs))
                else:  # trees cannot continue: the same settings and seed on all rows
                    model = clone(model)
                fresh.append(model.fit(X[rows], Y[rows, j]))
            updated.append(fresh)
        self.estimators_ = updated
        return self

    def _check(self, X: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2:
            raise DataError(f"X must be a 2-d array (n_samples, n_features), got shape {X.shape}")
        if y.ndim not in (1, 2) or len(y) != len(X):
            raise DataError(f"y must have shape ({len(X)},) or ({len(X)}, n_targets) to match X, got {y.shape}")
        return X, y.reshape(len(y), -1)

    # ------------------------------------------------------------------ prediction
    def predict(self, X: ArrayLike, return_std: bool = False) -> NDArray | tuple[NDArray, NDArray]:
        """The winners' means and, optionally, calibrated stds, stacked.

        Args:
            X: a `(n, n_features)` array.
            return_std: also return the std.

        Returns:
            mean, or (mean, std); each `(n,)` for a 1-d training target, else `(n, n_targets)`.
        """
        if not hasattr(self, "estimators_"):
            raise DataError("this AutoSurrogate is not fitted yet; call fit(X, y) first")
        mean, std = [], []
        for models, weights, factor in zip(self.estimators_, self._weights(), self._std_factors()):
            parts = [model.predict(X, return_std=True) for model in models]
            m, s = combine_predictions([p[0] for p in parts], [p[1] for p in parts], weights, factor)
            mean.append(m)
            std.append(s)
        mean, std = np.column_stack(mean), np.column_stack(std)
        if self.y_is_1d_:
            mean, std = mean[:, 0], std[:, 0]
        return (mean, std) if return_std else mean

    def _weights(self) -> list[list[float]]:
        """``weights_``, or equal weights (a model saved before weights existed)."""
        return getattr(self, "weights_", None) or [[1.0 / len(m)] * len(m) for m in self.estimators_]

    def _std_factors(self) -> list[float]:
        """``std_factors_``, or 1.0 per target (a model saved before the factors existed)."""
        return getattr(self, "std_factors_", None) or [1.0] * len(self.estimators_)

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        # each model's tensors under "<target index>.<model index>." so the names never collide
        return {f"{j}.{k}.{key}": value for j, models in enumerate(self.estimators_)
                for k, model in enumerate(models) for key, value in model._state_tensors().items()}

    def _fitted_info(self) -> dict[str, Any]:
        return {
            "n_features_in": int(self.n_features_in_),
            "n_targets": int(self.n_targets_),
            "y_1d": bool(self.y_is_1d_),
            "selected": dict(self.selected_),
            "cv_scores": self.cv_scores_,
            "weights": self._weights(),
            "std_factors": self._std_factors(),
            "estimators": [
                [{"class": type(m).__name__, "params": _json_params(m.get_params()), "fitted": m._fitted_info()}
                 for m in models]
                for models in self.estimators_
            ],
        }

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], info: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> AutoSurrogate:
        model = cls(**params)
        model.n_features_in_ = int(info["n_features_in"])
        model.n_targets_ = int(info["n_targets"])
        model.y_is_1d_ = bool(info["y_1d"])
        model.selected_ = dict(info["selected"])
        model.cv_scores_ = info["cv_scores"]
        classes = {c.__name__: c for c in CANDIDATES.values()}
        model.estimators_ = []
        for j, parts in enumerate(info["estimators"]):
            models = []
            for k, part in enumerate(parts):
                if part["class"] not in classes:
                    raise TypeError(f"target {j} names an unknown model class {part['class']!r}")
                prefix = f"{j}.{k}."
                own = {key[len(prefix):]: v for key, v in tensors.items() if key.startswith(prefix)}
                models.append(classes[part["class"]]._from_state(part["params"], part["fitted"], own))
            if not models:
                raise TypeError(f"target {j} has no fitted model")
            model.estimators_.append(models)
        if "weights" in info:  # older files: equal weights (see _weights)
            model.weights_ = [[float(v) for v in w] for w in info["weights"]]
            if [len(w) for w in model.weights_] != [len(m) for m in model.estimators_]:
                raise TypeError(f"weights for {[len(w) for w in model.weights_]} model(s), "
                                f"fitted {[len(m) for m in model.estimators_]}")
        if "std_factors" in info:  # older files: 1.0 (see _std_factors)
            model.std_factors_ = [float(v) for v in info["std_factors"]]
            if len(model.std_factors_) != len(model.estimators_):
                raise TypeError(f"{len(model.std_factors_)} std factor(s) for {len(model.estimators_)} target(s)")
        if len(model.estimators_) != model.n_targets_ or len(model.selected_) != model.n_targets_:
            raise TypeError(f"{len(model.estimators_)} fitted model(s) for {model.n_targets_} target(s)")
        return model


def combine_predictions(
    means: Sequence[NDArray], stds: Sequence[NDArray], weights: Sequence[float], std_factor: float = 1.0
) -> tuple[NDArray, NDArray]:
    """What :class:`AutoSurrogate` predicts from its members: weighted means of their means
    and calibrated stds, the std times the combination's out-of-fold factor.

    Args:
        means / stds: one `(n,)` array per member.
        weights: the members' weights (equal weights: the plain mean, to the bit what a
            blend predicted before weights existed).
        std_factor: ``std_factors_`` of the target (1.0 for a single model).

    Returns:
        `(n,)` mean and `(n,)` std.
    """
    if len(set(weights)) == 1:
        return np.mean(means, axis=0), np.mean(stds, axis=0) * std_factor
    return np.average(means, axis=0, weights=weights), np.average(stds, axis=0, weights=weights) * std_factor


def greedy_ensemble_weights(predictions: NDArray, y: NDArray, rounds: int) -> NDArray:
    """Greedy ensemble selection with replacement (Caruana et al. 2004) for absolute error.

    Each round adds (again, if it is the best) the model whose inclusion gives the running
    mean the lowest MAE; ties keep the earlier model.

    Args:
        predictions: `(m, n)` the models' predictions of the same rows.
        y: `(n,)` the labels.
        rounds: models added in all.

    Returns:
        `(m,)` weights: how often each model was added, divided by ``rounds``.
    """
    P = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    counts = np.zeros(len(P))
    total = np.zeros(P.shape[1])
    for r in range(rounds):
        best = int(np.argmin(np.abs((total + P) / (r + 1) - y).mean(axis=1)))
        counts[best] += 1
        total += P[best]
    return counts / rounds


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters as JSON: a numpy Generator (consumed by fit) is saved as None, tuples as lists."""
    return {k: None if isinstance(v, np.random.Generator) else (list(v) if isinstance(v, tuple) else v)
            for k, v in params.items()}
