"""Hashes of a campaign config: of the run (checkpoints, run folders) and of what trained
models depend on (the model cache), each over only the sections that change it.

A hash is the sha256 of canonical JSON (sorted keys, ASCII, infinite window ends written
as ``"inf"``) of the resolved config's TOML data, so it does not depend on how the file was
written (key order, defaults left out or spelled out).

Keys added after hashes were first stored are hashed only when set away from their
default, so caches and run folders made before they existed stay valid: the surrogate keys
of :data:`LATER_SURROGATE_KEYS`, ``[space] kind = "composition"``, and the tables
:data:`LATER_TABLES` (``[data]``, ``[physics]``) while every key of them is at its default.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from evodesign.campaign.config.sections import DataSection, GeneratorsSection, LoopSection, PhysicsSection, SurrogateSection
from evodesign.campaign.config.space import DEFAULT_SPACE_KIND

if TYPE_CHECKING:
    from evodesign.campaign.config.schema import CampaignConfig

__all__ = ["ADAPT_KEYS", "LATER_SURROGATE_KEYS", "LATER_TABLES", "LOOP_BUDGET_KEYS", "campaign_hash", "digest", "generator_hash",
           "loop_hash", "surrogate_hash"]

# Bumped when the meaning of a hashed section changes, so that old caches are not reused.
_HASH_VERSION = 1

#: ``[surrogate]`` keys added after models were first cached (hashed only when set away
#: from their defaults)
LATER_SURROGATE_KEYS = ("architecture", "dropout", "lr_schedule", "warmup_epochs", "channels", "max_rows", "candidates", "cv_folds",
                        "weighted")
#: the ``[surrogate]`` keys added after the run hash covered that table (kept out of it at
#: their defaults, so runs made before them still resume)
_RUN_LATER_SURROGATE_KEYS = ("channels", "max_rows", "candidates", "cv_folds", "weighted")
#: surrogate models whose deep ensembles clip inputs to their training range (session 8):
#: models cached before that predict differently, so their cache key changed
_CLIPPED_INPUT_MODELS = ("ensemble", "auto")
#: surrogate models whose blends and weighted means calibrate their std on out-of-fold
#: predictions (session 12): models cached before that have other stds, so their key changed
_COMBINED_STD_MODELS = ("auto",)
#: the attention network trains on length-grouped minibatches with its attention written out
#: (session 13): attention models cached before that were trained otherwise, so the key of an
#: ``"auto"`` that compares it changed
_ATTENTION_TRAINING = "minibatches run in groups of rows by element count"
#: ``[generators]`` keys that act during the search (fine-tuning on the run's archive):
#: never part of the cached models' key, and in the run's hash only when set away from
#: their defaults (added after run hashes were first stored)
ADAPT_KEYS = ("adapt_every", "adapt_weighting", "adapt_k", "adapt_epochs")
#: tables added after run hashes were first stored (hashed only when set away from their
#: defaults: a default is a fixed value, so leaving it out keeps the hash unique)
LATER_TABLES = {"data": DataSection, "physics": PhysicsSection, "loop": LoopSection}
#: ``[loop]`` keys added after loops were first run (left out of the hash at their
#: defaults, so a loop table set away from its defaults keeps its hash and its loops resume)
LATER_LOOP_KEYS = ("adapt",)
#: ``[loop]`` keys that say how far a loop runs, not what it searches (``--rounds`` and
#: ``--batch`` override them): a loop folder is resumed with other values
LOOP_BUDGET_KEYS = ("rounds", "batch")


def _drop_default_tables(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the :data:`LATER_TABLES` that hold their defaults only."""
    out = dict(data)
    if isinstance(out.get("loop"), dict):
        out["loop"] = _without_later_loop_defaults(out["loop"])
    for key, model in LATER_TABLES.items():
        defaults = model().model_dump(mode="json")
        if key == "loop":
            defaults = _without_later_loop_defaults(defaults)
        if key in out and out[key] == defaults:
            out.pop(key)
    return out


def _without_later_loop_defaults(loop: dict[str, Any]) -> dict[str, Any]:
    """A ``[loop]`` table less the :data:`LATER_LOOP_KEYS` at their defaults."""
    return {k: v for k, v in loop.items() if not (k in LATER_LOOP_KEYS and v == LoopSection.model_fields[k].default)}


def _space(data: Mapping[str, Any]) -> dict[str, Any]:
    """``[space]`` as hashed: the default kind left out, as in files written before the key."""
    space = dict(data["space"])
    if space.get("kind") == DEFAULT_SPACE_KIND:
        space.pop("kind")
    return space


def surrogate_hash(config: CampaignConfig) -> str:
    """sha256 of what the trained surrogates depend on: data set, space, ``[surrogate]``
    and the surrogate targets."""
    data = config.to_toml_dict()
    surrogate = dict(data["surrogate"])
    defaults = SurrogateSection().model_dump(mode="json")  # tuples as the lists the TOML data holds
    for key in LATER_SURROGATE_KEYS:
        if surrogate.get(key) == defaults[key]:
            surrogate.pop(key, None)
    payload = {
        "kind": "surrogate",
        "dataset": config.campaign.dataset,
        "space": _space(data),
        "surrogate": surrogate,
        "targets": list(config.surrogate_targets),
    }
    if config.surrogate.model in _CLIPPED_INPUT_MODELS:
        payload["inputs"] = "clipped to the training range"
    if config.surrogate.model in _COMBINED_STD_MODELS:
        payload["combined std"] = "calibrated on out-of-fold predictions"
    if config.surrogate.model == "auto" and "attention" in config.surrogate.candidates:
        payload["attention training"] = _ATTENTION_TRAINING
    return digest(payload)


def generator_hash(config: CampaignConfig) -> str:
    """sha256 of what the trained generators depend on: data set, space, ``[generators]``."""
    data = config.to_toml_dict()
    generators = {k: v for k, v in data["generators"].items() if k not in ADAPT_KEYS}
    return digest(
        {
            "kind": "generators",
            "dataset": config.campaign.dataset,
            "space": _space(data),
            "generators": generators,
        }
    )


def campaign_hash(config: CampaignConfig) -> str:
    """sha256 of the resolved config, less ``[verify]`` (it acts after the search, so
    checkpoints and run folders of the same search keep their hash) and less
    ``[campaign] cache_dir`` (where the models live, not what they are)."""
    data = config.to_toml_dict()
    data.pop("verify", None)
    # where models are cached does not change the search: a moved cache still resumes
    data.get("campaign", {}).pop("cache_dir", None)
    data["space"] = _space(data)
    generators = dict(data.get("generators", {}))
    for key in ADAPT_KEYS:
        if key in generators and generators[key] == GeneratorsSection.model_fields[key].default:
            generators.pop(key)
    data["generators"] = generators
    surrogate = dict(data.get("surrogate", {}))
    defaults = SurrogateSection().model_dump(mode="json")  # tuples as the lists the TOML data holds
    for key in _RUN_LATER_SURROGATE_KEYS:
        if key in surrogate and surrogate[key] == defaults[key]:
            surrogate.pop(key)
    data["surrogate"] = surrogate
    return digest({"kind": "campaign", **_drop_default_tables(data)})


def loop_hash(config: CampaignConfig) -> str:
    """sha256 identifying a closed loop's folder: :func:`campaign_hash` of ``config`` with
    the :data:`LOOP_BUDGET_KEYS` at their defaults, so that a loop run for 5 rounds can be
    resumed for 15 (or with another batch size). Equal to :func:`campaign_hash` where
    they are at their defaults already."""
    defaults = {key: LoopSection.model_fields[key].default for key in LOOP_BUDGET_KEYS}
    return campaign_hash(config.model_copy(update={"loop": config.loop.model_copy(update=defaults)}))


def _finite_json(value: Any) -> Any:
    """``value`` with infinite floats (open window ends) written as "inf" / "-inf"."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def digest(payload: Mapping[str, Any]) -> str:
    """sha256 (hex) of ``payload`` as canonical JSON, with the hash version."""
    canonical = json.dumps(
        _finite_json({"version": _HASH_VERSION, **payload}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
