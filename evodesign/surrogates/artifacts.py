"""Surrogate model files: weights in safetensors (no pickle), everything else in JSON.

The layout and its checks are :mod:`operators.model_files` (shared with the generative
models): a model saved at ``PATH`` is ``PATH.safetensors`` + ``PATH.json``; loading checks
the SHA-256 of the tensor file and compares the metadata (vocabulary, features, targets,
data hash) with what the caller expects, naming every key that differs. This module adds
what an estimator needs to rebuild itself: its class, hyperparameters and fitted shapes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from operators.exceptions import ArtifactError as _FileError
from operators.model_files import (
    model_paths,
    read_model_files,
    repair_advice,
    versions,
    write_model_files,
)
from operators.model_files import read_sidecar as _read_sidecar

from evodesign.exceptions import ArtifactError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "load_model",
    "load_model_and_sidecar",
    "model_paths",
    "save_model",
    "versions",
]

FORMAT = "evodesign-model"
FORMAT_VERSION = 1


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.Generator):
            value = None  # a generator's state is consumed by fit; the weights are saved
        out[key] = value
    return out


def save_model(
    model: Any,
    path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a fitted model that supports ``_state_tensors`` (DeepEnsembleRegressor,
    RandomForestSurrogate).

    Args:
        model: the fitted estimator.
        path: where to save, without suffix (``PATH.safetensors`` + ``PATH.json``).
        metadata: JSON-serialisable facts the model depends on (vocabulary, feature
            definition, targets, data hash); :func:`load_model` can require them.
        overwrite: replace existing files; otherwise an existing model is never touched.

    Returns:
        The path of the JSON sidecar.
    """
    if not hasattr(model, "_state_tensors"):
        raise ArtifactError(f"{type(model).__name__} cannot be saved as a model file")
    sidecar = {
        "class": type(model).__name__,
        "params": _json_params(model.get_params()),
        "fitted": model._fitted_info(),
        "metadata": metadata or {},
    }
    try:
        json_path, _ = write_model_files(
            path, model._state_tensors(), sidecar,
            format=FORMAT, format_version=FORMAT_VERSION, overwrite=overwrite,
        )
    except _FileError as err:
        raise ArtifactError(str(err)) from err
    return json_path


def _registry() -> dict[str, type]:
    """The estimator classes a model file may name (nothing else is ever instantiated)."""
    from evodesign.surrogates.attention import AttentionEnsembleRegressor
    from evodesign.surrogates.boosting import GradientBoostingSurrogate
    from evodesign.surrogates.cnn_ensemble import CNNEnsembleRegressor
    from evodesign.surrogates.ensemble import DeepEnsembleRegressor
    from evodesign.surrogates.forest import RandomForestSurrogate
    from evodesign.surrogates.selection import AutoSurrogate

    return {
        "AttentionEnsembleRegressor": AttentionEnsembleRegressor,
        "AutoSurrogate": AutoSurrogate,
        "CNNEnsembleRegressor": CNNEnsembleRegressor,
        "DeepEnsembleRegressor": DeepEnsembleRegressor,
        "GradientBoostingSurrogate": GradientBoostingSurrogate,
        "RandomForestSurrogate": RandomForestSurrogate,
    }


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the JSON sidecar of a model (without loading its tensors)."""
    try:
        return _read_sidecar(path, format=FORMAT, format_version=FORMAT_VERSION)
    except _FileError as err:
        raise ArtifactError(str(err)) from err


def load_model(path: str | os.PathLike, *, expect: dict[str, Any] | None = None) -> Any:
    """Load a model saved with :func:`save_model`, refusing corrupted or mismatched files.

    Args:
        path: the path given to :func:`save_model` (with or without a suffix).
        expect: metadata the caller requires (e.g. ``{"elements": [...], "targets": [...]}``);
            every key must be present in the sidecar with an equal value.

    Returns:
        The fitted estimator.

    Raises:
        ArtifactError: a file is missing or corrupted (hash mismatch, unreadable tensors),
            or the metadata differs from ``expect`` (every differing key is named).
    """
    return load_model_and_sidecar(path, expect=expect)[0]


def load_model_and_sidecar(
    path: str | os.PathLike, *, expect: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """:func:`load_model`, also returning the sidecar it read (one read of each file)."""
    try:
        sidecar, tensors, _ = read_model_files(
            path, format=FORMAT, format_version=FORMAT_VERSION, expect=expect
        )
    except _FileError as err:
        raise ArtifactError(str(err)) from err
    tensor_path, json_path = model_paths(path)
    registry = _registry()
    cls = registry.get(sidecar.get("class"))
    if cls is None:
        raise ArtifactError(
            f"{json_path} holds an unknown model class {sidecar.get('class')!r} (this version "
            f"reads {', '.join(sorted(registry))}): " + repair_advice(tensor_path, json_path)
        )
    try:
        return cls._from_state(sidecar["params"], sidecar["fitted"], tensors), sidecar
    except (KeyError, RuntimeError, TypeError, ValueError, IndexError) as err:
        raise ArtifactError(
            f"{tensor_path} does not match its sidecar {json_path.name} ({err}): "
            + repair_advice(tensor_path, json_path)
        ) from err
