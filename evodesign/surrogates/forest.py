"""Random-forest baseline with a spread-of-trees standard deviation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestRegressor

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["RandomForestSurrogate"]


class RandomForestSurrogate(RegressorMixin, BaseEstimator):
    """scikit-learn random forest whose std is the spread of the trees' predictions.

    The usual strong baseline for composition-based property prediction (e.g. Ward et al.
    2016 used Magpie features with random forests). Its std is not calibrated: it is the
    baseline for accuracy, not for uncertainty.

    Args:
        n_estimators: number of trees.
        max_features: features tried per split (scikit-learn's meaning); 1/3 is Breiman's
            recommendation for regression and much faster than all features.
        min_samples_leaf: minimum rows per leaf.
        n_jobs: parallel jobs for fitting and prediction.
        random_state: seed or numpy Generator.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        max_features: float | str | None = 1 / 3,
        min_samples_leaf: int = 1,
        n_jobs: int | None = -1,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> RandomForestSurrogate:
        """Fit on `(n, n_features)` X and a `(n,)` target (rows with NaN targets dropped)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise DataError("RandomForestSurrogate fits one target at a time; pass a 1-d y")
        keep = np.isfinite(y)
        seed = self.random_state
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**31 - 1))
        self.forest_ = RandomForestRegressor(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=seed,
        ).fit(X[keep], y[keep])
        self.n_features_in_ = X.shape[1]
        return self

    def predict(
        self, X: ArrayLike, return_std: bool = False
    ) -> NDArray | tuple[NDArray, NDArray]:
        """Mean over trees, `(n,)`; with ``return_std`` also the std over trees, `(n,)`."""
        if not hasattr(self, "forest_"):
            raise DataError("this RandomForestSurrogate is not fitted yet; call fit(X, y) first")
        X = np.asarray(X, dtype=np.float64)
        if not return_std:
            return self.forest_.predict(X)
        per_tree = np.stack([tree.predict(X) for tree in self.forest_.estimators_])
        return per_tree.mean(axis=0), per_tree.std(axis=0)
