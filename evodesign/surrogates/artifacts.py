"""Model files: tensors in safetensors (no pickle), everything else in a JSON sidecar.

A model saved at ``PATH`` is two files: ``PATH.safetensors`` (the weights and fitted
scalers) and ``PATH.json`` (class, hyperparameters, fitted shapes, the caller's metadata
such as the element vocabulary, feature definition and data hash, package versions, and
the SHA-256 of the tensor file). Loading checks the hash -- a corrupted or swapped file is
refused -- and compares the metadata with what the caller expects, naming every key that
differs. Nothing is unpickled, so a model file from a stranger cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from evodesign.exceptions import ArtifactError

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "model_paths", "save_model", "versions"]

FORMAT = "evodesign-model"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    """Versions of the packages that shape a model's numbers."""
    import sklearn
    import torch

    import evodesign

    return {
        "evodesign": evodesign.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
    }


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The tensor file and the JSON sidecar of the model stored under ``path``."""
    path = Path(path)
    if path.suffix in {".safetensors", ".json"}:
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temp file in the same folder, fsync, then ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.Generator):
            value = None  # a generator's state is consumed by fit; the weights are saved
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def save_model(
    model: Any,
    path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a fitted model that supports ``_state_tensors`` (e.g. DeepEnsembleRegressor).

    Args:
        model: the fitted estimator.
        path: where to save, without suffix (``PATH.safetensors`` + ``PATH.json``).
        metadata: JSON-serialisable facts the model depends on (vocabulary, feature
            definition, targets, data hash); :func:`load_model` can require them.
        overwrite: replace existing files; otherwise an existing model is never touched.

    Returns:
        The path of the JSON sidecar.
    """
    tensor_path, json_path = model_paths(path)
    if not overwrite and (tensor_path.exists() or json_path.exists()):
        raise ArtifactError(f"{json_path} already exists; pass overwrite=True to replace it")
    if not hasattr(model, "_state_tensors"):
        raise ArtifactError(f"{type(model).__name__} cannot be saved as a model file")
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = model._state_tensors()
    _atomic_write(tensor_path, lambda tmp: save_file(tensors, tmp))
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "params": _json_params(model.get_params()),
        "fitted": model._fitted_info(),
        "metadata": metadata or {},
        "sha256": _sha256(tensor_path),
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(sidecar, indent=2, sort_keys=True)
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text))
    return json_path


def _registry() -> dict[str, type]:
    from evodesign.surrogates.ensemble import DeepEnsembleRegressor

    return {"DeepEnsembleRegressor": DeepEnsembleRegressor}


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the JSON sidecar of a model (without loading its tensors)."""
    _, json_path = model_paths(path)
    if not json_path.exists():
        raise ArtifactError(f"no model at {json_path}: the file does not exist")
    try:
        sidecar = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{json_path} is not valid JSON ({err}); the file is corrupted") from err
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ArtifactError(f"{json_path} is not an evodesign model file (no format={FORMAT!r})")
    if sidecar.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{json_path} has format_version {sidecar.get('format_version')!r}; this "
            f"evodesign reads version {FORMAT_VERSION}: retrain or use a matching release"
        )
    return sidecar


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
    tensor_path, json_path = model_paths(path)
    sidecar = read_sidecar(path)
    if not tensor_path.exists():
        raise ArtifactError(f"{json_path} has no weights: {tensor_path} does not exist")
    actual = _sha256(tensor_path)
    if actual != sidecar.get("sha256"):
        raise ArtifactError(
            f"{tensor_path} does not match its sidecar {json_path.name} (sha256 {actual[:12]}... "
            f"!= {str(sidecar.get('sha256'))[:12]}...): the file is corrupted or was replaced"
        )
    if expect:
        meta = sidecar.get("metadata", {})
        diffs = [
            f"{key}: model has {_short(meta.get(key, '<missing>'))}, expected {_short(value)}"
            for key, value in expect.items()
            if _normalise(meta.get(key)) != _normalise(value)
        ]
        if diffs:
            raise ArtifactError(
                f"model {json_path} does not fit this use: " + "; ".join(diffs)
            )
    cls = _registry().get(sidecar.get("class"))
    if cls is None:
        raise ArtifactError(f"{json_path} holds an unknown model class {sidecar.get('class')!r}")
    try:
        tensors = load_file(tensor_path)
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(f"{tensor_path} cannot be read as safetensors: {err}") from err
    try:
        return cls._from_state(sidecar["params"], sidecar["fitted"], tensors)
    except (KeyError, RuntimeError, TypeError) as err:
        raise ArtifactError(f"{tensor_path} does not match its sidecar: {err}") from err


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(value: Any, width: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."
