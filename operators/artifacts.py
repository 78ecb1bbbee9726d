"""Generative-model files: tensors in safetensors (no pickle), everything else in a JSON sidecar.

A model saved at ``PATH`` is two files: ``PATH.safetensors`` (VAE and GAN weights) and
``PATH.json`` (architecture, training settings and results, the caller's metadata such as
the vocabulary and a data hash, package versions, and the SHA-256 of the tensor file).
Loading checks the hash -- a corrupted or swapped file is refused -- and compares the
metadata with what the caller expects, naming every key that differs. Nothing is
unpickled, so a model file from a stranger cannot run code.

This is the same layout as :mod:`evodesign.surrogates.artifacts`, written again here because
imports go one way only (evodesign imports operators).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from operators.exceptions import ArtifactError, ArtifactMismatchError
from operators.gan import LatentGAN
from operators.generative import GenerativeModel
from operators.vae import VAE

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "load_generative_model",
    "model_paths",
    "read_sidecar",
    "save_generative_model",
    "sha256_file",
]

FORMAT = "operators-generative-model"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    """Versions of the packages that shape a model's numbers."""
    import safetensors

    try:
        dist = importlib_metadata.version("evodesign")  # operators ships in this distribution
    except importlib_metadata.PackageNotFoundError:
        dist = "unknown"
    return {
        "evodesign-dist": dist,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
    }


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The tensor file and the JSON sidecar of the model stored under ``path``."""
    path = Path(path)
    if path.suffix in {".safetensors", ".json"}:
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Callable[[str], Any]) -> None:
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


def save_generative_model(
    model: GenerativeModel,
    path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a :class:`GenerativeModel` as ``PATH.safetensors`` + ``PATH.json``.

    Args:
        model: the trained bundle; its ``path`` and ``sha256`` are set to the saved files.
        path: where to save, without suffix.
        metadata: JSON-serialisable facts the model depends on (vocabulary, data hash);
            merged over ``model.metadata``. :func:`load_generative_model` can require them.
        overwrite: replace existing files; otherwise an existing model is never touched.

    Returns:
        The path of the JSON sidecar.
    """
    tensor_path, json_path = model_paths(path)
    if not overwrite and (tensor_path.exists() or json_path.exists()):
        raise ArtifactError(f"{json_path} already exists; pass overwrite=True to replace it")
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"vae.{k}": v.detach().contiguous() for k, v in model.vae.state_dict().items()}
    if model.gan is not None:
        gan_state = model.gan.state_dict()
        tensors.update({f"gan.{k}": v.detach().contiguous() for k, v in gan_state.items()})
    _atomic_write(tensor_path, lambda tmp: save_file(tensors, tmp))
    meta = {**model.metadata, **(metadata or {})}
    sha = sha256_file(tensor_path)
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "vae": model.vae.config(),
        "gan": model.gan.config() if model.gan is not None else None,
        "training": model.info,
        "metadata": meta,
        "sha256": sha,
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(_jsonable(sidecar), indent=2, sort_keys=True)
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text))
    model.metadata = meta
    model.path, model.sha256 = json_path.resolve(), sha
    return json_path


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the JSON sidecar of a model (without loading its tensors)."""
    _, json_path = model_paths(path)
    if not json_path.exists():
        raise ArtifactError(f"no generative model at {json_path}: the file does not exist")
    try:
        sidecar = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(
            f"{json_path} is not valid JSON ({err}); the file is corrupted"
        ) from err
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ArtifactError(f"{json_path} is not a generative-model file (no format={FORMAT!r})")
    if sidecar.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{json_path} has format_version {sidecar.get('format_version')!r}; this code reads "
            f"version {FORMAT_VERSION}: retrain or use a matching release"
        )
    return sidecar


def load_generative_model(
    path: str | os.PathLike,
    *,
    expect: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> GenerativeModel:
    """Load a model saved with :func:`save_generative_model`, refusing corrupted or wrong files.

    Args:
        path: the path given to :func:`save_generative_model` (with or without a suffix).
        expect: metadata the caller requires (e.g. ``{"elements": [...]}``); every key must
            be in the sidecar with an equal value.
        sha256: the tensor-file hash the caller holds (e.g. from a pickled operator); the
            file must still have it.

    Returns:
        The model, with ``path`` and ``sha256`` set.

    Raises:
        ArtifactError: a file is missing or unreadable.
        ArtifactMismatchError: the tensor file does not match its sidecar or ``sha256``, or
            the metadata differs from ``expect``; the message and ``keys`` name every
            differing entry.
    """
    tensor_path, json_path = model_paths(path)
    sidecar = read_sidecar(path)
    if not tensor_path.exists():
        raise ArtifactError(f"{json_path} has no weights: {tensor_path} does not exist")
    actual = sha256_file(tensor_path)
    if actual != sidecar.get("sha256"):
        raise ArtifactMismatchError(
            f"{tensor_path} does not match its sidecar {json_path.name} (sha256 {actual[:12]}... "
            f"!= {str(sidecar.get('sha256'))[:12]}...): the file is corrupted or was replaced",
            ["sha256"],
        )
    if sha256 is not None and actual != sha256:
        raise ArtifactMismatchError(
            f"the generative model at {json_path} changed since it was referenced (sha256 "
            f"{actual[:12]}... != {sha256[:12]}...): it was retrained or replaced; restore the "
            "original file or rebuild the operators with the new model",
            ["sha256"],
        )
    if expect:
        meta = sidecar.get("metadata", {})
        diffs = {
            key: f"{key}: model has {_short(meta.get(key, '<missing>'))}, expected {_short(value)}"
            for key, value in expect.items()
            if _normalise(meta.get(key)) != _normalise(value)
        }
        if diffs:
            raise ArtifactMismatchError(
                f"generative model {json_path} does not fit this use: " + "; ".join(diffs.values()),
                list(diffs),
            )
    try:
        tensors = load_file(tensor_path)
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(f"{tensor_path} cannot be read as safetensors: {err}") from err
    try:
        vae = VAE(**sidecar["vae"])
        vae.load_state_dict(_prefixed(tensors, "vae."))
        gan = None
        if sidecar.get("gan") is not None:
            gan = LatentGAN(**sidecar["gan"])
            gan.load_state_dict(_prefixed(tensors, "gan."))
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise ArtifactError(
            f"{tensor_path} does not match its sidecar {json_path.name}: {err}"
        ) from err
    model = GenerativeModel(
        vae, gan, metadata=sidecar.get("metadata"), info=sidecar.get("training")
    )
    model.path, model.sha256 = json_path.resolve(), actual
    return model


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(_jsonable(value), default=str))


def _short(value: Any, width: int = 80) -> str:
    text = json.dumps(_jsonable(value), default=str)
    return text if len(text) <= width else text[: width - 3] + "..."
