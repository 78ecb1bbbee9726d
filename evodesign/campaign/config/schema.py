"""The whole campaign file: :class:`CampaignConfig`, its cross-table checks, loading,
writing and hashing (each delegated to the module that does that job)."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, PrivateAttr, SerializeAsAny, ValidationError, field_validator, model_validator

from evodesign.campaign.config import hashing
from evodesign.campaign.config.constraints import ConstraintsSection
from evodesign.campaign.config.locations import line_of
from evodesign.campaign.config.messages import (
    ConfigError,
    Problem,
    Problems,
    alternatives,
    did_you_mean,
    error_lines,
    key_path,
    render,
    show,
)
from evodesign.campaign.config.objectives import Objective, analytic_property_names
from evodesign.campaign.config.sections import (
    CampaignSection,
    DataSection,
    GeneratorsSection,
    LoopSection,
    PhysicsSection,
    ScreenSection,
    SearchSection,
    SurrogateSection,
    VerifySection,
)
from evodesign.campaign.config.space import (
    DEFAULT_SPACE_KIND,
    CompositionSettings,
    settings_model,
    space_kinds,
    validate_space,
)
from evodesign.campaign.config.table import StrictTable
from evodesign.campaign.config.toml_io import drop_none, dumps_toml, read_campaign_file, write_text_atomic

__all__ = ["CampaignConfig"]


class CampaignConfig(StrictTable):
    """A whole campaign file; build it with :meth:`from_toml` or :meth:`from_dict`.

    Attributes:
        campaign: ``[campaign]``.
        data: ``[data]`` (the size of a generated data set).
        space: ``[space]``, the settings model of its ``kind``
            (:mod:`evodesign.campaign.config.space`).
        physics: ``[physics]`` (what a physics solver computes with).
        surrogate: ``[surrogate]``.
        objectives: the ``[[objectives]]`` tables, in file order (at least one).
        constraints: ``[constraints]``.
        generators: ``[generators]``.
        search: ``[search]``.
        screen: ``[screen]``.
        verify: ``[verify]``.
        loop: ``[loop]`` (``evodesign loop``).
    """

    #: top-level key -> its table's model (``[space]``: the default kind's; the others are
    #: in :data:`evodesign.representation.registry.space_settings`)
    _TABLES: ClassVar[dict[str, type[BaseModel]]] = {}

    campaign: CampaignSection
    # SerializeAsAny: dump the fields of the kind's own model, not of the annotation
    space: SerializeAsAny[BaseModel] = CompositionSettings()
    surrogate: SurrogateSection = SurrogateSection()
    objectives: Annotated[tuple[Objective, ...], Field(strict=False, min_length=1)]
    constraints: ConstraintsSection = ConstraintsSection()
    generators: GeneratorsSection = GeneratorsSection()
    search: SearchSection = SearchSection()
    screen: ScreenSection = ScreenSection()
    verify: VerifySection = VerifySection()
    data: DataSection = DataSection()
    physics: PhysicsSection = PhysicsSection()
    loop: LoopSection = LoopSection()

    _source: str = PrivateAttr(default="<dict>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("space", mode="plain")
    @classmethod
    def _space_of_its_kind(cls, value: Any) -> BaseModel:
        return validate_space(value)

    @model_validator(mode="before")
    @classmethod
    def _defaults_of_the_space_kind(cls, data: Any) -> Any:
        """Keys a file leaves out of other tables take the ``[space]`` kind's defaults
        where it brings some (its settings model's ``table_defaults``; e.g. the image
        generators' sizes for microstructures); the schema's defaults otherwise."""
        if not isinstance(data, Mapping):
            return data
        space = data.get("space", {})
        kind = space.get("kind", DEFAULT_SPACE_KIND) if isinstance(space, Mapping) else getattr(space, "kind", None)
        if not isinstance(kind, str) or kind not in space_kinds():
            return data  # the [space] validator reports it
        defaults = getattr(settings_model(kind), "table_defaults", None) or {}
        out = dict(data)
        for table, values in defaults.items():
            given = out.get(table, {})
            if isinstance(given, Mapping):
                out[table] = {**values, **given}
        return out

    @model_validator(mode="after")
    def _cross_checks(self) -> CampaignConfig:
        problems: list[Problem] = []
        first: dict[str, int] = {}
        for i, objective in enumerate(self.objectives):
            if objective.name in first:
                problems.append(
                    (
                        ("objectives", i, "name"),
                        f"got {show(objective.name)} again (already objective "
                        f"{first[objective.name] + 1}); objective names must be unique",
                    )
                )
            first.setdefault(objective.name, i)
        supported = getattr(type(self.space), "surrogate_models", None)
        if supported and self.surrogate_targets and self.surrogate.model not in supported:
            problems.append(
                (
                    ("surrogate", "model"),
                    f"got {show(self.surrogate.model)}: a {self.space.kind!r} space's surrogate is "
                    f"{alternatives(supported)}",
                )
            )
        elif self.surrogate.model == "solver":
            problems += self._solver_problems()
        if isinstance(self.constraints.max_std, dict):
            targets = self.surrogate_targets
            for key in self.constraints.max_std:
                if key not in targets:
                    what = (
                        f"{key!r} is computed exactly, it has no surrogate std"
                        if key in analytic_property_names(self.space.kind)
                        else f"{key!r} is not a surrogate objective"
                    )
                    valid = alternatives(targets) if targets else "none (no surrogate objectives)"
                    problems.append(
                        (
                            ("constraints", "max_std", key),
                            f"{what}{did_you_mean(key, targets)}; valid keys: {valid}",
                        )
                    )
        if problems:
            raise Problems(problems)
        return self

    def _solver_problems(self) -> list[Problem]:
        """What ``[surrogate] model = "solver"`` cannot do: predict other properties, or
        give a std for ``max_std`` to bound (the solver is exact)."""
        from evodesign.surrogates.solver import SOLVER_TARGETS

        problems: list[Problem] = []
        valid = alternatives(SOLVER_TARGETS)
        for i, objective in enumerate(self.objectives):
            if not objective.analytic and objective.name not in SOLVER_TARGETS:
                problems.append(
                    (
                        ("objectives", i, "name"),
                        f"got {show(objective.name)}: [surrogate] model = 'solver' computes "
                        f"{valid} only{did_you_mean(objective.name, SOLVER_TARGETS)}; "
                        "use an analytic property of the space or another surrogate model",
                    )
                )
        if isinstance(self.constraints.max_std, dict):
            problems.append(
                (
                    ("constraints", "max_std"),
                    "[surrogate] model = 'solver' is exact (std 0): there is no std to bound; "
                    "use max_std = 'auto' (no trust constraint then) or 'off'",
                )
            )
        return problems

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
        data, lines = read_campaign_file(path)
        return cls._validate(data, str(Path(path)), lines)

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
            raise ConfigError(render(source, error_lines(err, _table_of), lines)) from None
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
        line = line_of(tuple(loc), self._lines)
        return f"{self._source}, {key_path(tuple(loc))}" + (f" (line {line})" if line else "")

    # -- derived facts

    @property
    def surrogate_targets(self) -> tuple[str, ...]:
        """Names of the data-set targets the surrogate predicts: the surrogate objectives in
        order, then the ``[constraints.ranges]`` windows on other data-set targets."""
        names = [o.name for o in self.objectives if not o.analytic]
        analytic = analytic_property_names(self.space.kind)
        names += [k for k in self.constraints.ranges if k not in analytic and k not in names]
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
            dataset_elements: the data set's elements, if known, for the space's own checks
                (``data_problems`` of its settings; for compositions: every
                ``[space].allow`` element must be among them, and the elements left after
                ``allow`` and ``deny`` must be at least ``min_elements``).

        Raises:
            ConfigError: an objective or a ``[constraints.ranges]`` window names neither a
                target nor an analytic property, or the space does not fit the data
                (every problem, one per line).
        """
        targets = list(dataset_targets)
        problems: list[Problem] = []
        analytic = analytic_property_names(self.space.kind)
        valid = ", ".join(repr(t) for t in [*targets, *analytic])
        for key in self.constraints.ranges:
            if key in analytic or key in targets:
                continue
            problems.append(
                (
                    ("constraints", "ranges", key),
                    f"got {show(key)}: a window needs a target of data set "
                    f"{self.campaign.dataset!r} or an analytic property"
                    f"{did_you_mean(key, [*targets, *analytic])}; valid: {valid}",
                )
            )
        for i, objective in enumerate(self.objectives):
            if objective.analytic or objective.name in targets:
                continue
            problems.append(
                (
                    ("objectives", i, "name"),
                    f"got {show(objective.name)}: not a target of data set "
                    f"{self.campaign.dataset!r} nor an analytic property"
                    f"{did_you_mean(objective.name, [*targets, *analytic])}; "
                    f"valid: {valid}",
                )
            )
        space_check = getattr(self.space, "data_problems", None)  # optional for a space kind
        if space_check is not None:
            problems += [(("space", *loc), text) for loc, text in space_check(self.campaign.dataset, dataset_elements)]
        if problems:
            raise ConfigError(render(self._source, problems, self._lines))

    # -- writing and hashing

    def to_toml_dict(self) -> dict[str, Any]:
        """The resolved config (every default filled in) as plain TOML-ready data.

        Unset optional values (``description``, ``target``, ``label``) are left out, since
        TOML has no null. ``CampaignConfig.from_dict(c.to_toml_dict()) == c``.
        """
        return drop_none(self.model_dump(mode="json"))

    def to_toml(self) -> str:
        """The resolved config as TOML text (see :func:`~evodesign.campaign.config.dumps_toml`)."""
        return dumps_toml(self.to_toml_dict())

    def write_toml(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_toml` to ``path`` atomically (temp file, fsync, rename)."""
        return write_text_atomic(path, self.to_toml())

    def surrogate_hash(self) -> str:
        """sha256 of what the trained surrogates depend on: data set, space, ``[surrogate]``
        and the surrogate targets (:func:`~evodesign.campaign.config.hashing.surrogate_hash`)."""
        return hashing.surrogate_hash(self)

    def generator_hash(self) -> str:
        """sha256 of what the trained generators depend on: data set, space, ``[generators]``."""
        return hashing.generator_hash(self)

    def hash(self) -> str:
        """sha256 of the resolved config, less ``[verify]`` (it acts after the search, so
        checkpoints and run folders of the same search keep their hash) and less
        ``[campaign] cache_dir`` (where the models live, not what they are)."""
        return hashing.campaign_hash(self)

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
    "space": CompositionSettings,
    "surrogate": SurrogateSection,
    "objectives": Objective,
    "constraints": ConstraintsSection,
    "generators": GeneratorsSection,
    "search": SearchSection,
    "screen": ScreenSection,
    "verify": VerifySection,
    "data": DataSection,
    "physics": PhysicsSection,
    "loop": LoopSection,
}


def _table_of(loc: tuple[Any, ...]) -> tuple[str, type[BaseModel] | None]:
    """The table that holds the last key of ``loc``: its display name and model class."""
    if len(loc) == 1:
        return "the file", CampaignConfig
    table = CampaignConfig._TABLES.get(loc[0])
    if loc[0] == "objectives":
        return "[[objectives]]", table if len(loc) == 3 else None
    return f"[{loc[0]}]", table if len(loc) == 2 else None
