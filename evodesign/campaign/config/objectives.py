"""``[[objectives]]``: the properties a campaign optimises.

The table is :class:`evodesign.objectives.Objective` itself: the campaign file validates
into the same objects the problem scores (one type, one set of rules).
"""

from __future__ import annotations

from evodesign.objectives import Objective, analytic_property_names

__all__ = ["Objective", "analytic_property_names"]
