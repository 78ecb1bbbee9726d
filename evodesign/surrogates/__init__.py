"""Property surrogates: scikit-learn-style estimators whose ``predict`` gives a mean and a std.

* :class:`DeepEnsembleRegressor` -- the main model: a calibrated deep ensemble (torch).
* :class:`AttentionEnsembleRegressor` -- a deep ensemble of attention networks over element tokens.
* :class:`CNNEnsembleRegressor` -- a deep ensemble of periodic CNNs on 0/1 images.
* :class:`RandomForestSurrogate` -- the baseline: a random forest, std over trees.
* :class:`GradientBoostingSurrogate` -- gradient-boosted trees, std from a quantile band.
* :class:`AutoSurrogate` -- the best of these per target, chosen by cross-validation.
* :class:`PropertyModel` -- composition vectors -> features -> estimator, saved safely.
* :class:`ImagePropertyModel` -- the same for microstructure images (a CNN ensemble).
"""

from __future__ import annotations

from evodesign.surrogates.artifacts import load_model, save_model
from evodesign.surrogates.attention import AttentionEnsembleRegressor
from evodesign.surrogates.boosting import GradientBoostingSurrogate
from evodesign.surrogates.cnn_ensemble import CNNEnsembleRegressor
from evodesign.surrogates.ensemble import DeepEnsembleRegressor
from evodesign.surrogates.forest import RandomForestSurrogate
from evodesign.surrogates.property_model import CompositionFeatures, ImagePropertyModel, PropertyModel, data_hash
from evodesign.surrogates.selection import AutoSurrogate

__all__ = [
    "AttentionEnsembleRegressor",
    "AutoSurrogate",
    "CNNEnsembleRegressor",
    "CompositionFeatures",
    "DeepEnsembleRegressor",
    "GradientBoostingSurrogate",
    "ImagePropertyModel",
    "PropertyModel",
    "RandomForestSurrogate",
    "data_hash",
    "load_model",
    "save_model",
]
