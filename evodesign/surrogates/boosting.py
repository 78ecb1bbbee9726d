"""Gradient-boosted trees with a quantile-band standard deviation, calibrated, saved without pickle.

Per target three scikit-learn ``HistGradientBoostingRegressor`` models are fitted: the mean
(squared error) and the ``quantiles`` (5% and 95% by default, pinball loss). The band between
the two quantiles, divided by the Gaussian width of that central probability, is the raw std;
one scale factor per target is then fitted on held-out rows with
:func:`~evodesign.surrogates.calibration.std_scale`, as the deep ensemble and the forest do,
so that ``mean +/- z * std`` covers ``confidence`` of new points like the held-out ones. With
``refit`` the three boosters are then grown again on every row with the numbers of
iterations early stopping chose, so calibration costs no training data.

Saving: every tree of every booster is copied out of scikit-learn's predictor nodes
(``_predictors[i][0].nodes``: children, feature, numeric threshold, leaf value with the
learning rate applied) into flat arrays, plus each booster's baseline; prediction walks
those arrays (:func:`~evodesign.surrogates.tree_walk.tree_values`), so the fitted and the
loaded model predict with the same code, and the model file is safetensors + JSON (nothing in
it can run code). Categorical splits and missing values are not used (features are finite).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from operators.seeding import as_generator
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from evodesign.exceptions import DataError
from evodesign.surrogates.calibration import std_scale
from evodesign.surrogates.forest import fit_arrays
from evodesign.surrogates.tree_walk import children_after_parents, tree_values

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["GradientBoostingSurrogate"]

#: the arrays that describe the fitted boosters (saved as tensors)
_ARRAYS = ("left_", "right_", "feature_", "threshold_", "value_", "roots_", "booster_start_",
           "baseline_", "std_scale_")
#: boosters per target: the mean, the lower and the upper quantile
_PER_TARGET = 3


class GradientBoostingSurrogate(RegressorMixin, BaseEstimator):
    """Histogram gradient boosting (one mean and two quantile boosters per target).

    Args:
        max_iter: upper bound on boosting iterations (trees) per booster.
        learning_rate: shrinkage of every tree.
        max_leaf_nodes: leaves per tree.
        min_samples_leaf: minimum rows per leaf.
        l2_regularization: L2 penalty on leaf values.
        max_features: share of features tried per split (scikit-learn >= 1.4).
        early_stopping: stop a booster when its internal 10% validation score has not
            improved for ``n_iter_no_change`` iterations.
        n_iter_no_change: patience of early stopping.
        quantiles: the lower and upper quantile whose band gives the raw std.
        validation_fraction: share of the rows held out for the calibration of the std.
            0 (or ``calibrate=False``) uses every row and keeps the raw band.
        calibrate: fit a per-target scale of the std on the held-out rows.
        refit: after calibration, grow the boosters again on every row (twice the cost).
        confidence: the central interval probability that calibration targets.
        n_threads: OpenMP threads of the boosters (None: scikit-learn's choice, every
            core). On a busy machine 1 can be many times faster than several threads that
            wait for each other (measured 25x on 2 shared cores).
        random_state: seed or numpy Generator; drives the split and the boosters.

    Attributes:
        n_features_in_ / n_targets_ / y_is_1d_: as the other surrogates.
        n_iter_: `(n_targets, 3)` trees of the mean, lower and upper booster.
        std_scale_: `(n_targets,)` calibration factors.
        left_, right_, feature_, threshold_, value_: the nodes of every tree, concatenated.
        roots_: `(n_trees,)` the first node of each tree.
        booster_start_: `(3 * n_targets + 1,)` index of each booster's first tree (booster
            ``3 j`` is target ``j``'s mean, ``3 j + 1`` / ``3 j + 2`` its quantiles).
        baseline_: `(3 * n_targets,)` each booster's constant start.
    """

    def __init__(
        self,
        max_iter: int = 1000,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 10,
        l2_regularization: float = 0.0,
        max_features: float = 0.5,
        early_stopping: bool = True,
        n_iter_no_change: int = 30,
        quantiles: tuple[float, float] = (0.05, 0.95),
        validation_fraction: float = 0.1,
        calibrate: bool = True,
        refit: bool = True,
        confidence: float = 0.9,
        n_threads: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_features = max_features
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.quantiles = quantiles
        self.validation_fraction = validation_fraction
        self.calibrate = calibrate
        self.refit = refit
        self.confidence = confidence
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _booster(self, loss: str, quantile: float | None, seed: int, max_iter: int | None = None
                 ) -> HistGradientBoostingRegressor:
        extra = {} if quantile is None else {"quantile": quantile}
        return HistGradientBoostingRegressor(
            loss=loss, learning_rate=self.learning_rate,
            max_iter=self.max_iter if max_iter is None else max_iter,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, max_features=self.max_features,
            early_stopping=self.early_stopping and max_iter is None,
            n_iter_no_change=self.n_iter_no_change, random_state=seed, **extra,
        )

    def _fit_target(self, X: NDArray, y: NDArray, seeds: NDArray, max_iter: list[int] | None = None
                    ) -> list[HistGradientBoostingRegressor]:
        lo, hi = self.quantiles
        specs = [("squared_error", None), ("quantile", lo), ("quantile", hi)]
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return [
                self._booster(loss, q, int(seed), None if max_iter is None else max_iter[b]).fit(X, y)
                for b, ((loss, q), seed) in enumerate(zip(specs, seeds))
            ]

    def fit(self, X: ArrayLike, y: ArrayLike) -> GradientBoostingSurrogate:
        """Fit the three boosters per target and calibrate the quantile band.

        Args:
            X: a `(n_samples, n_features)` array of finite features.
            y: a `(n_samples,)` or `(n_samples, n_targets)` array; NaN entries are left out
                of that target's boosters (a row may miss some targets).

        Returns:
            self.
        """
        X, y = fit_arrays(X, y)
        lo, hi = self.quantiles
        if not 0 < lo < hi < 1:
            raise DataError(f"quantiles must be two increasing probabilities in (0, 1), got {self.quantiles}")
        self.y_is_1d_ = y.ndim == 1
        Y = y.reshape(len(y), -1)
        rng = as_generator(self.random_state)
        n = len(X)
        n_val = int(round(self.validation_fraction * n)) if self.calibrate else 0
        if n_val and n - n_val < 2:
            raise DataError(f"need at least {n_val + 2} training rows, got {n}")
        perm = rng.permutation(n)
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        seeds = rng.integers(2**31 - 1, size=(Y.shape[1], 2, _PER_TARGET))

        self.n_features_in_ = X.shape[1]
        self.n_targets_ = Y.shape[1]
        fitted = []
        for j in range(self.n_targets_):
            rows = train[np.isfinite(Y[train, j])]
            if len(rows) < 2:
                raise DataError(
                    f"target {j} has {len(rows)} finite training value(s); boosting needs at least 2"
                )
            fitted.append(self._fit_target(X[rows], Y[rows, j], seeds[j, 0]))
        self.n_iter_ = np.array([[int(b.n_iter_) for b in target] for target in fitted], dtype=np.int64)
        self._set_trees(fitted)
        self.std_scale_ = np.ones(self.n_targets_)
        if n_val:
            self.std_scale_ = std_scale(Y[val], *self._predict_raw(X[val]), self.confidence)
            if self.refit:
                fitted = []
                for j in range(self.n_targets_):
                    rows = np.flatnonzero(np.isfinite(Y[:, j]))
                    fitted.append(self._fit_target(X[rows], Y[rows, j], seeds[j, 1], list(self.n_iter_[j])))
                self._set_trees(fitted)
        return self

    def _set_trees(self, fitted: list[list[HistGradientBoostingRegressor]]) -> None:
        """Copy the predictor nodes of every booster into the flat arrays predict walks."""
        boosters = [b for target in fitted for b in target]
        nodes = [p[0].nodes for b in boosters for p in b._predictors]
        offsets = np.cumsum([0] + [len(t) for t in nodes])
        if offsets[-1] >= 2**31:
            raise DataError(f"the boosters have {offsets[-1]:,} nodes, more than a model file holds; "
                            "use fewer iterations (max_iter) or fewer leaves (max_leaf_nodes)")
        self.roots_ = offsets[:-1].astype(np.int64)
        self.booster_start_ = np.cumsum([0] + [len(b._predictors) for b in boosters]).astype(np.int64)
        self.baseline_ = np.array([float(np.ravel(b._baseline_prediction)[0]) for b in boosters])
        left, right = [], []
        for tree, start in zip(nodes, offsets[:-1]):
            leaf = tree["is_leaf"].astype(bool)
            for out, key in ((left, "left"), (right, "right")):
                out.append(np.where(leaf, -1, tree[key].astype(np.int64) + start).astype(np.int32))
        self.left_ = np.concatenate(left)
        self.right_ = np.concatenate(right)
        self.feature_ = np.concatenate([t["feature_idx"] for t in nodes]).astype(np.int32)
        self.threshold_ = np.concatenate([t["num_threshold"] for t in nodes]).astype(np.float64)
        self.value_ = np.concatenate([t["value"] for t in nodes]).astype(np.float64)

    # ------------------------------------------------------------------ prediction
    def _boosters(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """`(3 * n_targets, n)` raw predictions of every booster."""
        per_tree = tree_values(X, self.roots_, self.left_, self.right_, self.feature_,
                               self.threshold_, self.value_)
        out = np.repeat(self.baseline_[:, None], len(X), axis=1)
        starts, ends = self.booster_start_[:-1], self.booster_start_[1:]
        for b in np.flatnonzero(ends > starts):  # a booster may have stopped at 0 trees
            out[b] += per_tree[starts[b] : ends[b]].sum(axis=0)
        return out

    def _predict_raw(self, X: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """Mean and uncalibrated std (quantile band / its Gaussian width), each `(n, n_targets)`."""
        raw = self._boosters(X).reshape(self.n_targets_, _PER_TARGET, len(X))
        lo, hi = self.quantiles
        width = norm.ppf(hi) - norm.ppf(lo)
        # crossing quantiles happen where the data are thin; the band's size is what counts
        std = np.abs(raw[:, 2] - raw[:, 1]) / width
        return raw[:, 0].T, np.maximum(std, 1e-12).T

    def predict(self, X: ArrayLike, return_std: bool = False) -> NDArray | tuple[NDArray, NDArray]:
        """Mean and, optionally, the calibrated std.

        Args:
            X: a `(n, n_features)` array.
            return_std: also return the std.

        Returns:
            mean, or (mean, std); each `(n,)` for a 1-d training target, else
            `(n, n_targets)`.
        """
        if not hasattr(self, "roots_"):
            raise DataError("this GradientBoostingSurrogate is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X must have shape (n, {self.n_features_in_}) like the training features, got {X.shape}"
            )
        mean, std = self._predict_raw(X)
        std = std * self.std_scale_
        if self.y_is_1d_:
            mean, std = mean[:, 0], std[:, 0]
        return (mean, std) if return_std else mean

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in _ARRAYS}

    def _fitted_info(self) -> dict[str, Any]:
        return {
            "n_features_in": int(self.n_features_in_),
            "n_targets": int(self.n_targets_),
            "y_1d": bool(self.y_is_1d_),
            "n_iter": self.n_iter_.tolist(),
        }

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], info: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> GradientBoostingSurrogate:
        params = dict(params)
        if params.get("quantiles") is not None:
            params["quantiles"] = tuple(params["quantiles"])  # JSON gives a list
        model = cls(**params)
        model.n_features_in_ = int(info["n_features_in"])
        model.n_targets_ = int(info["n_targets"])
        model.y_is_1d_ = bool(info["y_1d"])
        model.n_iter_ = np.asarray(info["n_iter"], dtype=np.int64).reshape(model.n_targets_, _PER_TARGET)
        for name in _ARRAYS:
            setattr(model, name, tensors[name].numpy())
        n_nodes = len(model.value_)
        n_trees = len(model.roots_)
        starts = model.booster_start_
        if not (
            len(starts) == _PER_TARGET * model.n_targets_ + 1 and starts[0] == 0 and starts[-1] == n_trees
            and (np.diff(starts) >= 0).all()
            and len(model.baseline_) == len(starts) - 1 and len(model.std_scale_) == model.n_targets_
            and all(len(getattr(model, a)) == n_nodes for a in ("left_", "right_", "feature_", "threshold_"))
            and model.roots_.min(initial=0) >= 0 and model.roots_.max(initial=0) < max(n_nodes, 1)
            and model.left_.max(initial=-1) < n_nodes and model.right_.max(initial=-1) < n_nodes
            and children_after_parents(model.left_, model.right_)
            and model.feature_[model.left_ >= 0].min(initial=0) >= 0
            and model.feature_[model.left_ >= 0].max(initial=0) < model.n_features_in_
        ):
            raise TypeError("the tree arrays are inconsistent with each other")
        return model
