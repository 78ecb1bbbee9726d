"""One design campaign as a TOML file, validated with pydantic (this package).

A campaign file names the data set, the composition space, the surrogate models, the
objectives, the constraints, the generators and the search budget::

    [campaign]
    name = "thermoelectric"

    [[objectives]]
    name = "log10_PF_p"
    direction = "max"

    [[objectives]]
    name = "hhi_production"
    direction = "min"

Everything else has a default (see the section classes below). Unknown keys are rejected
with the valid keys of their table and the closest match; every problem of a file is
reported at once, one per line, each with its key path (``[search].pop_size``,
``[[objectives]][2].direction``: positions count from 1, as a chemist counts the tables in
the file), the line where the file has it, what was given and what would be valid::

    >>> config = CampaignConfig.from_dict(
    ...     {"campaign": {"name": "demo"},
    ...      "objectives": [{"name": "S_p", "direction": "max"}]})
    >>> config.surrogate_targets
    ('S_p',)
    >>> config.search.pop_size
    200

Trained models are cached by :meth:`CampaignConfig.surrogate_hash` and
:meth:`CampaignConfig.generator_hash`, which hash only the sections that change them.

The package is split by job: :mod:`.schema` (the whole file), :mod:`.sections`,
:mod:`.objectives`, :mod:`.constraints` and :mod:`.space` (the tables; ``[space]`` has one
settings model per design-space kind, found in the registry), :mod:`.messages` (error
rendering), :mod:`.locations` (line numbers of keys), :mod:`.toml_io` (reading, and writing
with tomli-w) and :mod:`.hashing` (run and model-cache hashes).
"""

from __future__ import annotations

from evodesign.campaign.config.constraints import ConstraintsSection
from evodesign.campaign.config.messages import ConfigError
from evodesign.campaign.config.objectives import Objective
from evodesign.campaign.config.schema import CampaignConfig
from evodesign.campaign.config.sections import (
    MAX_POP_SIZE,
    MAX_SCREEN_SAMPLES,
    CampaignSection,
    GeneratorsSection,
    LoopSection,
    ScreenSection,
    SearchSection,
    SurrogateSection,
    VerifySection,
)
from evodesign.campaign.config.space import DEFAULT_SPACE_KIND, CompositionSettings, SpaceSection, space_kinds
from evodesign.campaign.config.toml_io import dumps_toml

__all__ = [
    "DEFAULT_SPACE_KIND",
    "MAX_POP_SIZE",
    "MAX_SCREEN_SAMPLES",
    "CampaignConfig",
    "CampaignSection",
    "CompositionSettings",
    "ConfigError",
    "ConstraintsSection",
    "GeneratorsSection",
    "LoopSection",
    "Objective",
    "ScreenSection",
    "SearchSection",
    "SpaceSection",
    "SurrogateSection",
    "VerifySection",
    "dumps_toml",
    "space_kinds",
]
