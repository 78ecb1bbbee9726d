"""The base of every table of a campaign file: strict, closed, immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictTable"]


class StrictTable(BaseModel):
    """A TOML table of a campaign file.

    Strict: a TOML file has types, so ``"5"`` for an int or ``1`` for a bool is a mistake
    to report, not to coerce (lists are accepted for tuple fields: TOML has no tuples).
    Unknown keys are refused (a typo would otherwise be silently ignored), and a validated
    table is frozen, so a config cannot change under a run that hashed it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
