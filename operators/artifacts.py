"""Generative-model files: a VAE (and latent GAN) in safetensors plus a JSON sidecar.

The file layout and its checks (hash, metadata, no pickle) are those of
:mod:`operators.model_files`; this module adds what a :class:`GenerativeModel` needs to
rebuild itself: the VAE's and GAN's architecture (with the VAE's codec; files saved
before codecs existed are simplex models) and the training summary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from operators.exceptions import ArtifactError
from operators.gan import LatentGAN
from operators.vaegan import VAEGAN
from operators.model_files import (
    repair_advice,
    model_paths,
    read_model_files,
    sha256_file,
    write_model_files,
)
from operators.model_files import read_sidecar as _read_sidecar
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


def save_generative_model(
    model: VAEGAN,
    path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a :class:`~operators.vaegan.VAEGAN` as ``PATH.safetensors`` + ``PATH.json``.

    Args:
        model: the trained bundle; its ``path`` and ``sha256`` are set to the saved files.
        path: where to save, without suffix.
        metadata: JSON-serialisable facts the model depends on (vocabulary, data hash);
            merged over ``model.metadata``. :func:`load_generative_model` can require them.
        overwrite: replace existing files; otherwise an existing model is never touched.

    Returns:
        The path of the JSON sidecar.
    """
    tensors = {f"vae.{k}": v for k, v in model.vae.state_dict().items()}
    if model.gan is not None:
        tensors.update({f"gan.{k}": v for k, v in model.gan.state_dict().items()})
    meta = {**model.metadata, **(metadata or {})}
    sidecar = {
        "vae": model.vae.config(),
        "gan": model.gan.config() if model.gan is not None else None,
        "training": model.info,
        "inference": model.inference_config(),
        "metadata": meta,
    }
    json_path, sha = write_model_files(
        path, tensors, sidecar, format=FORMAT, format_version=FORMAT_VERSION, overwrite=overwrite
    )
    model.metadata = meta
    model.path, model.sha256 = json_path.resolve(), sha
    return json_path


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the JSON sidecar of a generative model (without loading its tensors)."""
    return _read_sidecar(path, format=FORMAT, format_version=FORMAT_VERSION)


def load_generative_model(
    path: str | os.PathLike,
    *,
    expect: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> VAEGAN:
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
    sidecar, tensors, actual = read_model_files(
        path, format=FORMAT, format_version=FORMAT_VERSION, expect=expect, sha256=sha256
    )
    try:
        vae = VAE(**sidecar["vae"])
        vae.load_state_dict(_prefixed(tensors, "vae."))
        gan = None
        if sidecar.get("gan") is not None:
            gan = LatentGAN(**sidecar["gan"])
            gan.load_state_dict(_prefixed(tensors, "gan."))
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise ArtifactError(
            f"{tensor_path} does not match its sidecar {json_path.name} ({err}): "
            + repair_advice(tensor_path, json_path),
            tensor_path,
        ) from err
    model = VAEGAN(
        vae, gan, metadata=sidecar.get("metadata"), info=sidecar.get("training"),
        **(sidecar.get("inference") or {}),
    )
    model.path, model.sha256 = json_path.resolve(), actual
    return model


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
