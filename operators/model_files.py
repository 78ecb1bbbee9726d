"""Model files without pickle: tensors in safetensors, everything else in a JSON sidecar.

A model saved at ``PATH`` is two files: ``PATH.safetensors`` and ``PATH.json``. The
sidecar holds a format tag and version, whatever the model type needs to rebuild itself,
the caller's metadata (vocabulary, data hash, ...), package versions and the SHA-256 of the
tensor file. Reading checks the tag, the version and the hash, and compares the metadata
with what the caller expects, naming every key that differs. Nothing is unpickled, so a
model file from a stranger cannot run code.

The sidecar is the commit marker: the tensor file is written first, the sidecar last, each
through a temporary file and an atomic rename. A model exists when its sidecar and its
tensor file both do (:func:`model_complete`); tensors without a sidecar (a kill between
the two writes, a partial copy) are an unfinished write, treated as absent and replaced by
the next save. Replacing a model removes its old sidecar first, so a kill half-way never
leaves a sidecar next to tensors it does not describe.

Both :mod:`operators.artifacts` (generative models) and :mod:`evodesign.surrogates.artifacts`
(property surrogates) are thin layers over these functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from operators.exceptions import ArtifactError, ArtifactMismatchError

__all__ = [
    "check_metadata",
    "jsonable",
    "model_complete",
    "model_paths",
    "read_model_files",
    "read_sidecar",
    "remove_model_files",
    "repair_advice",
    "sha256_file",
    "versions",
    "write_model_files",
]


def versions() -> dict[str, str]:
    """Versions of the packages that shape a model's numbers."""
    import safetensors

    try:
        dist = importlib_metadata.version("evodesign")  # operators ships in this distribution
    except importlib_metadata.PackageNotFoundError:
        dist = "unknown"
    return {
        "evodesign": dist,
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


def model_complete(path: str | os.PathLike) -> bool:
    """Whether a model is stored under ``path``: its sidecar and its tensor file both exist.

    Tensors without a sidecar are an unfinished write; a sidecar without tensors is a
    partial copy. Neither can be loaded, and both count as no model.
    """
    tensor_path, json_path = model_paths(path)
    return json_path.is_file() and tensor_path.is_file()


def remove_model_files(path: str | os.PathLike) -> list[Path]:
    """Delete the model under ``path``: sidecar first, then tensors, then leftover temp files.

    The temporary files are those an interrupted :func:`write_model_files` leaves in the
    folder (``.NAME.json.*.tmp``, ``.NAME.safetensors.*.tmp``). Call this only when no other
    process may be writing the same model (e.g. under the cache entry's lock).

    Returns:
        The paths deleted.
    """
    tensor_path, json_path = model_paths(path)
    removed = []
    for file in (json_path, tensor_path):
        if file.exists():
            file.unlink()
            removed.append(file)
    if json_path.parent.is_dir():
        for name in (json_path.name, tensor_path.name):
            for tmp in json_path.parent.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def repair_advice(tensor_path: Path, json_path: Path) -> str:
    """What to do about a broken model: the sentence that ends every such error message."""
    return (
        f"delete {json_path} and {tensor_path} (a campaign then retrains the model on its "
        "next run; elsewhere, retrain it) or restore the original files"
    )


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
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; models are shared between users
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def jsonable(value: Any) -> Any:
    """``value`` with tuples, numpy scalars and arrays turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def write_model_files(
    path: str | os.PathLike,
    tensors: dict[str, torch.Tensor],
    sidecar: dict[str, Any],
    *,
    format: str,
    format_version: int,
    overwrite: bool = False,
) -> tuple[Path, str]:
    """Write ``tensors`` and ``sidecar`` (plus format, hash, versions, time) atomically.

    The tensor file is written first and the sidecar last (the commit marker). Tensors
    left without a sidecar by an earlier, interrupted write are replaced without asking.

    Returns:
        The sidecar's path and the tensor file's SHA-256.

    Raises:
        ArtifactError: a sidecar exists and ``overwrite`` is False (nothing is touched).
    """
    tensor_path, json_path = model_paths(path)
    if json_path.exists():
        if not overwrite:
            raise ArtifactError(
                f"{json_path} already exists; pass overwrite=True (--overwrite on the command "
                f"line) to replace it, choose another path, or delete {json_path.name} and "
                f"{tensor_path.name}",
                json_path,
            )
        json_path.unlink()  # the commit marker goes first: a kill below leaves "no model"
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    _atomic_write(tensor_path, lambda tmp: save_file(tensors, tmp))
    sha = sha256_file(tensor_path)
    full = {
        "format": format,
        "format_version": format_version,
        **sidecar,
        "sha256": sha,
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(jsonable(full), indent=2, sort_keys=True)
    _atomic_write(json_path, lambda tmp: Path(tmp).write_text(text))
    return json_path, sha


def read_sidecar(path: str | os.PathLike, *, format: str, format_version: int) -> dict[str, Any]:
    """Read and check a model's JSON sidecar (without loading its tensors)."""
    tensor_path, json_path = model_paths(path)
    if not json_path.exists():
        raise ArtifactError(f"no model at {json_path}: the file does not exist", json_path)
    try:
        sidecar = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(
            f"{json_path} is not valid JSON ({err}); the file is corrupted: "
            + repair_advice(tensor_path, json_path),
            json_path,
        ) from err
    if not isinstance(sidecar, dict) or sidecar.get("format") != format:
        raise ArtifactError(
            f"{json_path} is not a model file of type {format!r}: "
            + repair_advice(tensor_path, json_path),
            json_path,
        )
    if sidecar.get("format_version") != format_version:
        raise ArtifactError(
            f"{json_path} has format_version {sidecar.get('format_version')!r}; this code "
            f"reads version {format_version}: retrain or use a matching release",
            json_path,
        )
    return sidecar


def _short(value: Any, width: int = 80) -> str:
    text = json.dumps(jsonable(value), default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def check_metadata(json_path: Path, metadata: dict[str, Any], expect: dict[str, Any]) -> None:
    """Raise :class:`ArtifactMismatchError` naming every key of ``expect`` that differs."""

    def normalise(value: Any) -> Any:
        return json.loads(json.dumps(jsonable(value), default=str))

    diffs = {
        key: f"{key}: model has {_short(metadata.get(key, '<missing>'))}, expected {_short(value)}"
        for key, value in expect.items()
        if normalise(metadata.get(key)) != normalise(value)
    }
    if diffs:
        raise ArtifactMismatchError(
            f"model {json_path} does not fit this use: " + "; ".join(diffs.values()),
            list(diffs),
            json_path,
        )


def read_model_files(
    path: str | os.PathLike,
    *,
    format: str,
    format_version: int,
    expect: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """Read a model's sidecar and tensors, refusing corrupted, replaced or mismatched files.

    Args:
        path: the path the model was written to (with or without a suffix).
        format / format_version: what the caller reads.
        expect: metadata the caller requires; every key must be equal in the sidecar.
        sha256: the tensor-file hash the caller holds (e.g. from a pickled operator).

    Returns:
        ``(sidecar, tensors, sha256 of the tensor file)``.

    Raises:
        ArtifactError: a file is missing or unreadable.
        ArtifactMismatchError: hash or metadata differ (``keys`` names them).
    """
    tensor_path, json_path = model_paths(path)
    sidecar = read_sidecar(path, format=format, format_version=format_version)
    if not tensor_path.exists():
        raise ArtifactError(
            f"{json_path} has no weights: {tensor_path} does not exist (an interrupted copy?): "
            f"copy {tensor_path.name} next to it, or " + repair_advice(tensor_path, json_path),
            tensor_path,
        )
    actual = sha256_file(tensor_path)
    if actual != sidecar.get("sha256"):
        raise ArtifactMismatchError(
            f"{tensor_path} does not match its sidecar {json_path.name} (sha256 {actual[:12]}... "
            f"!= {str(sidecar.get('sha256'))[:12]}...): the file is corrupted or was replaced; "
            + repair_advice(tensor_path, json_path),
            ["sha256"],
            tensor_path,
        )
    if sha256 is not None and actual != sha256:
        raise ArtifactMismatchError(
            f"the model at {json_path} changed since it was referenced (sha256 "
            f"{actual[:12]}... != {sha256[:12]}...): it was retrained or replaced; restore the "
            "original file or rebuild with the new model",
            ["sha256"],
            tensor_path,
        )
    if expect:
        check_metadata(json_path, sidecar.get("metadata", {}), expect)
    try:
        tensors = load_file(tensor_path)
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtifactError(
            f"{tensor_path} cannot be read as safetensors ({err}): "
            + repair_advice(tensor_path, json_path),
            tensor_path,
        ) from err
    return sidecar, tensors, actual
