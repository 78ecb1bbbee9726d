"""Property models: design vectors in, property mean and std out (compositions, images).

:class:`PropertyModel` ties together what a search needs to score candidates: the element
vocabulary (a :class:`~evodesign.representation.CompositionSpace`'s columns), the feature
definition (Magpie statistics plus the element fractions themselves), the targets, and a
fitted estimator with uncertainty. Its sidecar records all of them with the data hash, so a
model trained on other elements, features or data is refused at load time.
:class:`ImagePropertyModel` is its counterpart for microstructure images (pixels in, a
periodic CNN ensemble by default).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from evodesign.exceptions import DataError
from evodesign.featurizers import MagpieFeaturizer
from evodesign.surrogates.artifacts import load_model_and_sidecar, save_model
from evodesign.surrogates.ensemble import DeepEnsembleRegressor

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CompositionFeatures", "ImagePropertyModel", "PropertyModel", "data_hash"]


def data_hash(X: ArrayLike, Y: ArrayLike) -> str:
    """SHA-256 of training arrays (float64, C order): identifies the data a model saw."""
    digest = hashlib.sha256()
    for arr in (X, Y):
        arr = np.ascontiguousarray(np.asarray(arr, dtype=np.float64))
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


class CompositionFeatures:
    """Magpie statistics plus element fractions for `(n, n_elements)` composition vectors.

    The fractions let a network learn element-specific effects the fraction-weighted
    statistics average away; the statistics carry chemistry across elements.

    Args:
        elements: the vocabulary (vector columns), as in a CompositionSpace.
        include_fractions: append the normalized fraction vector to the Magpie features.
    """

    def __init__(self, elements: Sequence[str], include_fractions: bool = True) -> None:
        self.elements = tuple(elements)
        self.include_fractions = include_fractions
        self._magpie = MagpieFeaturizer(self.elements).fit()

    @property
    def n_features(self) -> int:
        return len(self._magpie.feature_labels()) + (
            len(self.elements) if self.include_fractions else 0
        )

    def to_dict(self) -> dict[str, Any]:
        """The feature definition, as recorded in model sidecars."""
        return {
            "kind": "magpie+fractions" if self.include_fractions else "magpie",
            "magpie_properties": list(self._magpie.properties),
            "magpie_stats": list(self._magpie.stats),
        }

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """`(n, n_elements)` non-negative amounts -> `(n, n_features)` features."""
        magpie = self._magpie.transform(X)
        if not self.include_fractions:
            return magpie
        X = np.asarray(X, dtype=np.float64)
        return np.hstack([magpie, X / X.sum(axis=1, keepdims=True)])


class _TargetModel:
    """What every property model shares: targets, a fitted estimator with a std, the data
    hash, the finite-prediction check and the model file. Subclasses say how a design's
    vector becomes the estimator's input (:meth:`_features`) and what the sidecar records
    of it (:meth:`metadata`)."""

    targets: tuple[str, ...]
    estimator: Any | None

    def _features(self, X: ArrayLike) -> Any:
        raise NotImplementedError

    def _default_estimator(self) -> Any:
        raise NotImplementedError

    def fit(
        self, X: ArrayLike, Y: ArrayLike, *, warm_start: bool = False, params: dict[str, Any] | None = None
    ) -> Any:
        """Fit on `(n, n_var)` design vectors and `(n, n_targets)` targets.

        Args:
            X: the designs' vectors.
            Y: their targets.
            warm_start: continue training the fitted estimator from its current weights
                on (X, Y) (an estimator with a ``warm_start`` parameter: the deep
                ensembles) instead of a fresh clone; a closed loop's update.
            params: estimator parameters changed for this fit (e.g. ``{"max_epochs": 10}``
                for a short update).

        Raises:
            DataError: Y has the wrong number of columns, or the fitted model predicts NaN
                or inf on its own training rows (the targets named; nothing is kept).
        """
        Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
        if Y.shape[1] != len(self.targets):
            raise DataError(
                f"Y has {Y.shape[1]} columns but the model predicts {len(self.targets)} "
                f"targets {list(self.targets)}"
            )
        features = self._features(X)
        if warm_start and hasattr(self, "estimator_"):
            if "warm_start" not in self.estimator_.get_params():
                raise DataError(
                    f"{type(self.estimator_).__name__} cannot be warm-started; fit it again "
                    "without warm_start"
                )
            # a copy: the model in use stays as it was should the new fit be refused
            estimator = copy.deepcopy(self.estimator_).set_params(warm_start=True, **(params or {}))
            estimator = estimator.fit(features, Y)
        else:
            base = self.estimator
            if base is None:  # a loaded model refits as the kind it was (clone drops the fit)
                base = getattr(self, "estimator_", None)
                base = self._default_estimator() if base is None else base
            estimator = clone(base).set_params(**(params or {})).fit(features, Y)
        self._check_finite(estimator, features, Y)
        self.estimator_ = estimator
        self.data_hash_ = data_hash(X, Y)
        return self

    def _check_finite(self, estimator: Any, features: Any, Y: NDArray) -> None:
        """Refuse a fitted estimator whose predictions on its own training rows are not finite.

        Such a model would mark every candidate infeasible (or worse, be cached and reused),
        so it is never kept: the usual cause is a target of absurd magnitude or spread.
        """
        mean, std = estimator.predict(features, return_std=True)
        n = len(features)
        bad = ~(np.isfinite(mean.reshape(n, -1)) & np.isfinite(std.reshape(n, -1)))
        if not bad.any():
            return
        names = [t for t, b in zip(self.targets, bad.any(axis=0)) if b]
        ranges = "; ".join(
            f"{t}: {np.nanmin(Y[:, j]):.4g} to {np.nanmax(Y[:, j]):.4g}"
            for j, t in enumerate(self.targets)
            if t in names and np.isfinite(Y[:, j]).any()
        )
        raise DataError(
            f"the {type(estimator).__name__} trained for {names} predicts NaN or inf on "
            f"{int(bad.any(axis=1).sum())} of its own {n} training rows (first: row "
            f"{int(np.flatnonzero(bad.any(axis=1))[0])}), so it was not kept (nor cached). "
            f"Check those target columns for values of absurd size or spread ({ranges}): "
            "a typo in an exponent or a wrong unit, then train again"
        )

    def predict(self, X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mean and std, each `(n, n_targets)`, for `(n, n_var)` design vectors."""
        if not hasattr(self, "estimator_"):
            raise DataError(f"this {type(self).__name__} is not fitted yet; call fit(X, Y) first")
        mean, std = self.estimator_.predict(self._features(X), return_std=True)
        n = len(mean)
        return mean.reshape(n, -1), std.reshape(n, -1)

    def metadata(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _read(cls, path: str | os.PathLike, **expect: Any) -> tuple[Any, dict[str, Any]]:
        """The estimator and sidecar metadata of a saved model of this class; the keys of
        ``expect`` that are not None must match the metadata (``targets`` as a list)."""
        wanted = {k: (list(v) if k == "targets" else v) for k, v in expect.items() if v is not None}
        estimator, sidecar = load_model_and_sidecar(path, expect={"kind": cls.__name__, **wanted})
        return estimator, sidecar["metadata"]

    def _fitted(self, estimator: Any, meta: dict[str, Any]) -> Any:
        """This model with a loaded estimator and the data hash it was trained on."""
        self.estimator_ = estimator
        self.data_hash_ = meta["data_hash"]
        return self

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``PATH.safetensors`` + ``PATH.json``; returns the sidecar path."""
        if not hasattr(self, "estimator_"):
            raise DataError(f"fit the {type(self).__name__} before saving it")
        return save_model(self.estimator_, path, metadata=self.metadata(), overwrite=overwrite)


class PropertyModel(_TargetModel):
    """Predicts several properties, with uncertainty, from composition vectors.

    Args:
        elements: the element vocabulary of the input vectors.
        targets: names of the predicted properties (e.g. ``("log10_PF_p", "S_p")``).
        estimator: an unfitted estimator with ``predict(X, return_std=True)``; defaults to
            :class:`DeepEnsembleRegressor`. It is cloned, never modified.
        include_fractions: see :class:`CompositionFeatures`.

    Example:
        >>> model = PropertyModel(space.elements, ["log10_PF_p"]).fit(X, y)  # doctest: +SKIP
        >>> mean, std = model.predict(X_new)                                 # doctest: +SKIP
    """

    def __init__(
        self,
        elements: Sequence[str],
        targets: Sequence[str],
        estimator: Any | None = None,
        include_fractions: bool = True,
    ) -> None:
        self.elements = tuple(elements)
        self.targets = tuple(targets)
        self.estimator = estimator
        self.include_fractions = include_fractions
        self.features = CompositionFeatures(self.elements, include_fractions)

    def _features(self, X: ArrayLike) -> NDArray[np.float64]:
        return self.features.transform(X)

    def _default_estimator(self) -> Any:
        return DeepEnsembleRegressor()

    def metadata(self) -> dict[str, Any]:
        return {
            "kind": "PropertyModel",
            "elements": list(self.elements),
            "targets": list(self.targets),
            "features": self.features.to_dict(),
            "data_hash": getattr(self, "data_hash_", None),
        }

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        elements: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        data_hash: str | None = None,
    ) -> PropertyModel:
        """Load a saved model; any of ``elements``, ``targets``, ``data_hash`` given must match."""
        estimator, meta = cls._read(path, elements=None if elements is None else list(elements),
                                    targets=targets, data_hash=data_hash)
        model = cls(
            meta["elements"],
            meta["targets"],
            include_fractions=meta["features"]["kind"] == "magpie+fractions",
        )
        return model._fitted(estimator, meta)


class ImagePropertyModel(_TargetModel):
    """Predicts several properties, with uncertainty, from square 0/1 images.

    The images' flattened pixels (a microstructure space's vectors) go to the estimator as
    they are: a :class:`~evodesign.surrogates.CNNEnsembleRegressor` by default, which reads
    the image back from its row.

    Args:
        size: the images' side in pixels.
        targets: names of the predicted properties (e.g. ``("k_xx", "k_yy")``).
        estimator: an unfitted estimator with ``predict(X, return_std=True)`` on
            `(n, size * size)` rows; cloned, never modified.
    """

    def __init__(self, size: int, targets: Sequence[str], estimator: Any | None = None) -> None:
        self.size = int(size)
        self.targets = tuple(targets)
        self.estimator = estimator

    def _features(self, X: ArrayLike) -> NDArray[np.float32]:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.size * self.size:
            raise DataError(
                f"this model reads (n, {self.size * self.size}) flattened {self.size}x{self.size} "
                f"images, got shape {X.shape}"
            )
        return X.astype(np.float32)

    def _default_estimator(self) -> Any:
        from evodesign.surrogates.cnn_ensemble import CNNEnsembleRegressor

        return CNNEnsembleRegressor()

    def metadata(self) -> dict[str, Any]:
        return {
            "kind": "ImagePropertyModel",
            "size": self.size,
            "targets": list(self.targets),
            "features": {"kind": "pixels"},
            "data_hash": getattr(self, "data_hash_", None),
        }

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        size: int | None = None,
        targets: Sequence[str] | None = None,
        data_hash: str | None = None,
    ) -> ImagePropertyModel:
        """Load a saved model; any of ``size``, ``targets``, ``data_hash`` given must match."""
        estimator, meta = cls._read(path, size=None if size is None else int(size), targets=targets,
                                    data_hash=data_hash)
        return cls(meta["size"], meta["targets"])._fitted(estimator, meta)
