"""Design campaigns: one TOML file per campaign, validated, then run or screened."""

from __future__ import annotations

from evodesign.campaign.config import (
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

from evodesign.campaign.checkpoint import CheckpointError
from evodesign.campaign.parallel import run_seeds
from evodesign.campaign.results import load_run
from evodesign.campaign.runner import Campaign, CampaignResult, RunExistsError

__all__ = [
    "Campaign",
    "CampaignResult",
    "CheckpointError",
    "RunExistsError",
    "load_run",
    "run_seeds",
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
