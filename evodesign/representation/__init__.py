"""Representations of candidate materials as vectors (first: chemical compositions)."""

from __future__ import annotations

from evodesign.representation.composition import CompositionSpace

__all__ = ["CompositionSpace"]
