"""Checkpoints of a running search, and atomic file writes.

A checkpoint is one file, ``checkpoint.pkl``:

* a fixed magic line, then a JSON header line (format version, campaign hash, model
  hashes, seed, generation) that is read and checked *before* anything is unpickled, so a
  foreign or mismatched checkpoint is refused with the differing key named;
* the pickled search state: the pymoo algorithm with its population and its
  ``random_state`` (the only RNG of the search), the problem's counters, the history rows
  and the provenance archive. The models are not in it: the problem drops its surrogate
  when pickled (``exclude_from_serialization``) and the operators hold their generators by
  path + hash; on resume the surrogate is re-attached after the hashes are checked.

Every write goes to a temporary file in the same folder, is fsync'ed, then
``os.replace``'d over the old one, so a run killed mid-write leaves the previous
checkpoint intact. Only load checkpoints you wrote: they are pickles.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from evodesign.exceptions import EvodesignError

__all__ = ["CheckpointError", "atomic_write_bytes", "atomic_write_text", "read_checkpoint", "write_checkpoint"]

MAGIC = b"evodesign-checkpoint\n"
FORMAT_VERSION = 1


class CheckpointError(EvodesignError, ValueError):
    """A checkpoint is missing, truncated, corrupt, or belongs to another run."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_checkpoint(path: str | Path, header: dict[str, Any], state: Any) -> None:
    """Atomically write ``header`` (JSON-able) and ``state`` (picklable) to ``path``."""
    header = {"format_version": FORMAT_VERSION, **header}
    body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    line = json.dumps(header, sort_keys=True).encode("utf-8") + b"\n"
    atomic_write_bytes(path, MAGIC + line + body)


def read_checkpoint(path: str | Path, expect: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """Read a checkpoint, refusing one that is truncated, corrupt or does not match.

    Args:
        path: the checkpoint file.
        expect: header keys that must have these values (campaign hash, model hashes,
            seed, ...); the first mismatch is reported by name.

    Returns:
        ``(header, state)``.

    Raises:
        CheckpointError: with a message naming the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: nothing to resume")
    raw = path.read_bytes()
    if not raw.startswith(MAGIC):
        raise CheckpointError(f"{path} is not an evodesign checkpoint (wrong magic line)")
    end = raw.find(b"\n", len(MAGIC))
    if end < 0:
        raise CheckpointError(f"{path} is truncated: its header line is incomplete")
    try:
        header = json.loads(raw[len(MAGIC) : end])
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} has a corrupt header: {error}") from error
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {header.get('format_version')!r}; this evodesign "
            f"reads format {FORMAT_VERSION}"
        )
    for key, value in (expect or {}).items():
        if header.get(key) != value:
            raise CheckpointError(
                f"{path} belongs to another run: its {key!r} is {header.get(key)!r}, this run "
                f"has {value!r}. Resume with the same config, seed and models, or start "
                "afresh with --overwrite"
            )
    try:
        state = pickle.loads(raw[end + 1 :])
    except Exception as error:  # noqa: BLE001 - truncation shows up as many exception types
        raise CheckpointError(
            f"{path} is truncated or corrupt ({type(error).__name__}: {error}); start afresh "
            "with --overwrite"
        ) from error
    return header, state
