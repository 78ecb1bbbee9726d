"""The campaign-file reference (``docs/config.md``), generated from the pydantic schema.

Every table and key of :class:`~evodesign.campaign.config.CampaignConfig` is listed with its
TOML type, default, allowed values or bounds and description. The description of a key is
its ``Field(description=...)`` when the schema gives one, else its entry in the
``Attributes:`` section of its table's docstring, else a ``#:`` comment right above the
field (the schema's own documentation), so the reference cannot drift from the code:
``tests/evodesign/campaign/test_config_reference.py`` checks that the committed file equals
:func:`config_reference`.

Regenerate it with::

    python -m evodesign.campaign.config_reference > docs/config.md
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from evodesign.campaign.config import DEFAULT_SPACE_KIND, CampaignConfig, space_kinds
from evodesign.campaign.config.messages import toml_value as _toml_value
from evodesign.campaign.config.space import settings_model

__all__ = ["config_reference", "field_description", "key_rows", "space_settings_models", "undocumented_keys"]

#: What the reference says before the tables.
_INTRO = """\
# Campaign file reference

<!-- Generated from the pydantic schema in evodesign/campaign/config/ by
     `python -m evodesign.campaign.config_reference > docs/config.md`; do not edit by hand.
     tests/evodesign/campaign/test_config_reference.py fails when this file is stale. -->

A campaign is one TOML file. Only `[campaign] name` and at least one `[[objectives]]` table
(with `name`, and `direction` or `target`) are required; every other key has the default
listed here. `runs/thermoelectric.toml` is a commented example with every table, and
`runs/my_data.toml` runs a campaign on your own CSV file.

Rules that hold for every key:

- **Types are strict.** TOML has types, so `"5"` for an integer or `1` for a boolean is
  reported, not converted. An integer is accepted where a number is expected.
- **Unknown keys are refused**, with the valid keys of their table and the closest match.
  Every problem of a file is reported at once, each with its key path and line.
- **`[space] kind` picks the design space** (`"composition"` when absent); each kind has
  its own keys, listed below under its heading. An unknown kind is refused with the valid
  ones; `evodesign check CONFIG` validates a file and prints every key as resolved.
- **What is hashed.** A run folder and its checkpoint belong to the hash of the resolved
  config less `[verify]` (`CampaignConfig.hash`). Trained surrogates are cached by the data
  set, `[space]`, `[surrogate]` and the surrogate objectives; generators by the data set,
  `[space]` and `[generators]`. So changing `[search]` or `[screen]` reuses cached models.

Minimal file:

```toml
[campaign]
name = "demo"

[[objectives]]
name = "S_p"
direction = "max"
```
"""


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, ...]`` -> ``(T, constraints)``; other annotations unchanged."""
    constraints: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        for item in extra:
            constraints.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, constraints


def _union_args(annotation: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return None


def _type_name(annotation: Any) -> str:
    """The TOML type of an annotation, in words."""
    annotation, constraints = _unwrap(annotation)
    args = _union_args(annotation)
    if args is not None:
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(names))
    origin = typing.get_origin(annotation)
    if origin is Literal:
        kinds = {type(v) for v in typing.get_args(annotation)}
        return "string" if kinds == {str} else " or ".join(sorted(k.__name__ for k in kinds))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = _type_name(args[0])
            suffix = "s" if not inner.endswith("s") else ""
            return f"list of {inner}{suffix}" if inner != "table" else "array of tables"
        return "[" + ", ".join(_type_name(a) for a in args) + "]"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"table {{{_type_name(key)} = {_type_name(value)}}}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _literals(annotation: Any) -> list[Any]:
    """The allowed values of the ``Literal`` parts of an annotation."""
    annotation, _ = _unwrap(annotation)
    args = _union_args(annotation)
    if args is not None:
        return [v for a in args for v in _literals(a)]
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    return []


def _bound_text(constraints: list[Any], what: str, unit: str = "character") -> list[str]:
    """Bounds as ``"1 to 8"``, ``">= 0, < 1"`` or ``"at least 1 character"``."""
    lower = upper = None
    out = []
    for item in constraints:
        if isinstance(item, annotated_types.Ge):
            lower = (">=", item.ge)
        elif isinstance(item, annotated_types.Gt):
            lower = (">", item.gt)
        elif isinstance(item, annotated_types.Le):
            upper = ("<=", item.le)
        elif isinstance(item, annotated_types.Lt):
            upper = ("<", item.lt)
        elif isinstance(item, annotated_types.MinLen) and item.min_length:
            out.append(f"at least {item.min_length} {unit}{'s' if item.min_length > 1 else ''}")
        elif isinstance(item, annotated_types.MaxLen):
            out.append(f"at most {item.max_length} items")
    prefix = "" if what == "value" else f"{what} "
    if lower and upper and lower[0] == ">=" and upper[0] == "<=":
        out.insert(0, f"{prefix}{lower[1]} to {upper[1]}")
    else:
        bounds = [f"{b[0]} {b[1]}" for b in (lower, upper) if b]
        if bounds:
            out.insert(0, prefix + ", ".join(bounds))
    return out


def _allowed(field: FieldInfo) -> str:
    """Allowed values and bounds of a field, in words."""
    annotation, constraints = _unwrap(field.annotation)
    unit = "item" if typing.get_origin(annotation) in (tuple, list, dict) else "character"
    parts = [" / ".join(f"`{_toml_value(v)}`" for v in _literals(field.annotation))]
    parts += _bound_text([*field.metadata, *constraints], "value", unit)
    if typing.get_origin(annotation) is tuple:
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                parts += _bound_text(_unwrap(arg)[1], "each")
    text = "; ".join(dict.fromkeys(p for p in parts if p))
    return text or "any"


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "(all defaults)"
    return f"`{_toml_value(value)}`"


def _rst_to_markdown(text: str) -> str:
    text = re.sub(r":(?:func|meth|class|data|mod|attr|exc):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _docstring_attributes(model: type[BaseModel]) -> dict[str, str]:
    """``{name: description}`` from the ``Attributes:`` section of a class docstring."""
    doc = inspect.getdoc(model) or ""
    entries: dict[str, str] = {}
    inside, current = False, None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):  # next section (or end of the block)
            break
        match = re.match(r"^ {4}(\w+): ?(.*)$", line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2).strip()
        elif current is not None and line.strip():
            entries[current] += " " + line.strip()
    return {k: " ".join(v.split()) for k, v in entries.items()}


def _summary(model: type[BaseModel]) -> str:
    """The first paragraph of a table's docstring, without its ``[name]:`` prefix."""
    doc = inspect.getdoc(model) or ""
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    paragraph = re.sub(r"^``\[\[?\w+\]\]?``:\s*", "", paragraph)
    return _rst_to_markdown(paragraph[:1].upper() + paragraph[1:])


def _comment_attributes(model: type[BaseModel]) -> dict[str, str]:
    """``{name: text}`` from ``#:`` comments right above a field in the class source."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):  # pragma: no cover - source not available
        return {}
    entries: dict[str, str] = {}
    comment: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            comment.append(stripped[2:].strip())
            continue
        match = re.match(r"^(\w+)\s*:", stripped)
        if comment and match:
            entries[match.group(1)] = " ".join(comment)
        comment = []
    return entries


def field_description(model: type[BaseModel], name: str) -> str:
    """The description of one key: ``Field(description=...)``, else its entry in the
    ``Attributes:`` section of its table's docstring, else a ``#:`` comment above it.

    Args:
        model: a table of the schema, e.g. :class:`~evodesign.campaign.config.SearchSection`.
        name: the key.

    Returns:
        The description as Markdown, or ``""`` when the schema documents the key nowhere.
    """
    field = model.model_fields[name]
    text = (
        field.description
        or _docstring_attributes(model).get(name)
        or _comment_attributes(model).get(name, "")
    )
    return _rst_to_markdown(" ".join(text.split()))


def space_settings_models() -> dict[str, type[BaseModel]]:
    """``kind -> settings model`` of the design spaces evodesign ships, the default first.

    Kinds registered from outside the package (a plug-in, a test's toy space) are left
    out, so the reference does not depend on what else a process imported.
    """
    models = {kind: settings_model(kind) for kind in space_kinds()}
    shipped = {k: m for k, m in models.items() if m.__module__.startswith("evodesign.")}
    return dict(sorted(shipped.items(), key=lambda item: item[0] != DEFAULT_SPACE_KIND))


def _space_heading(kind: str) -> str:
    return "[space]" if kind == DEFAULT_SPACE_KIND else f'[space] kind = "{kind}"'


def _tables() -> Iterator[tuple[str, str, type[BaseModel]]]:
    """``(key, heading, model)`` of every table of a campaign file, in schema order;
    ``[space]`` once per space kind (headed ``[space] kind = "..."`` but for the default)."""
    for key, field in CampaignConfig.model_fields.items():
        annotation, _ = _unwrap(field.annotation)
        if key == "space":
            for kind, model in space_settings_models().items():
                yield key, _space_heading(kind), model
        elif typing.get_origin(annotation) is tuple:
            yield key, f"[[{key}]]", _unwrap(typing.get_args(annotation)[0])[0]
        else:
            yield key, f"[{key}]", annotation


def key_rows() -> list[dict[str, str]]:
    """One row per key of the schema: table, key, type, default, allowed, description."""
    rows = []
    for _, heading, model in _tables():
        for name, field in model.model_fields.items():
            rows.append(
                {
                    "table": heading,
                    "key": name,
                    "type": _type_name(field.annotation),
                    "default": _default(field),
                    "allowed": _allowed(field),
                    "description": field_description(model, name),
                }
            )
    return rows


def undocumented_keys() -> list[str]:
    """``[table].key`` of every key without a description in the schema (should be none)."""
    return [f"{r['table']}.{r['key']}" for r in key_rows() if not r["description"]]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_reference() -> str:
    """The whole reference as Markdown (the content of ``docs/config.md``)."""
    out = [_INTRO]
    rows = key_rows()
    for key, heading, model in _tables():
        out.append(f"## `{heading}`\n")
        if heading.startswith("[["):
            note = "Required: one table per objective, at least one."
        elif CampaignConfig.model_fields[key].is_required():
            note = "Required."
        else:
            note = "Optional: a missing table or key takes the default below."
        out.append(f"{_summary(model)} {note}\n")
        out.append("| key | type | default | allowed | description |")
        out.append("|---|---|---|---|---|")
        for row in rows:
            if row["table"] != heading:
                continue
            cells = [f"`{row['key']}`", row["type"], row["default"], row["allowed"],
                     row["description"] or "(not documented in the schema)"]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or write it to the file named by the one argument."""
    args = sys.argv[1:] if argv is None else argv
    text = config_reference()
    if args:
        with open(args[0], "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
