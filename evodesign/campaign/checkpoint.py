"""Checkpoints of a running search, and atomic file writes.

A checkpoint is one file, ``checkpoint.bin``, that cannot run code when it is read:

* a fixed magic line;
* a JSON header line (format version, campaign hash, model hashes, seed, generation, and
  the sha256 and length of the body), checked *before* the body is touched, so a foreign,
  mismatched, truncated or corrupted checkpoint is refused with the reason named;
* the body: a numpy ``.npz`` archive of plain numeric arrays (the population and its
  per-individual data; once ``[generators] adapt_every`` has fine-tuned the generators,
  their weights too, ``generators.vae.*`` / ``generators.gan.*`` float32 arrays of
  :mod:`evodesign.search.adaptation`), read with ``allow_pickle=False``, plus one
  ``meta.json`` member (RNG state, counters, history rows, provenance archive) parsed as JSON.

No pickle is involved anywhere: the search itself is rebuilt from the campaign's config and
models and its saved values are put back (:mod:`evodesign.search.state`). A run folder
shared by a colleague is data, never a program.

Every write goes to a temporary file in the same folder, is fsync'ed, then
``os.replace``'d over the old one, so a run killed mid-write leaves the previous checkpoint
intact; :func:`remove_stale_temporaries` deletes what such a kill leaves behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evodesign.exceptions import EvodesignError

__all__ = [
    "CHECKPOINT",
    "CheckpointError",
    "SearchCheckpoint",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_checkpoint",
    "remove_stale_temporaries",
    "write_checkpoint",
]

CHECKPOINT = "checkpoint.bin"
#: checkpoints of evodesign <= 0.1 (pickles): recognised only to refuse them with a reason
LEGACY_CHECKPOINT = "checkpoint.pkl"
MAGIC = b"evodesign-checkpoint\n"
FORMAT_VERSION = 2
_META = "meta.json"


class CheckpointError(EvodesignError, ValueError):
    """A checkpoint is missing, truncated, corrupt, or belongs to another run.

    Attributes:
        mismatch: the header key that differs from what the run expects (None otherwise).
    """

    def __init__(self, message: str, mismatch: str | None = None) -> None:
        super().__init__(message)
        self.mismatch = mismatch

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.mismatch))


@dataclass
class SearchCheckpoint:
    """What a checkpoint holds besides its header.

    Attributes:
        arrays: numeric arrays of the search state (see
            :func:`evodesign.search.state.capture_search_state`).
        meta: the JSON part of the search state (RNG state, counters, text data).
        history: one dict per finished generation (``history.csv`` rows).
        archive: formula of every vector seen, by vector key (provenance of parents).
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    history: list[dict[str, Any]]
    archive: dict[str, str]

    def population(self) -> Any:
        """The saved population as a pymoo ``Population``."""
        from evodesign.search.state import population_from_state

        return population_from_state(self.arrays, self.meta)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would, so
        # colleagues sharing a run folder can read it
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files an atomic write killed mid-way left in ``folder``.

    Only names :func:`atomic_write_bytes` makes (``.<name>.<random>.tmp``) are touched.

    Returns:
        The paths removed.
    """
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
    return removed


def write_checkpoint(path: str | Path, header: dict[str, Any], state: SearchCheckpoint) -> None:
    """Atomically write ``header`` (JSON-able) and the search ``state`` to ``path``."""
    meta = {"search": state.meta, "history": state.history, "archive": state.archive}
    buffer = io.BytesIO()
    # np.savez (not _compressed): a checkpoint is rewritten every generation, speed first
    np.savez(buffer, **state.arrays, **{_META: np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)})
    body = buffer.getvalue()
    header = {
        "format_version": FORMAT_VERSION,
        **header,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_bytes": len(body),
    }
    line = json.dumps(header, sort_keys=True).encode("utf-8") + b"\n"
    atomic_write_bytes(path, MAGIC + line + body)


def _changed(key: str, saved: Any, current: Any) -> str:
    """The part of a mismatch message that says what differs."""
    if isinstance(saved, dict) and isinstance(current, dict):
        keys = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        return f"{key}: {', '.join(keys)} differ"
    return f"{key} is {saved!r} there, {current!r} here"


def read_checkpoint(path: str | Path, expect: dict[str, Any] | None = None) -> tuple[dict[str, Any], SearchCheckpoint]:
    """Read a checkpoint, refusing one that is truncated, corrupt or does not match.

    Nothing in the file can run code: the body's arrays are read with
    ``allow_pickle=False`` and everything else is JSON.

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
        legacy = path.with_name(LEGACY_CHECKPOINT)
        if legacy.exists():
            raise CheckpointError(
                f"{legacy} is a checkpoint of an older evodesign (a pickle, which can run "
                "code when read); this version does not read it. Start afresh with overwrite=True"
            )
        raise CheckpointError(f"no checkpoint at {path}: nothing to resume")
    raw = path.read_bytes()
    if not raw.startswith(MAGIC):
        raise CheckpointError(f"{path} is not an evodesign checkpoint (wrong magic line)")
    end = raw.find(b"\n", len(MAGIC))
    if end < 0:
        raise CheckpointError(f"{path} is truncated: its header line is incomplete")
    try:
        header = json.loads(raw[len(MAGIC) : end])
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} has a corrupt header: {error}") from error
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} has a corrupt header: not a JSON object")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {header.get('format_version')!r}; this evodesign "
            f"reads format {FORMAT_VERSION}"
        )
    for key, value in (expect or {}).items():
        if header.get(key) != value:
            raise CheckpointError(
                f"{path} belongs to another run ({_changed(key, header.get(key), value)}). "
                "Resume with the same config, seed and models, or start afresh with overwrite=True",
                mismatch=key,
            )
    body = raw[end + 1 :]
    if len(body) != header.get("body_bytes") or hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise CheckpointError(
            f"{path} is truncated or corrupt: its body does not match the checksum in its "
            f"header ({len(body):,} bytes read, {header.get('body_bytes')!r} written); start afresh "
            "with overwrite=True"
        )
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} has a body that is not a search state ({type(error).__name__}: {error})") from error
    if not isinstance(meta, dict) or not {"search", "history", "archive"} <= set(meta):
        raise CheckpointError(f"{path} has a body without the search state (meta.json lacks search/history/archive)")
    if not isinstance(meta["search"], dict) or not isinstance(meta["history"], list) or not isinstance(meta["archive"], dict):
        raise CheckpointError(f"{path} has a malformed meta.json: search, history and archive have the wrong types")
    return header, SearchCheckpoint(arrays, meta["search"], meta["history"], meta["archive"])
