"""Errors that evodesign raises at its boundaries, with messages a chemist can act on."""

from __future__ import annotations


class EvodesignError(Exception):
    """Base class of all errors raised on purpose by evodesign."""


class DataError(EvodesignError, ValueError):
    """Bad input data: the message names the file, row and column and what would be valid."""


class ArtifactError(EvodesignError, ValueError):
    """A model file is missing, corrupted, or does not match what it is loaded for."""


class UsageError(EvodesignError, ValueError):
    """Arguments of a call that cannot work (or work together); the message names them."""
