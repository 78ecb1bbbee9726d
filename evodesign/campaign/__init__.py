"""Design campaigns: one TOML file per campaign, validated, then run or screened."""

from __future__ import annotations

from evodesign.campaign.config import (
    ANALYTIC_OBJECTIVES,
    CampaignConfig,
    CampaignSection,
    ConfigError,
    ConstraintsSection,
    GeneratorsSection,
    Objective,
    ScreenSection,
    SearchSection,
    SpaceSection,
    SurrogateSection,
    dumps_toml,
)

__all__ = [
    "ANALYTIC_OBJECTIVES",
    "CampaignConfig",
    "CampaignSection",
    "ConfigError",
    "ConstraintsSection",
    "GeneratorsSection",
    "Objective",
    "ScreenSection",
    "SearchSection",
    "SpaceSection",
    "SurrogateSection",
    "dumps_toml",
]
