"""Errors that :mod:`operators` raises on purpose, with messages that say what to do.

Every one of them derives from :class:`OperatorsError`, so a program (the ``evodesign``
command line, for one) can catch them all with a single ``except OperatorsError`` and show
the message without a traceback. :mod:`operators` does not depend on evodesign, so these
are not ``EvodesignError`` subclasses; catch both.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ArtifactError", "ArtifactMismatchError", "DataError", "OperatorsError"]


class OperatorsError(Exception):
    """Base class of all errors raised on purpose by :mod:`operators`.

    The message is complete and meant for the user: it names the file, row or argument at
    fault and what to do about it.
    """


class DataError(OperatorsError, ValueError):
    """Bad input vectors: the message names the row and what would be valid."""


class ArtifactError(OperatorsError, ValueError):
    """A model file is missing, unreadable, or not a model file of the expected kind.

    Args:
        message: what is wrong with which file, and what to do (delete, retrain, restore).
        path: the file at fault, when there is one.

    Attributes:
        path: as given (None when no single file is at fault).
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None

    def __reduce__(self):  # pickled across worker processes: keep every argument
        return (ArtifactError._rebuild, (type(self), self.__dict__, str(self)))

    @staticmethod
    def _rebuild(cls: type, state: dict, message: str) -> ArtifactError:
        error = Exception.__new__(cls)
        Exception.__init__(error, message)
        error.__dict__.update(state)
        return error


class ArtifactMismatchError(ArtifactError):
    """A model file differs from what it is loaded for: its tensor hash or its metadata.

    Args:
        message: as for :class:`ArtifactError`.
        keys: the names of the differing entries.
        path: the file at fault.

    Attributes:
        keys: the names of the differing entries (``"sha256"`` for the tensor file, else
            the metadata keys), so that a caller can react to one of them.
    """

    def __init__(self, message: str, keys: list[str], path: str | Path | None = None) -> None:
        super().__init__(message, path)
        self.keys = list(keys)
