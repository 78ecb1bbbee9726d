"""Random forest with a spread-of-trees standard deviation, calibrated, saved without pickle.

One scikit-learn ``RandomForestRegressor`` is grown per target (so a row missing one target
still teaches the others), on all rows but a validation split. The spread of the trees'
predictions is the raw uncertainty; one scale factor per target is then fitted on the
validation split, as :class:`~evodesign.surrogates.DeepEnsembleRegressor` does, so that the
central ``confidence`` interval ``mean +/- z * std`` holds that share of validation points.

Saving: a forest is only arrays. Each tree's ``children_left``, ``children_right``,
``feature``, ``threshold`` and leaf ``value`` (scikit-learn's ``tree_`` arrays) are copied
out after fitting into flat arrays over all trees, and predictions are made from those
arrays by a vectorized walk down every tree at once. The arrays go into safetensors like
any other model's tensors, so a saved forest is read back without pickle or joblib (nothing
in a model file can run code), and the fitted and the loaded forest predict with the same
code: the same numbers, bit for bit. Storing the trees was chosen over refitting on load
because a refit needs the training data at every load and is reproducible only with the
same scikit-learn version.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestRegressor

from evodesign.exceptions import DataError
from evodesign.surrogates.calibration import std_scale
from evodesign.surrogates.tree_walk import children_after_parents, tree_values

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["RandomForestSurrogate", "fit_arrays"]

#: the arrays that describe the fitted trees (saved as tensors)
_TREE_ARRAYS = ("left_", "right_", "feature_", "threshold_", "value_", "roots_")


def fit_arrays(X: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(X, y)`` of a tree surrogate's ``fit`` as float arrays, checked: X `(n, n_features)`
    finite, y `(n,)` or `(n, n_targets)` without inf (NaN marks a missing value).

    Raises:
        DataError: a shape that does not match, a non-finite feature, an infinite target.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"X must be a 2-d array (n_samples, n_features), got shape {X.shape}")
    if y.ndim not in (1, 2) or len(y) != len(X):
        raise DataError(
            f"y must have shape ({len(X)},) or ({len(X)}, n_targets) to match X, got {y.shape}"
        )
    if not np.isfinite(X).all():
        row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise DataError(f"X holds NaN or inf (first in row {row}); features must be finite")
    if np.isinf(y).any():
        raise DataError("y holds inf; targets must be finite (NaN marks a missing value)")
    return X, y


class RandomForestSurrogate(RegressorMixin, BaseEstimator):
    """Random forests (one per target) whose std is the calibrated spread of the trees.

    The usual strong baseline for composition-based property prediction (e.g. Ward et al.
    2016 used Magpie features with random forests).

    Args:
        n_estimators: trees per target.
        max_features: features tried per split (scikit-learn's meaning); 1/3 is Breiman's
            recommendation for regression and much faster than all features.
        min_samples_leaf: minimum rows per leaf.
        validation_fraction: share of the rows held out for the calibration of the std
            (the forests never see them). 0 turns calibration off and uses every row.
        calibrate: fit a per-target scale of the std on the validation split.
        confidence: the central interval probability that calibration targets.
        n_jobs: parallel jobs for fitting.
        random_state: seed or numpy Generator; drives the split and the trees.
        calibration: ``"holdout"`` (the default): fit the scale on ``validation_fraction``
            of the rows, which the forests never see; ``"oob"``: grow the forests on every
            row and fit the scale on each row's out-of-bag prediction (mean and spread of
            the ~37% of trees that did not draw that row), so calibration costs no data.
            Out-of-bag means average fewer trees than the forest's; their extra error
            variance (spread of the trees / trees averaged) is taken out of the residuals.
        center: the point prediction: ``"mean"`` over the trees (the squared-error optimum),
            or ``"median"`` over the trees, the absolute-error optimum under the trees'
            spread: much better in MAE on a target with a point mass, such as band gaps
            (half of them exactly 0, where most trees say 0 but the mean is pulled up by the
            rest). The std is the trees' spread either way, calibrated around the center.

    Attributes:
        n_features_in_: features seen in fit.
        n_targets_: targets (columns of y).
        y_is_1d_: y was 1-d, so predictions are `(n,)`.
        std_scale_: `(n_targets,)` calibration factors applied to the spread of the trees.
        left_, right_, feature_, threshold_, value_: the nodes of every tree, concatenated
            (children as absolute node indices, -1 at leaves).
        roots_: `(n_targets * n_estimators,)` the first node of each tree; trees
            ``j * n_estimators ... (j + 1) * n_estimators - 1`` predict target ``j``.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        max_features: float | str | None = 1 / 3,
        min_samples_leaf: int = 1,
        validation_fraction: float = 0.1,
        calibrate: bool = True,
        confidence: float = 0.9,
        n_jobs: int | None = -1,
        random_state: int | np.random.Generator | None = None,
        calibration: str = "holdout",
        center: str = "mean",
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.validation_fraction = validation_fraction
        self.calibrate = calibrate
        self.confidence = confidence
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.calibration = calibration
        self.center = center

    # ------------------------------------------------------------------ fitting
    def fit(self, X: ArrayLike, y: ArrayLike) -> RandomForestSurrogate:
        """Grow one forest per target and calibrate the spread of its trees.

        Args:
            X: a `(n_samples, n_features)` array of finite features.
            y: a `(n_samples,)` or `(n_samples, n_targets)` array; NaN entries are left out
                of that target's forest (a row may miss some targets).

        Returns:
            self.
        """
        X, y = fit_arrays(X, y)
        self.y_is_1d_ = y.ndim == 1
        Y = y.reshape(len(y), -1)
        rng = np.random.default_rng(self.random_state)

        if self.calibration not in ("holdout", "oob"):
            raise DataError(f"calibration must be 'holdout' or 'oob', got {self.calibration!r}")
        if self.center not in ("mean", "median"):
            raise DataError(f"center must be 'mean' or 'median', got {self.center!r}")
        oob = self.calibrate and self.calibration == "oob"
        n = len(X)
        n_val = int(round(self.validation_fraction * n)) if self.calibrate and not oob else 0
        if n_val and n - n_val < 2:
            raise DataError(f"need at least {n_val + 2} training rows, got {n}")
        perm = rng.permutation(n)
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])

        trees, oob_rows = [], []
        for j in range(Y.shape[1]):
            rows = train[np.isfinite(Y[train, j])]
            if len(rows) < 2:
                raise DataError(
                    f"target {j} has {len(rows)} finite training value(s); a forest needs at least 2"
                )
            forest = RandomForestRegressor(
                n_estimators=self.n_estimators,
                max_features=self.max_features,
                min_samples_leaf=self.min_samples_leaf,
                n_jobs=self.n_jobs,
                random_state=int(rng.integers(2**31 - 1)),
            ).fit(X[rows], Y[rows, j])
            trees.extend(tree.tree_ for tree in forest.estimators_)
            if oob:
                oob_rows.append((rows, _out_of_bag(forest, len(rows))))
        self._set_trees(trees)
        self.n_features_in_ = X.shape[1]
        self.n_targets_ = Y.shape[1]

        self.std_scale_ = np.ones(self.n_targets_)
        if n_val:
            self.std_scale_ = std_scale(Y[val], *self._predict_raw(X[val]), self.confidence)
        for j, (rows, mask) in enumerate(oob_rows):
            k = self.n_estimators
            roots = self.roots_[j * k : (j + 1) * k]
            per_tree = tree_values(X[rows].astype(np.float32).astype(np.float64), roots, self.left_,
                                   self.right_, self.feature_, self.threshold_, self.value_)
            counts = mask.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):  # a row in every bootstrap: NaN, skipped
                mean = np.where(mask, per_tree, 0.0).sum(axis=0) / counts
                var = np.where(mask, (per_tree - mean) ** 2, 0.0).sum(axis=0) / counts
            center = mean if self.center == "mean" else _masked_median(per_tree, mask)
            usable = counts >= 2
            # an out-of-bag mean averages m trees, the forest's all k: its extra error variance
            # var * (1/m - 1/k) is taken out of the residual so the scale is not too wide
            residual = Y[rows, j] - center
            excess = var * (1 / np.maximum(counts, 1) - 1 / k)
            shrunk = np.sign(residual) * np.sqrt(np.maximum(residual**2 - excess, 0.0))
            self.std_scale_[j] = std_scale(shrunk[usable, None], np.zeros((usable.sum(), 1)),
                                           np.sqrt(var[usable, None]), self.confidence)[0]
        return self

    def _set_trees(self, trees: list[Any]) -> None:
        """Concatenate scikit-learn ``Tree`` objects into the flat arrays predict walks."""
        offsets = np.cumsum([0] + [t.node_count for t in trees])
        if offsets[-1] >= 2**31:
            raise DataError(
                f"the forests have {offsets[-1]:,} nodes, more than a model file holds; use "
                "fewer trees (n_estimators) or a larger min_samples_leaf"
            )
        self.roots_ = offsets[:-1].astype(np.int64)
        left, right = [], []
        for tree, start in zip(trees, offsets[:-1]):
            for out, children in ((left, tree.children_left), (right, tree.children_right)):
                children = children.astype(np.int64)
                out.append(np.where(children < 0, -1, children + start).astype(np.int32))
        # int32 indices: 28 bytes a node in memory and on disk
        self.left_ = np.concatenate(left)
        self.right_ = np.concatenate(right)
        self.feature_ = np.concatenate([t.feature for t in trees]).astype(np.int32)
        self.threshold_ = np.concatenate([t.threshold for t in trees]).astype(np.float64)
        self.value_ = np.concatenate([t.value[:, 0, 0] for t in trees]).astype(np.float64)

    # ------------------------------------------------------------------ prediction
    def _per_tree(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """`(n_trees, n)` predictions of every tree: one vectorized walk down all trees."""
        # scikit-learn compares float32 features with float64 thresholds; so does this walk
        X = X.astype(np.float32).astype(np.float64)
        return tree_values(X, self.roots_, self.left_, self.right_, self.feature_, self.threshold_, self.value_)

    def _predict_raw(self, X: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """Center (mean or median over trees) and uncalibrated std over trees, each `(n, n_targets)`."""
        per_tree = self._per_tree(X).reshape(self.n_targets_, -1, len(X))
        center = per_tree.mean(axis=1) if self.center == "mean" else np.median(per_tree, axis=1)
        return center.T, per_tree.std(axis=1).T

    def predict(
        self, X: ArrayLike, return_std: bool = False
    ) -> NDArray | tuple[NDArray, NDArray]:
        """Mean (or median, see ``center``) over trees and, optionally, the calibrated std over trees.

        Args:
            X: a `(n, n_features)` array.
            return_std: also return the std.

        Returns:
            mean, or (mean, std); each `(n,)` for a 1-d training target, else
            `(n, n_targets)`.
        """
        if not hasattr(self, "roots_"):
            raise DataError("this RandomForestSurrogate is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X must have shape (n, {self.n_features_in_}) like the training features, "
                f"got {X.shape}"
            )
        mean, std = self._predict_raw(X)
        std = std * self.std_scale_
        if self.y_is_1d_:
            mean, std = mean[:, 0], std[:, 0]
        return (mean, std) if return_std else mean

    # ------------------------------------------------------------------ persistence
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
                   for name in _TREE_ARRAYS}
        tensors["std_scale_"] = torch.from_numpy(np.asarray(self.std_scale_, dtype=np.float64))
        return tensors

    def _fitted_info(self) -> dict[str, Any]:
        return {
            "n_features_in": int(self.n_features_in_),
            "n_targets": int(self.n_targets_),
            "y_1d": bool(self.y_is_1d_),
            "n_trees": int(len(self.roots_)),
        }

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], info: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> RandomForestSurrogate:
        model = cls(**params)
        model.n_features_in_ = int(info["n_features_in"])
        model.n_targets_ = int(info["n_targets"])
        model.y_is_1d_ = bool(info["y_1d"])
        for name in (*_TREE_ARRAYS, "std_scale_"):
            setattr(model, name, tensors[name].numpy())
        n_nodes = len(model.value_)
        if not (
            len(model.roots_) == int(info["n_trees"])
            and len(model.roots_) % max(1, model.n_targets_) == 0
            and len(model.std_scale_) == model.n_targets_
            and all(len(getattr(model, a)) == n_nodes for a in ("left_", "right_", "feature_", "threshold_"))
            and model.roots_.min(initial=0) >= 0 and model.roots_.max(initial=0) < n_nodes
            and model.left_.max(initial=-1) < n_nodes and model.right_.max(initial=-1) < n_nodes
            and children_after_parents(model.left_, model.right_)
            and model.feature_[model.left_ >= 0].min(initial=0) >= 0
            and model.feature_[model.left_ >= 0].max(initial=0) < model.n_features_in_
        ):
            raise TypeError("the tree arrays are inconsistent with each other")
        return model


def _masked_median(values: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """`(n,)` median over axis 0 of ``values`` `(k, n)` where ``mask`` is True (NaN where none is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row in every bootstrap: all-NaN, skipped
        return np.nanmedian(np.where(mask, values, np.nan), axis=0)


def _out_of_bag(forest: RandomForestRegressor, n_rows: int) -> NDArray[np.bool_]:
    """`(n_trees, n_rows)` whether each row was left out of each tree's bootstrap sample.

    Rebuilt from each tree's seed as scikit-learn's own ``oob_score`` does (its private
    helpers; the public ``oob_prediction_`` gives the mean but not the spread over trees).
    """
    from sklearn.ensemble._forest import _generate_unsampled_indices, _get_n_samples_bootstrap

    n_bootstrap = _get_n_samples_bootstrap(n_rows, forest.max_samples, None)
    mask = np.zeros((len(forest.estimators_), n_rows), dtype=bool)
    for t, tree in enumerate(forest.estimators_):
        mask[t, _generate_unsampled_indices(tree.random_state, n_rows, n_bootstrap, None)] = True
    return mask
