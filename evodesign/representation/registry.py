"""Registries keyed by design-space kind: a new space registers its parts here.

Each part is a small table ``kind -> name -> object``. A space module registers its space
class (and whatever else it brings: analytic properties, constraint builders, a config
section, a codec for the learned operators) when it is imported, and the engine looks
parts up by the space's :attr:`~evodesign.representation.space.DesignSpace.kind` instead
of branching on it. An unknown kind or name fails with the valid ones listed.

Example:
    >>> from evodesign.representation import registry
    >>> registry.spaces.names()
    ('composition', 'microstructure')
"""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar

from evodesign.exceptions import EvodesignError

__all__ = [
    "BUILTIN_MODULES",
    "KindRegistry",
    "RegistryError",
    "analytic_properties",
    "constraint_builders",
    "load_builtins",
    "register_space",
    "space_from_dict",
    "space_settings",
    "spaces",
]

T = TypeVar("T")

#: the modules that register the built-in spaces and their parts, imported on the first
#: lookup. A new built-in space adds its modules here; code outside evodesign (a plug-in,
#: a test) registers by importing its own module before it runs a search.
BUILTIN_MODULES = (
    "evodesign.representation.composition",
    "evodesign.properties.supply_risk",
    "evodesign.constraints.composition_rules",
    "evodesign.representation.microstructure",
    "evodesign.properties.microstructure",
    "evodesign.constraints.microstructure_rules",
)
_loaded = False


def load_builtins() -> None:
    """Import :data:`BUILTIN_MODULES` (once), so their parts are registered."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


class RegistryError(EvodesignError, KeyError):
    """An unknown space kind or part name (the message lists the valid ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class KindRegistry(Generic[T]):
    """``kind -> name -> part`` for one sort of part (see the module docstring).

    Args:
        what: what the parts are, for messages (``"analytic property"``).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._parts: dict[str, dict[str, T]] = {}

    def register(self, kind: str, name: str, part: T) -> T:
        """Add ``part`` under ``(kind, name)``; registering the same object again is a no-op."""
        table = self._parts.setdefault(kind, {})
        if name in table and table[name] is not part:
            raise RegistryError(f"{self.what} {name!r} is already registered for space kind {kind!r}")
        table[name] = part
        return part

    def unregister(self, kind: str, name: str) -> None:
        """Remove ``(kind, name)`` if registered (a test's or a plug-in's temporary part)."""
        table = self._parts.get(kind, {})
        table.pop(name, None)
        if not table:
            self._parts.pop(kind, None)

    def get(self, kind: str, name: str) -> T:
        """The part, or a :class:`RegistryError` naming the valid ones."""
        load_builtins()
        table = self._parts.get(kind, {})
        if name not in table:
            valid = ", ".join(repr(n) for n in sorted(table)) or "none"
            raise RegistryError(f"unknown {self.what} {name!r} for space kind {kind!r}; valid: {valid}")
        return table[name]

    def names(self, kind: str | None = None) -> tuple[str, ...]:
        """Registered names of ``kind`` (of every kind, for the one-part-per-kind tables)."""
        load_builtins()
        if kind is None:
            return tuple(sorted(n for table in self._parts.values() for n in table))
        return tuple(sorted(self._parts.get(kind, {})))

    def items(self, kind: str) -> dict[str, T]:
        """A copy of ``kind``'s table."""
        load_builtins()
        return dict(self._parts.get(kind, {}))


#: ``kind -> kind -> space class`` (name == kind): the class has ``from_dict``
spaces: KindRegistry[type] = KindRegistry("design space")
#: ``kind -> kind -> pydantic model`` of the ``[space]`` config section of that kind
space_settings: KindRegistry[type] = KindRegistry("space settings")
#: ``kind -> property name -> factory(space) -> callable(designs) -> (n,) values``
analytic_properties: KindRegistry[Any] = KindRegistry("analytic property")
#: ``kind -> name -> factory(config, models) -> list of Constraint``: what a campaign's
#: ``[constraints]`` table means in that space
constraint_builders: KindRegistry[Any] = KindRegistry("constraint set")


def register_space(cls: type) -> type:
    """Class decorator: register a :class:`~evodesign.representation.space.DesignSpace`."""
    spaces.register(cls.kind, cls.kind, cls)
    return cls


def space_from_dict(data: dict[str, Any]) -> Any:
    """A space from its :meth:`to_dict` (``kind`` defaults to ``"composition"``, the
    only kind before the key existed)."""
    data = dict(data)
    kind = data.pop("kind", "composition")
    load_builtins()
    if kind not in spaces.names():
        raise RegistryError(f"unknown design space kind {kind!r}; valid: {', '.join(map(repr, spaces.names()))}")
    return spaces.get(kind, kind).from_dict(data)
