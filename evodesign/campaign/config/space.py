"""``[space]``: which designs the search may propose, one settings model per space kind.

``kind`` picks the model (``"composition"`` when absent, the only kind before the key
existed); each kind's model brings its own keys and checks. The kinds come from the
registry :data:`evodesign.representation.registry.space_settings` (``kind -> kind ->
pydantic model``), so a new design space registers its settings model there instead of
editing this schema::

    registry.space_settings.register("bits", "bits", BitStringSettings)

A settings model is a frozen pydantic model with a ``kind`` field (a ``Literal`` of its
kind) and, optionally, ``data_problems(dataset, elements)`` for the checks that need the
loaded data set (see :meth:`CompositionSettings.data_problems`).

The table is validated as a pydantic discriminated union on ``kind``
(``Annotated[Union[...], Field(discriminator="kind")]``, :func:`space_union`) of the models
registered *when the config is validated*, not when
:class:`~evodesign.campaign.config.schema.CampaignConfig` was defined: a union fixed in the
schema would need the schema rebuilt whenever a kind is registered later (a plug-in, a
test's toy space). The union is rebuilt only when the registered models change. An unknown
kind lists the registered ones; a kind's own errors are reported at their ``[space]`` key
paths like every other table's.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Annotated, Any, ClassVar, Literal, Union, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator

from evodesign.campaign.config.messages import Problem, Problems, alternatives, did_you_mean, error_lines, show
from evodesign.campaign.config.table import StrictTable
from evodesign.representation import registry

__all__ = [
    "DEFAULT_SPACE_KIND",
    "CompositionSettings",
    "SpaceSection",
    "space_kinds",
    "space_union",
    "validate_space",
]

#: the kind of a ``[space]`` table without ``kind`` (files written before the key existed)
DEFAULT_SPACE_KIND = "composition"


class CompositionSettings(StrictTable):
    """``[space]``: which integer formulas the search may propose.

    Attributes:
        kind: the design space: ``"composition"`` (the default) searches integer formulas;
            other kinds are registered by their space, and an unknown kind is refused with
            the registered ones listed.
        max_elements: most distinct elements per formula, 1 to 8.
        max_atoms: most atoms per formula unit, 1 to 100, at least ``max_elements``.
        min_elements: fewest distinct elements per formula, 1 to ``max_elements``: of
            every design (a ``min_elements`` constraint; 1 switches it off) and of
            randomly drawn formulas. The default 2 rejects single elements, whose
            allotropes are known already.
        deny: element symbols never used.
        allow: if not empty, the only element symbols used (else all of the data set's).
    """

    #: the ``[surrogate] model`` values that can predict from compositions
    surrogate_models: ClassVar[tuple[str, ...]] = ("ensemble", "forest", "auto")

    kind: Literal["composition"] = "composition"
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
                problems.append(((i,), f"got {show(symbol)}: an element symbol is a string"))
            elif not Element.is_valid_symbol(symbol):
                hint = ""
                if Element.is_valid_symbol(symbol.strip().capitalize()):
                    hint = f" (did you mean {show(symbol.strip().capitalize())}?)"
                problems.append(((i,), f"{symbol!r} is not an element symbol{hint}"))
        if problems:
            raise Problems(problems)
        return tuple(value)

    @model_validator(mode="after")
    def _consistent(self) -> CompositionSettings:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.allow and len(set(self.allow)) < self.min_elements:
            n = len(set(self.allow))
            problems.append(
                (
                    ("allow",),
                    f"only {n} element{'s' if n > 1 else ''} allowed "
                    f"({alternatives(sorted(set(self.allow)), 'and')}), but min_elements = "
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
                    f"{alternatives(both, 'and')} both allowed and denied; remove them from "
                    "one of allow and deny",
                )
            )
        for key in ("deny", "allow"):
            seen: set[str] = set()
            repeated = [s for s in getattr(self, key) if s in seen or seen.add(s)]
            if repeated:
                problems.append(
                    ((key,), f"{alternatives(sorted(set(repeated)), 'and')} listed twice")
                )
        if problems:
            raise Problems(problems)
        return self


    def data_problems(self, dataset: str, elements: Collection[str] | None) -> list[Problem]:
        """The problems of this space with the loaded data set, at key paths below ``[space]``.

        Args:
            dataset: the data set's name, for messages.
            elements: the data set's elements, if known: every ``allow`` element must be
                among them, and the elements left after ``allow`` and ``deny`` must be at
                least ``min_elements``.
        """
        if elements is None:
            return []
        known = set(elements)
        absent = [s for s in self.allow if s not in known]
        if absent:
            return [
                (
                    ("allow",),
                    f"{alternatives(absent, 'and')} not in data set {dataset!r}, so no model "
                    "can learn about them; remove them",
                )
            ]
        pool = set(self.allow) if self.allow else known
        usable = sorted(pool - set(self.deny))
        if len(usable) >= self.min_elements:
            return []
        source = "[space].allow" if self.allow else f"data set {dataset!r}"
        if not usable:
            return [(("deny",), f"denies every element of {source}, so no formula "
                     "is left to design; deny fewer elements")]
        n = len(usable)
        return [
            (
                ("deny" if self.deny else "allow",),
                f"leaves {n} element{'s' if n > 1 else ''} of {source} "
                f"({alternatives(usable, 'and')}), but min_elements = {self.min_elements} "
                f"asks for formulas of at least {self.min_elements} distinct elements; deny "
                f"fewer elements or set min_elements = {n}",
            )
        ]


#: the name the composition settings had before ``[space]`` had kinds
SpaceSection = CompositionSettings

registry.space_settings.register(DEFAULT_SPACE_KIND, DEFAULT_SPACE_KIND, CompositionSettings)
# the other built-in kinds' settings register with the config package, not with the
# registry's built-ins: the representation layer never imports the campaign layer
from evodesign.campaign.config import microstructure_space as _microstructure  # noqa: E402,F401


def space_kinds() -> tuple[str, ...]:
    """The registered ``[space] kind`` values, sorted."""
    return registry.space_settings.names()


def settings_model(kind: str) -> type[BaseModel]:
    """The settings model registered for ``kind`` (a RegistryError lists the valid ones)."""
    return registry.space_settings.get(kind, kind)


def validate_space(value: Any) -> BaseModel:
    """Validate a ``[space]`` table with the settings model of its ``kind``.

    Args:
        value: the table as parsed (a mapping), or a settings model instance (kept as is).

    Returns:
        The validated settings of the table's kind.

    Raises:
        Problems: an unknown kind (the registered ones listed) or the kind's own problems,
            each at its key path below ``[space]``.
        ValueError: ``value`` is not a table.
    """
    if isinstance(value, BaseModel):  # built in code, validated when it was made
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"got {show(value)}: expected a table of keys")
    kind = value.get("kind", DEFAULT_SPACE_KIND)
    kinds = space_kinds()
    if not isinstance(kind, str) or kind not in kinds:
        hint = did_you_mean(kind, kinds) if isinstance(kind, str) else ""
        raise Problems([(("kind",), f"got {show(kind)}: unknown space kind{hint}; valid kinds: {alternatives(kinds)}")])
    model = settings_model(kind)
    try:
        return space_union().validate_python({**value, "kind": kind})
    except ValidationError:
        # the union's error paths start with the tag ("composition", "max_atoms"); the
        # kind's own model reports the same problems at the table's key paths
        try:
            model.model_validate({**value, "kind": kind})
        except ValidationError as err:
            raise Problems(error_lines(err, lambda loc: ("[space]", model if len(loc) == 1 else None))) from None
        raise


def space_union() -> TypeAdapter[Any]:
    """The pydantic discriminated union (on ``kind``) of the registered settings models."""
    return _union(tuple(settings_model(kind) for kind in space_kinds()))


@functools.lru_cache(maxsize=8)
def _union(models: tuple[type[BaseModel], ...]) -> TypeAdapter[Any]:
    for model in models:
        field = model.model_fields.get("kind")
        if field is None or get_origin(field.annotation) is not Literal:
            raise registry.RegistryError(
                f"the [space] settings model {model.__name__} needs a field "
                "`kind: Literal['<its kind>']` (the discriminator of the [space] union)"
            )
    if len(models) == 1:  # pydantic wants two members or more for a discriminated union
        return TypeAdapter(models[0])
    return TypeAdapter(Annotated[Union[models], Field(discriminator="kind")])
