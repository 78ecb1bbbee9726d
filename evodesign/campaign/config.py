"""One design campaign as a TOML file, validated with pydantic.

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
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from evodesign.exceptions import EvodesignError

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
    "VerifySection",
    "dumps_toml",
]

#: Objectives computed from the formula alone (pymatgen's HHI tables), not by a surrogate.
ANALYTIC_OBJECTIVES = ("hhi_production", "hhi_reserve")

#: Upper bounds of the sizes that fill memory: a population or a screen beyond these is a typo
#: (one more zero), and would stop the run with an out-of-memory error minutes later.
MAX_POP_SIZE = 100_000
MAX_SCREEN_SAMPLES = 10_000_000

# Bumped when the meaning of a hashed section changes, so that old caches are not reused.
_HASH_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigError(EvodesignError, ValueError):
    """A campaign file that cannot be used: the message names the file, the key path, what
    was given and what would be valid, one problem per line."""


class _Problems(ValueError):
    """Problems found by a validator, each at a key path below the validated table.

    Pydantic keeps the raised exception in the error's context, so the formatter can
    expand it into one line per problem at its own path.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class _Table(BaseModel):
    # Strict: a TOML file has types, so "5" for an int or 1 for a bool is a mistake to
    # report, not to coerce. Lists are accepted for tuple fields (TOML has no tuples).
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False
    )


# ----------------------------------------------------------------------------- sections


class CampaignSection(_Table):
    """``[campaign]``: what the campaign is called and what it learns from.

    Attributes:
        name: folder name under ``runs/output/``: letters, digits, ``_`` and ``-``.
        dataset: a built-in data set (:func:`evodesign.datasets.list_datasets`), or the
            path of a CSV file with a ``formula`` column and numeric target columns
            (:func:`evodesign.datasets.load_csv`), relative to the config file's folder.
        seed: seed of the search (numpy SeedSequence); >= 0.
        description: free text, for the reader.
        formula_column: the column of a CSV ``dataset`` that holds the formulas; unset
            means ``"formula"``. Not used with a built-in data set.
    """

    name: str
    dataset: str = "transport"
    seed: int = Field(0, ge=0)
    description: str | None = None
    formula_column: str | None = Field(None, min_length=1)
    #: folder of trained models, relative to the config file; unset: $EVODESIGN_CACHE_DIR or
    #: the per-user cache (see evodesign.campaign.models.default_cache_dir)
    cache_dir: str | None = Field(None, min_length=1)

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"got {_show(value)}: the name becomes a folder under runs/output/, so it may "
                "hold only letters, digits, '_' and '-' (e.g. 'thermoelectric-v2')"
            )
        return value

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        from evodesign.datasets import list_datasets

        names = list_datasets()
        if value not in names and not value.lower().endswith(".csv"):
            raise ValueError(
                f"got {_show(value)}: not a built-in data set{_did_you_mean(value, names)}; "
                f"valid: {_alternatives(names)}, or the path of a .csv file (relative to "
                "the config file's folder)"
            )
        return value


class SpaceSection(_Table):
    """``[space]``: which integer formulas the search may propose.

    Attributes:
        max_elements: most distinct elements per formula, 1 to 8.
        max_atoms: most atoms per formula unit, 1 to 100, at least ``max_elements``.
        min_elements: fewest distinct elements per formula, 1 to ``max_elements``: of
            every design (a ``min_elements`` constraint; 1 switches it off) and of
            randomly drawn formulas. The default 2 rejects single elements, whose
            allotropes are known already.
        deny: element symbols never used.
        allow: if not empty, the only element symbols used (else all of the data set's).
    """

    max_elements: int = Field(4, ge=1, le=8)
    max_atoms: int = Field(20, ge=1, le=100)
    min_elements: int = Field(2, ge=1, le=8)
    deny: Annotated[tuple[str, ...], Field(strict=False)] = ()
    allow: Annotated[tuple[str, ...], Field(strict=False)] = ()

    @field_validator("deny", "allow", mode="before")
    @classmethod
    def _symbols(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        from pymatgen.core import Element

        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, symbol in enumerate(value):
            if not isinstance(symbol, str):
                problems.append(((i,), f"got {_show(symbol)}: an element symbol is a string"))
            elif not Element.is_valid_symbol(symbol):
                hint = ""
                if Element.is_valid_symbol(symbol.strip().capitalize()):
                    hint = f" (did you mean {_show(symbol.strip().capitalize())}?)"
                problems.append(((i,), f"{symbol!r} is not an element symbol{hint}"))
        if problems:
            raise _Problems(problems)
        return tuple(value)

    @model_validator(mode="after")
    def _consistent(self) -> SpaceSection:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.allow and len(set(self.allow)) < self.min_elements:
            n = len(set(self.allow))
            problems.append(
                (
                    ("allow",),
                    f"only {n} element{'s' if n > 1 else ''} allowed "
                    f"({_alternatives(sorted(set(self.allow)), 'and')}), but min_elements = "
                    f"{self.min_elements} asks for formulas of at least {self.min_elements} "
                    f"distinct elements; allow at least {self.min_elements} elements or set "
                    f"min_elements = {n}",
                )
            )
        if self.max_atoms < self.max_elements:
            problems.append(
                (
                    ("max_atoms",),
                    f"got {self.max_atoms}: a formula with max_elements = {self.max_elements} "
                    f"elements needs at least {self.max_elements} atoms; set max_atoms >= "
                    "max_elements",
                )
            )
        if self.min_elements > self.max_elements:
            problems.append(
                (
                    ("min_elements",),
                    f"got {self.min_elements}: must be at most max_elements = "
                    f"{self.max_elements}",
                )
            )
        both = sorted(set(self.deny) & set(self.allow))
        if both:
            problems.append(
                (
                    ("allow",),
                    f"{_alternatives(both, 'and')} both allowed and denied; remove them from "
                    "one of allow and deny",
                )
            )
        for key in ("deny", "allow"):
            seen: set[str] = set()
            repeated = [s for s in getattr(self, key) if s in seen or seen.add(s)]
            if repeated:
                problems.append(
                    ((key,), f"{_alternatives(sorted(set(repeated)), 'and')} listed twice")
                )
        if problems:
            raise _Problems(problems)
        return self


#: ``[surrogate]`` keys added after models were first cached (hashed only when set away
#: from their defaults)
_LATER_SURROGATE_KEYS = ("architecture", "dropout", "lr_schedule", "warmup_epochs")


class SurrogateSection(_Table):
    """``[surrogate]``: the models that predict the data-set targets (a mean and a std).

    Attributes:
        model: ``"ensemble"`` (deep ensemble of MLPs with a calibrated std) or ``"forest"``
            (random forest; std from the spread of its trees).
        n_members: networks in the ensemble.
        hidden: widths of each network's hidden layers.
        max_epochs: most training epochs of the ensemble.
        patience: epochs without validation improvement before a network stops.
        architecture: ``"mlp"`` (plain layers) or ``"residual"`` (pre-LayerNorm residual
            blocks, one per entry of ``hidden``, all of one width).
        dropout: dropout inside residual blocks (``"residual"`` only).
        lr_schedule: ``"constant"`` or ``"cosine"`` (warm-up, then decay to 0 at
            ``max_epochs``).
        warmup_epochs: warm-up of the cosine schedule.
        n_estimators: trees of the forest.
        seed: training seed, separate from the campaign seed so that runs with other
            seeds reuse the same trained models.
    """

    model: Literal["ensemble", "forest"] = "ensemble"
    n_members: int = Field(5, ge=1, le=64)
    hidden: Annotated[
        tuple[Annotated[int, Field(ge=1, le=16384)], ...], Field(strict=False, min_length=1, max_length=16)
    ] = (256, 256)
    max_epochs: int = Field(200, ge=1, le=100_000)
    patience: int = Field(20, ge=1, le=100_000)
    architecture: Literal["mlp", "residual"] = "mlp"
    dropout: float = Field(0.0, ge=0, lt=1)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup_epochs: int = Field(0, ge=0, le=100_000)
    n_estimators: int = Field(200, ge=1, le=10_000)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _residual_width(self) -> SurrogateSection:
        if self.architecture == "residual" and len(set(self.hidden)) != 1:
            raise ValueError(f"architecture = 'residual' needs one repeated width in hidden (e.g. [256, 256, 256]), got {list(self.hidden)}")
        return self


class Objective(_Table):
    """``[[objectives]]``: one property to optimise.

    Attributes:
        name: a target column of the data set (predicted by the surrogate) or an analytic
            property, one of :data:`ANALYTIC_OBJECTIVES`.
        direction: ``"max"`` or ``"min"``. Required unless ``target`` is given; a range
            target is always minimised (the distance to the interval), so it defaults to
            ``"min"`` there and ``"max"`` is refused.
        kappa: optimism of a surrogate objective: the search scores ``mean + kappa * std``
            when maximising and ``mean - kappa * std`` when minimising; kappa < 0 is
            pessimistic. Must be 0 for analytic objectives and range targets.
        target: optional ``[low, high]`` with low < high: the objective becomes the
            distance of the value to this interval (0 inside).
        label: axis label for plots.
    """

    name: str = Field(min_length=1)
    direction: Literal["max", "min"]
    kappa: float = 0.0
    target: Annotated[tuple[float, float] | None, Field(strict=False)] = None
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _range_target_is_minimised(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("target") is not None and "direction" not in data:
            return {**data, "direction": "min"}
        return data

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        if not isinstance(value, str) or value in ("max", "min"):
            return value
        word = value.strip().lower()
        if word in ("target", "range", "interval", "between", "window"):
            raise ValueError(
                f"got {_show(value)}: direction is 'max' or 'min'; to aim at a range, remove "
                "direction and give target = [low, high] (e.g. target = [1.1, 1.7]), which is "
                "minimised as the distance to the interval"
            )
        for short, words in (("max", ("max", "maximum", "maximize", "maximise", "maximal",
                                      "highest", "high", "up", "larger")),
                             ("min", ("min", "minimum", "minimize", "minimise", "minimal",
                                      "lowest", "low", "down", "smaller"))):
            if word in words:
                raise ValueError(f"got {_show(value)}: valid: 'max' or 'min' (did you mean {short!r}?)")
        raise ValueError(
            f"got {_show(value)}: valid: 'max' or 'min' (or, for a range, remove direction and "
            "give target = [low, high])"
        )

    @field_validator("target", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if value is None:
            return value
        numbers = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
        if not numbers or not all(math.isfinite(v) for v in value):
            raise ValueError(
                f"got {_show(value)}: a range target is two finite numbers [low, high], "
                "e.g. [1.1, 1.7]"
            )
        if value[0] == value[1]:
            raise ValueError(
                f"got {_show(value)}: low must be smaller than high; for a single value, "
                "use a narrow interval around it"
            )
        if value[0] > value[1]:
            raise ValueError(
                f"got {_show(value)}: low must be smaller than high, e.g. "
                f"{_show(sorted(value))}"
            )
        return tuple(float(v) for v in value)

    @model_validator(mode="after")
    def _kappa(self) -> Objective:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.analytic and self.kappa != 0:
            problems.append(
                (
                    ("kappa",),
                    f"got {_show(self.kappa)}: kappa weighs the surrogate's std, but "
                    f"{self.name!r} is computed exactly from the formula; remove kappa",
                )
            )
        elif self.target is not None and self.kappa != 0:
            problems.append(
                (("kappa",), f"got {_show(self.kappa)}: kappa is not used with a range "
                 "target (the distance to the interval is scored on the mean); remove it")
            )
        if self.target is not None and self.direction == "max":
            problems.append(
                (("direction",), "got 'max': a range target is minimised (the distance to "
                 "[low, high]); remove direction or set it to 'min'")
            )
        if problems:
            raise _Problems(problems)
        return self

    @property
    def analytic(self) -> bool:
        """True for objectives computed from the formula, not predicted by a surrogate."""
        return self.name in ANALYTIC_OBJECTIVES


#: A window bound: any number, inf and -inf included (NaN is refused by the validator).
_Bound = Annotated[float, Field(allow_inf_nan=True)]


class ConstraintsSection(_Table):
    """``[constraints]``: what a design must satisfy to count.

    Attributes:
        charge_balance: ``"strict"`` (SMACT: charge-neutral and electronegativity-balanced),
            ``"cdvae"`` (the same, but all-metal formulas pass as alloys) or ``"off"``.
        oxidation_state_min_share: the charge balance (and the repair and guided
            operators that prefer valid formulas) uses only oxidation states reported in at
            least this percentage of their element's ICSD-24 compounds (SMACT's
            ``commonality``), 0 to 100. 0: every state SMACT lists, rare ones included
            (Zn+3, O-1 as in peroxides), so ZnF3 or NaS2O13 balance; 0.5 removes those
            and keeps GeTe, CoSb3, Mg2Si and Bi2Te3 (it rejects 26.9% of the known
            transport compounds against 18.7% at 0: ``evodesign bench constraints``).
        novel: reject formulas of the data set.
        max_std: surrogate trust: ``"auto"`` (per target, the 90th percentile of the
            surrogate's std on the known compounds), ``"off"``, or a table
            ``{target = bound}`` of positive bounds for some surrogate objectives.
        hhi_missing: elements without HHI data: ``"infeasible"`` (a constraint violation)
            or ``"worst"`` (scored as HHI 10000, a monopoly).
        molecular: allow designs made only of non-metals (molecular solids and gases such
            as NF3, CO2, CS2, S). Off by default: a design needs at least one metal or
            metalloid (B, Si, Ge, As, Sb, Te, Po count as metals; H and the noble gases
            as non-metals); see :class:`evodesign.constraints.NotOnlyNonmetals`.
        ranges: hard property windows, a table ``{property = [low, high]}`` (``inf`` and
            ``-inf`` for an open end), e.g. ``[constraints.ranges]`` with
            ``S_p = [100, inf]``: a data-set target (predicted by the surrogate, which
            then learns it even when it is not an objective) or an analytic property.
            Each finite bound must hold with probability >= ``range_confidence`` under
            the surrogate's Gaussian prediction: ``mean - z std >= low`` and
            ``mean + z std <= high`` with ``z = Phi^-1(range_confidence)``; the
            violation, in units of the property's std over the data set, guides the
            search into the window. One ``g_range_<property>`` column each.
        range_confidence: probability with which each window bound must hold, in (0, 1):
            0.5 asks for the predicted mean inside, 0.9 for the one-sided 90% bounds
            inside.
    """

    charge_balance: Literal["strict", "cdvae", "off"] = "strict"
    oxidation_state_min_share: float = Field(0.0, ge=0, lt=100)
    novel: bool = True
    max_std: Literal["auto", "off"] | dict[str, float] = "auto"
    hhi_missing: Literal["infeasible", "worst"] = "infeasible"
    molecular: bool = False
    ranges: Annotated[dict[str, tuple[_Bound, _Bound]], Field(strict=False)] = {}
    range_confidence: float = Field(0.5, gt=0, lt=1)

    @field_validator("range_confidence", mode="before")
    @classmethod
    def _confidence(cls, value: Any) -> Any:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and not 0 < value < 1:
            raise ValueError(
                f"got {_show(value)}: a probability strictly between 0 and 1 (0.5: the "
                "predicted mean inside each window, 0.9: the one-sided 90% bounds inside)"
            )
        return value

    @field_validator("ranges", mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> Any:
        example = "e.g. [constraints.ranges] with S_p = [100, inf] or band_gap = [1.1, 1.7]"
        if not isinstance(value, Mapping):
            raise ValueError(f"got {_show(value)}: a table {{property = [low, high]}}, {example}")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        out: dict[str, tuple[float, float]] = {}
        for key, bounds in value.items():
            numbers = (
                isinstance(bounds, (list, tuple))
                and len(bounds) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds)
            )
            if not numbers:
                problems.append(((key,), f"got {_show(bounds)}: a window is two numbers [low, "
                                 "high]; write inf or -inf for an open end, e.g. [100, inf]"))
                continue
            low, high = float(bounds[0]), float(bounds[1])
            if math.isnan(low) or math.isnan(high):
                problems.append(((key,), f"got {_show(bounds)}: a bound is NaN; write inf or "
                                 "-inf for an open end"))
            elif not low < high:
                problems.append(((key,), f"got {_show(bounds)}: low must be smaller than high"
                                 + (f", e.g. {_show(sorted(bounds))}" if low > high else "")))
            elif math.isinf(low) and math.isinf(high):
                problems.append(((key,), f"got {_show(bounds)}: every design meets it; give "
                                 "at least one finite bound, e.g. [100, inf]"))
            else:
                out[str(key)] = (low, high)
        if problems:
            raise _Problems(problems)
        return out

    @field_validator("max_std", mode="before")
    @classmethod
    def _max_std(cls, value: Any) -> Any:
        valid = "'auto', 'off' or a table {target = bound}, e.g. {log10_PF_p = 0.8}"
        if isinstance(value, str):
            if value not in ("auto", "off"):
                raise ValueError(f"got {_show(value)}; valid: {valid}")
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"got {_show(value)}; valid: {valid}")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for key, bound in value.items():
            number = isinstance(bound, (int, float)) and not isinstance(bound, bool)
            if not number or not math.isfinite(bound) or bound <= 0:
                problems.append(
                    ((key,), f"got {_show(bound)}: a std bound is a positive number")
                )
        if problems:
            raise _Problems(problems)
        return {str(k): float(v) for k, v in value.items()}


class GeneratorsSection(_Table):
    """``[generators]``: the VAE + latent GAN behind the learned operators.

    Attributes:
        latent_dim: size of the VAE's latent space.
        max_epochs: most VAE training epochs.
        gan_steps: most GAN generator steps.
        strict_valid: learn only from SMACT strict-valid known compounds.
        seed: training seed, separate from the campaign seed so that runs with other
            seeds reuse the same trained models.
    """

    latent_dim: int = Field(32, ge=2, le=256)
    max_epochs: int = Field(150, ge=1, le=100_000)
    gan_steps: int = Field(3000, ge=1, le=10_000_000)
    strict_valid: bool = True
    seed: int = Field(0, ge=0)


class SearchSection(_Table):
    """``[search]``: the NSGA-II budget and its variation operators.

    Attributes:
        pop_size: designs per generation; even (parents mate in pairs), >= 4.
        n_gen: generations.
        operators: ``"learned"`` (latent interpolation + GAN mutation) or ``"classical"``
            (SBX + polynomial mutation), both with the same decoding and repair.
        crossover_prob: probability that a pair of parents is recombined.
        mutation_prob: probability that a child is mutated.
        mutation_strength: GAN mutation step: the share of the way to a GAN sample
            (``"toward"``), or the scale of the difference of two GAN samples
            (``"difference"``); 0 leaves children unchanged.
        interpolation: latent crossover path, ``"slerp"`` or ``"lerp"``.
        extrapolation: latent crossover weights drawn U(-e, 1 + e): children beyond a parent.
        mutation_direction: GAN mutation ``"toward"`` a sample or along the ``"difference"``
            of two samples (default: with the oracle as fitness it searched as well as
            SBX/PM, where the pull towards samples lagged; docs/benchmarks.md).
        sampling: first generation from the ``"generators"``, ``"known"`` compounds or a
            ``"mix"`` of both.
        repair: decode to nearby formulas that pass the SMACT check when one exists.
        guided: learned operators redraw a child that fails the charge-balance check or
            clones a parent (validity-guided variation, up to ``max_tries`` draws).
        max_tries: draws per child with ``guided`` (the first one included).
        checkpoint_every: generations between checkpoints.
        max_per_system: niching by chemical system (the set of elements): in the survival,
            designs beyond this many per system rank behind every design of a system below
            it (they survive only if there is room), and ``pareto.csv`` reports at most this
            many per system (``pareto_all.csv`` keeps the whole front); 0: no cap, plain
            NSGA-II and the whole front in ``pareto.csv``. 1 (the default): on the default
            campaign, over 100 chemical systems on the front (2: under 100).
    """

    pop_size: int = Field(200, ge=4, le=MAX_POP_SIZE)
    n_gen: int = Field(40, ge=1, le=100_000)
    operators: Literal["learned", "classical"] = "learned"
    crossover_prob: float = Field(0.9, ge=0, le=1)
    mutation_prob: float = Field(0.3, ge=0, le=1)
    mutation_strength: float = Field(0.6, ge=0, le=1)
    interpolation: Literal["slerp", "lerp"] = "slerp"
    extrapolation: float = Field(0.0, ge=0, le=1)
    mutation_direction: Literal["toward", "difference"] = "difference"
    sampling: Literal["generators", "known", "mix"] = "mix"
    repair: bool = True
    guided: bool = True
    max_tries: int = Field(8, ge=1, le=64)
    checkpoint_every: int = Field(1, ge=1)
    max_per_system: int = Field(1, ge=0)

    @field_validator("pop_size")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(
                f"got {value}: pop_size must be even (NSGA-II mates parents in pairs); "
                f"use {value - 1} or {value + 1}"
            )
        return value


class ScreenSection(_Table):
    """``[screen]``: the one-shot alternative to the search (draw, filter, keep the front).

    Attributes:
        n_samples: candidates drawn.
        source: ``"gan"`` (latent GAN), ``"prior"`` (VAE prior), ``"known"`` (decoded known
            compounds) or ``"random"`` (uniform over the space).
    """

    n_samples: int = Field(20000, ge=1, le=MAX_SCREEN_SAMPLES)
    source: Literal["gan", "prior", "known", "random"] = "gan"


class VerifySection(_Table):
    """``[verify]``: crystal structures and CHGNet energies for the front (``evodesign
    verify``; see :mod:`evodesign.structures`). It does not change the search, so it is
    left out of :meth:`CampaignConfig.hash`.

    Attributes:
        top: designs verified, the first rows of ``pareto.csv``.
        n_structures: candidate structures relaxed per design (twice as many are drawn).
        relax_steps: most CHGNet relaxation steps per structure.
        max_atoms: most atoms per cell.
        timeout_s: seconds per design before its worker is killed (a ``timed_out`` row).
        max_e_form: if set, the screening bound on the formation energy (eV/atom): a
            ``verify_pass`` column and ``pareto_verified.csv`` of the designs that pass.
        max_e_above_hull: if set, the screening bound on the energy above the hull of the
            phases built with the same model (eV/atom), applied the same way.
        after_run: run this check on the ``top`` designs at the end of every ``evodesign
            run`` (verdicts in ``pareto.csv``, CIFs in ``structures/``); off by default,
            since it needs the ``structures`` extra and minutes of CHGNet relaxations.
        n_jobs: compositions verified at once by ``after_run`` (worker processes).
    """

    top: int = Field(20, ge=0, le=10_000)
    n_structures: int = Field(3, ge=1, le=64)
    relax_steps: int = Field(50, ge=1, le=100_000)
    max_atoms: int = Field(24, ge=1, le=200)
    timeout_s: float = Field(180.0, gt=0)
    max_e_form: float | None = None
    max_e_above_hull: float | None = Field(None, ge=0)
    after_run: bool = False
    n_jobs: int = Field(1, ge=1, le=256)


# ----------------------------------------------------------------------------- campaign


class CampaignConfig(_Table):
    """A whole campaign file; build it with :meth:`from_toml` or :meth:`from_dict`.

    Attributes:
        campaign: ``[campaign]``.
        space: ``[space]``.
        surrogate: ``[surrogate]``.
        objectives: the ``[[objectives]]`` tables, in file order (at least one).
        constraints: ``[constraints]``.
        generators: ``[generators]``.
        search: ``[search]``.
        screen: ``[screen]``.
        verify: ``[verify]``.
    """

    _TABLES: ClassVar[dict[str, type[_Table]]] = {}

    campaign: CampaignSection
    space: SpaceSection = SpaceSection()
    surrogate: SurrogateSection = SurrogateSection()
    objectives: Annotated[tuple[Objective, ...], Field(strict=False, min_length=1)]
    constraints: ConstraintsSection = ConstraintsSection()
    generators: GeneratorsSection = GeneratorsSection()
    search: SearchSection = SearchSection()
    screen: ScreenSection = ScreenSection()
    verify: VerifySection = VerifySection()

    _source: str = PrivateAttr(default="<dict>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self) -> CampaignConfig:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        first: dict[str, int] = {}
        for i, objective in enumerate(self.objectives):
            if objective.name in first:
                problems.append(
                    (
                        ("objectives", i, "name"),
                        f"got {_show(objective.name)} again (already objective "
                        f"{first[objective.name] + 1}); objective names must be unique",
                    )
                )
            first.setdefault(objective.name, i)
        if isinstance(self.constraints.max_std, dict):
            targets = self.surrogate_targets
            for key in self.constraints.max_std:
                if key not in targets:
                    what = (
                        f"{key!r} is computed exactly, it has no surrogate std"
                        if key in ANALYTIC_OBJECTIVES
                        else f"{key!r} is not a surrogate objective"
                    )
                    valid = _alternatives(targets) if targets else "none (no surrogate objectives)"
                    problems.append(
                        (
                            ("constraints", "max_std", key),
                            f"{what}{_did_you_mean(key, targets)}; valid keys: {valid}",
                        )
                    )
        if problems:
            raise _Problems(problems)
        return self

    # -- loading

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> CampaignConfig:
        """Read and validate a campaign file.

        Args:
            path: the TOML file.

        Returns:
            The validated config, which remembers the file for later messages.

        Raises:
            ConfigError: the file is missing or unreadable, is not valid TOML (the message
                names the line), or does not fit the schema (every problem, one per line).
        """
        path = Path(path)
        label = str(path)
        if not path.exists():
            message = f"campaign file {label} not found (looked for {path.resolve()})"
            parent = path.parent if path.parent.is_dir() else None
            if parent is not None:
                tomls = sorted(p.name for p in parent.glob("*.toml"))
                if tomls:
                    message += f"{_did_you_mean(path.name, tomls, cutoff=0.8)}; TOML files there: "
                    message += ", ".join(tomls)
            raise ConfigError(message)
        if path.is_dir():
            raise ConfigError(f"campaign file {label} is a folder, not a TOML file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(
                f"{label}: not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None
        except OSError as err:
            raise ConfigError(f"{label}: cannot be read ({err.strerror})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(_syntax_message(label, text, err)) from None
        return cls._validate(data, label, _key_lines(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> CampaignConfig:
        """Validate a campaign given as nested dicts (the shape of the TOML file).

        Args:
            data: the parsed file, e.g. the output of :meth:`to_toml_dict`.
            source: what to call it in messages.

        Raises:
            ConfigError: every problem, one per line.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{source}: a campaign config is a table (dict), got {type(data).__name__}"
            )
        return cls._validate(data, source, {})

    @classmethod
    def _validate(
        cls, data: Mapping[str, Any], source: str, lines: dict[tuple[Any, ...], int]
    ) -> CampaignConfig:
        try:
            config = cls.model_validate(dict(data))
        except ValidationError as err:
            raise ConfigError(_render(source, _error_lines(err), lines)) from None
        config._source = source
        config._lines = lines
        return config

    @property
    def source(self) -> str:
        """The file the config was read from, or the ``source`` given to :meth:`from_dict`."""
        return self._source

    def where(self, *loc: str | int) -> str:
        """Where a key is, for messages: ``"c.toml, [campaign].dataset (line 3)"``.

        Args:
            loc: the key path, as pydantic spells it: ``("campaign", "dataset")`` or
                ``("objectives", 0, "name")`` (positions from 0).
        """
        line = _line_of(tuple(loc), self._lines)
        return f"{self._source}, {_key_path(tuple(loc))}" + (f" (line {line})" if line else "")

    # -- derived facts

    @property
    def surrogate_targets(self) -> tuple[str, ...]:
        """Names of the data-set targets the surrogate predicts: the surrogate objectives in
        order, then the ``[constraints.ranges]`` windows on other data-set targets."""
        names = [o.name for o in self.objectives if not o.analytic]
        names += [k for k in self.constraints.ranges if k not in ANALYTIC_OBJECTIVES and k not in names]
        return tuple(names)

    @property
    def analytic_objectives(self) -> tuple[str, ...]:
        """Names of the objectives computed from the formula alone, in order."""
        return tuple(o.name for o in self.objectives if o.analytic)

    def objective(self, name: str) -> Objective:
        """The objective called ``name`` (KeyError if there is none)."""
        for objective in self.objectives:
            if objective.name == name:
                return objective
        raise KeyError(name)

    def check_against(
        self,
        dataset_targets: Iterable[str],
        dataset_elements: Collection[str] | None = None,
    ) -> None:
        """Check the parts of the config that depend on the data set's contents.

        Kept apart from parsing so that a file can be checked without loading data;
        the runner calls it once the data set is loaded.

        Args:
            dataset_targets: the data set's target columns
                (:attr:`~evodesign.datasets.MaterialsDataset.targets`).
            dataset_elements: the data set's elements, if known: every ``[space].allow``
                element must be among them, and the elements left after ``allow`` and
                ``deny`` must be at least ``min_elements``.

        Raises:
            ConfigError: an objective or a ``[constraints.ranges]`` window names neither a
                target nor an analytic property, an allowed element
                is absent from the data, or the space holds no formula of ``min_elements``
                elements (every problem, one per line).
        """
        targets = list(dataset_targets)
        problems: list[tuple[tuple[Any, ...], str]] = []
        valid = ", ".join(repr(t) for t in [*targets, *ANALYTIC_OBJECTIVES])
        for key in self.constraints.ranges:
            if key in ANALYTIC_OBJECTIVES or key in targets:
                continue
            problems.append(
                (
                    ("constraints", "ranges", key),
                    f"got {_show(key)}: a window needs a target of data set "
                    f"{self.campaign.dataset!r} or an analytic property"
                    f"{_did_you_mean(key, [*targets, *ANALYTIC_OBJECTIVES])}; valid: {valid}",
                )
            )
        for i, objective in enumerate(self.objectives):
            if objective.analytic or objective.name in targets:
                continue
            problems.append(
                (
                    ("objectives", i, "name"),
                    f"got {_show(objective.name)}: not a target of data set "
                    f"{self.campaign.dataset!r} nor an analytic property"
                    f"{_did_you_mean(objective.name, [*targets, *ANALYTIC_OBJECTIVES])}; "
                    f"valid: {valid}",
                )
            )
        if dataset_elements is not None:
            known = set(dataset_elements)
            absent = [s for s in self.space.allow if s not in known]
            if absent:
                problems.append(
                    (
                        ("space", "allow"),
                        f"{_alternatives(absent, 'and')} not in data set "
                        f"{self.campaign.dataset!r}, so no model can learn about them; "
                        "remove them",
                    )
                )
            else:
                problems.extend(self._unsatisfiable_space(known))
        if problems:
            raise ConfigError(_render(self._source, problems, self._lines))

    def _unsatisfiable_space(self, known: set[str]) -> list[tuple[tuple[Any, ...], str]]:
        """The problem, if any, of a space whose allowed, not denied elements of the data set
        are too few for a formula of ``min_elements`` elements."""
        space, dataset = self.space, self.campaign.dataset
        pool = set(space.allow) if space.allow else known
        usable = sorted(pool - set(space.deny))
        if len(usable) >= space.min_elements:
            return []
        source = "[space].allow" if space.allow else f"data set {dataset!r}"
        if not usable:
            return [(("space", "deny"), f"denies every element of {source}, so no formula "
                     "is left to design; deny fewer elements")]
        n = len(usable)
        return [
            (
                ("space", "deny" if space.deny else "allow"),
                f"leaves {n} element{'s' if n > 1 else ''} of {source} "
                f"({_alternatives(usable, 'and')}), but min_elements = {space.min_elements} "
                f"asks for formulas of at least {space.min_elements} distinct elements; deny "
                f"fewer elements or set min_elements = {n}",
            )
        ]

    # -- writing and hashing

    def to_toml_dict(self) -> dict[str, Any]:
        """The resolved config (every default filled in) as plain TOML-ready data.

        Unset optional values (``description``, ``target``, ``label``) are left out, since
        TOML has no null. ``CampaignConfig.from_dict(c.to_toml_dict()) == c``.
        """
        return _drop_none(self.model_dump(mode="json"))

    def to_toml(self) -> str:
        """The resolved config as TOML text (see :func:`dumps_toml`)."""
        return dumps_toml(self.to_toml_dict())

    def write_toml(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_toml` to ``path`` atomically (temp file, fsync, rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(self.to_toml())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return path

    def surrogate_hash(self) -> str:
        """sha256 of what the trained surrogates depend on: data set, space, ``[surrogate]``
        and the surrogate targets."""
        data = self.to_toml_dict()
        surrogate = dict(data["surrogate"])
        # keys added later count only when set away from their defaults, so models
        # trained before they existed stay valid
        for key in _LATER_SURROGATE_KEYS:
            if surrogate.get(key) == SurrogateSection.model_fields[key].default:
                surrogate.pop(key, None)
        return _digest(
            {
                "kind": "surrogate",
                "dataset": self.campaign.dataset,
                "space": data["space"],
                "surrogate": surrogate,
                "targets": list(self.surrogate_targets),
            }
        )

    def generator_hash(self) -> str:
        """sha256 of what the trained generators depend on: data set, space, ``[generators]``."""
        data = self.to_toml_dict()
        return _digest(
            {
                "kind": "generators",
                "dataset": self.campaign.dataset,
                "space": data["space"],
                "generators": data["generators"],
            }
        )

    def hash(self) -> str:
        """sha256 of the resolved config, less ``[verify]`` (it acts after the search, so
        checkpoints and run folders of the same search keep their hash) and less
        ``[campaign] cache_dir`` (where the models live, not what they are)."""
        data = self.to_toml_dict()
        data.pop("verify", None)
        # where models are cached does not change the search: a moved cache still resumes
        data.get("campaign", {}).pop("cache_dir", None)
        return _digest({"kind": "campaign", **data})

    config_hash = hash

    def __eq__(self, other: object) -> bool:
        # Where a config came from does not make it a different campaign.
        if not isinstance(other, CampaignConfig):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return int(self.hash()[:16], 16)


CampaignConfig._TABLES = {
    "campaign": CampaignSection,
    "space": SpaceSection,
    "surrogate": SurrogateSection,
    "objectives": Objective,
    "constraints": ConstraintsSection,
    "generators": GeneratorsSection,
    "search": SearchSection,
    "screen": ScreenSection,
    "verify": VerifySection,
}


# ----------------------------------------------------------------------------- messages


def _show(value: Any) -> str:
    """A value for a message, written as in the TOML file, strings in single quotes."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    else:
        try:
            text = _toml_value(value)
        except TypeError:
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _alternatives(values: Iterable[Any], word: str = "or") -> str:
    shown = [_show(v) for v in values]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + f" {word} " + shown[-1]


def _did_you_mean(given: Any, valid: Iterable[str], cutoff: float = 0.6) -> str:
    valid = list(valid)
    matches = difflib.get_close_matches(str(given), valid, n=1, cutoff=cutoff)
    if not matches:
        lowered = {v.lower(): v for v in valid}
        matches = difflib.get_close_matches(str(given).lower(), list(lowered), n=1, cutoff=cutoff)
        matches = [lowered[m] for m in matches]
    return f" (did you mean {_show(matches[0])}?)" if matches else ""


def _key_path(loc: tuple[Any, ...]) -> str:
    """``("objectives", 1, "direction")`` -> ``[[objectives]][2].direction`` (1-based)."""
    if not loc:
        return "(top level)"
    head, rest = loc[0], list(loc[1:])
    if head == "objectives":
        text = "[[objectives]]"
        if rest and isinstance(rest[0], int):
            text += f"[{rest.pop(0) + 1}]"
    else:
        text = f"[{head}]"
    for part in rest:
        text += f"[{part + 1}]" if isinstance(part, int) else f".{part}"
    return text


def _table_of(loc: tuple[Any, ...]) -> tuple[str, type[BaseModel] | None]:
    """The table that holds the last key of ``loc``: its display name and model class."""
    if len(loc) == 1:
        return "the file", CampaignConfig
    table = CampaignConfig._TABLES.get(loc[0])
    if loc[0] == "objectives":
        return "[[objectives]]", table if len(loc) == 3 else None
    return f"[{loc[0]}]", table if len(loc) == 2 else None


def _valid_keys(model: type[BaseModel], top: bool) -> list[str]:
    keys = list(model.model_fields)
    if top:
        return [f"[[{k}]]" if k == "objectives" else f"[{k}]" for k in keys]
    return keys


def _error_lines(err: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    lines: list[tuple[tuple[Any, ...], str]] = []
    for error in err.errors(include_url=False):
        loc, kind, given = tuple(error["loc"]), error["type"], error.get("input")
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            lines.extend((loc + sub, text) for sub, text in cause.problems)
        elif kind in ("value_error", "assertion_error"):
            lines.append((loc, str(cause) if cause is not None else error["msg"]))
        elif kind == "extra_forbidden":
            where, model = _table_of(loc)
            key = loc[-1]
            if model is None:
                lines.append((loc, f"unknown key {key!r}"))
                continue
            top = model is CampaignConfig
            valid = _valid_keys(model, top)
            names = list(model.model_fields)
            hint = _did_you_mean(key, names)
            if top:
                hint = _did_you_mean(f"[{key}]", valid).replace("'", "")
                what = f"unknown table [{key}]"
            else:
                what = f"unknown key {key!r} in {where}"
            lines.append((loc, f"{what}{hint}; valid {'tables' if top else 'keys'}: "
                          f"{', '.join(valid)}"))
        elif kind == "missing":
            lines.append((loc, _missing(loc)))
        elif loc == ("objectives",) and isinstance(given, Mapping):
            lines.append(
                (loc, "objectives are an array of tables: write [[objectives]] (two brackets) "
                 "above each objective")
            )
        elif kind == "model_type":
            lines.append((loc, f"got {_show(given)}: expected a table of keys"))
        elif kind == "too_short" and loc == ("objectives",):
            if given:  # objectives were given; their own errors say what is wrong
                continue
            lines.append((loc, "no objectives: add at least one [[objectives]] table with "
                          "name and direction"))
        else:
            lines.append((loc, f"got {_show(given)}: {_lower_first(error['msg'])}"))
    return lines


def _missing(loc: tuple[Any, ...]) -> str:
    if loc == ("campaign",):
        return 'missing: every campaign file needs a [campaign] table with name = "..."'
    if loc == ("objectives",):
        return "missing: add at least one [[objectives]] table with name and direction"
    if loc[-1] == "direction":
        return "required: 'max' or 'min' (or give a range target = [low, high])"
    return "required but missing"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _render(
    source: str, problems: list[tuple[tuple[Any, ...], str]], lines: dict[tuple[Any, ...], int]
) -> str:
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    out = [f"invalid campaign config {source} ({count}):"]
    for loc, text in problems:
        line = _line_of(loc, lines)
        where = f" (line {line})" if line else ""
        out.append(f"  {_key_path(loc)}{where}: {text}")
    return "\n".join(out)


# ----------------------------------------------------------------------------- line numbers

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]")
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+))\s*=""")


def _key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Line numbers of tables and keys, keyed like pydantic locations.

    A line-based scan that covers how campaign files are written (one ``[table]`` or
    ``[[objectives]]`` header per table, one ``key = value`` per line); keys it cannot
    place simply get no line number in messages.
    """
    found: dict[tuple[Any, ...], int] = {}
    table: tuple[Any, ...] = ()
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_HEADER.match(line):
            name = match.group(1)
            index = counts.get(name, 0)
            counts[name] = index + 1
            table = (name, index)
            found.setdefault(table, number)
            found.setdefault((name,), number)
        elif match := _HEADER.match(line):
            table = tuple(match.group(1).split("."))
            found.setdefault(table, number)
        elif match := _KEY.match(line):
            key = next(g for g in match.groups() if g is not None)
            found.setdefault((*table, key), number)
    return found


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _syntax_message(label: str, text: str, err: tomllib.TOMLDecodeError) -> str:
    reason = str(err)
    match = re.search(r"\(at line (\d+), column (\d+)\)", reason)
    if match is None:
        return f"{label}: not valid TOML: {reason}"
    line, column = int(match.group(1)), int(match.group(2))
    reason = reason[: match.start()].strip()
    message = f"{label}, line {line}, column {column}: not valid TOML: {reason}"
    source_lines = text.splitlines()
    if 1 <= line <= len(source_lines):
        message += f"\n  {line} | {source_lines[line - 1]}\n  {' ' * len(str(line))} | "
        message += " " * max(column - 1, 0) + "^"
    return message


# ----------------------------------------------------------------------------- TOML writing


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON's escapes are a subset of TOML basic-string escapes; DEL must be escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    """An inline TOML value: str, bool, int, float, list/tuple or dict (inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(v, Mapping) for v in value
    )


def _write_table(out: list[str], path: tuple[str, ...], table: Mapping[str, Any]) -> None:
    nested = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping) or _is_table_array(value):
            nested.append((key, value))
        else:
            out.append(f"{_toml_key(str(key))} = {_toml_value(value)}")
    for key, value in nested:
        sub = (*path, str(key))
        name = ".".join(_toml_key(k) for k in sub)
        if isinstance(value, Mapping):
            out.append("")
            out.append(f"[{name}]")
            _write_table(out, sub, value)
        else:
            for item in value:
                out.append("")
                out.append(f"[[{name}]]")
                _write_table(out, sub, item)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Write nested dicts as TOML text.

    Handles what campaign configs hold: str, int, float, bool, lists of those, nested
    tables (``[a.b]``) and arrays of tables (``[[a]]``); ``None`` values are left out.

    Args:
        data: the top-level table.

    Returns:
        TOML text that :func:`tomllib.loads` reads back to ``data``.

    Raises:
        TypeError: a value of another type.
    """
    out: list[str] = []
    _write_table(out, (), data)
    text = "\n".join(out).lstrip("\n")
    return text + "\n"


def _finite_json(value: Any) -> Any:
    """``value`` with infinite floats (open window ends) written as "inf" / "-inf"."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def _digest(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        _finite_json({"version": _HASH_VERSION, **payload}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
