"""What a campaign's ``[space]`` and ``[constraints]`` tables mean for compositions.

Registered as the ``"composition"`` space's constraint set
(:data:`evodesign.representation.registry.constraint_builders`); the campaign adds the
constraints every space shares (surrogate trust, property windows) after these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evodesign.constraints.composition import (
    ChargeBalance,
    ElementFilter,
    KnownSupplyRisk,
    MaxAtoms,
    MaxElements,
    MinElements,
    NotOnlyNonmetals,
)
from evodesign.constraints.novelty import Novelty
from evodesign.representation.registry import analytic_properties, constraint_builders

if TYPE_CHECKING:
    from evodesign.constraints.base import Constraint

__all__ = ["composition_constraints"]


def composition_constraints(config: Any, models: Any) -> list[Constraint]:
    """The formula rules of a campaign, in a fixed order (the ``g_*`` columns' order).

    Args:
        config: the campaign (:class:`~evodesign.campaign.config.CampaignConfig`).
        models: its models: ``space`` (a
            :class:`~evodesign.representation.CompositionSpace`) and ``known`` (the run's
            :class:`~evodesign.representation.KnownDesigns`).
    """
    space, cfg, limits = models.space, config.constraints, config.space
    out: list[Constraint] = []
    if cfg.charge_balance != "off":
        out.append(ChargeBalance(space, mode=cfg.charge_balance, min_state_share=cfg.oxidation_state_min_share))
    out.append(MaxElements(limits.max_elements))
    if limits.min_elements > 1:  # plausibility: no single elements
        out.append(MinElements(limits.min_elements))
    out.append(MaxAtoms(limits.max_atoms))
    out.append(ElementFilter(space, allow=list(limits.allow) or None, deny=tuple(limits.deny)))
    if not cfg.molecular:  # plausibility: no all-non-metal (molecular) formulas
        out.append(NotOnlyNonmetals(space))
    if cfg.novel:
        out.append(Novelty(space, models.known.designs))
    if any(o.analytic for o in config.objectives) and cfg.hhi_missing == "infeasible":
        out.append(KnownSupplyRisk(analytic_properties.get(space.kind, "hhi_production")(space)))
    return out


constraint_builders.register("composition", "default", composition_constraints)
