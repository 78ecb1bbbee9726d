"""Errors that :mod:`operators` raises on purpose, with messages that say what to do."""

from __future__ import annotations

__all__ = ["ArtifactError", "ArtifactMismatchError", "DataError", "OperatorsError"]


class OperatorsError(Exception):
    """Base class of all errors raised on purpose by :mod:`operators`."""


class DataError(OperatorsError, ValueError):
    """Bad input vectors: the message names the row and what would be valid."""


class ArtifactError(OperatorsError, ValueError):
    """A model file is missing, unreadable, or not a generative-model file."""


class ArtifactMismatchError(ArtifactError):
    """A model file differs from what it is loaded for: its tensor hash or its metadata.

    Attributes:
        keys: the names of the differing entries (``"sha256"`` for the tensor file, else
            the metadata keys), so that a caller can react to one of them.
    """

    def __init__(self, message: str, keys: list[str]) -> None:
        super().__init__(message)
        self.keys = list(keys)
