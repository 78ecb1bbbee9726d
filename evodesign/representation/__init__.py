"""Design spaces: the :class:`DesignSpace` seam and one module per kind of material.

Importing this package registers every built-in space (:mod:`.registry`).
"""

from __future__ import annotations

from evodesign.representation.composition import CompositionSpace
from evodesign.representation.registry import space_from_dict
from evodesign.representation import registry
from evodesign.representation.space import DesignSpace, KnownDesigns

__all__ = ["CompositionSpace", "DesignSpace", "KnownDesigns", "registry", "space_from_dict"]
