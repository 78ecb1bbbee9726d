"""Featurizers: composition vectors -> descriptor vectors for the property surrogates."""

from __future__ import annotations

from evodesign.featurizers.magpie import MAGPIE_PROPERTIES, MAGPIE_STATS, MagpieFeaturizer

__all__ = ["MAGPIE_PROPERTIES", "MAGPIE_STATS", "MagpieFeaturizer"]
