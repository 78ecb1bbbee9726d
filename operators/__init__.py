"""Learned variation operators for evolutionary search (generic over vectors).

This package knows vectors, not chemistry: it depends on torch, numpy and pymoo only,
and :mod:`evodesign` builds the materials engine on top of it.
"""

from __future__ import annotations
