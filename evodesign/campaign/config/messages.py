"""Error messages of campaign files: one line per problem, with key path, line and remedy.

Every problem of a file is reported at once, one per line, each with its key path
(``[search].pop_size``, ``[[objectives]][2].direction``: positions count from 1, as a
chemist counts the tables in the file), the line where the file has it, what was given and
what would be valid. Validators raise :class:`Problems` to report several problems at their
own key paths; :func:`error_lines` turns pydantic's errors into ``(loc, text)`` pairs and
:func:`render` writes them under one heading.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from evodesign.campaign.config.locations import line_of
from evodesign.exceptions import EvodesignError

__all__ = [
    "ConfigError",
    "Problems",
    "alternatives",
    "did_you_mean",
    "error_lines",
    "key_path",
    "render",
    "show",
    "syntax_message",
    "toml_value",
]

#: ``loc -> (display name of the table that holds loc's last key, its model or None)``;
#: the display name ``"the file"`` marks the top level (whose keys are tables)
TableOf = Callable[[tuple[Any, ...]], tuple[str, "type[BaseModel] | None"]]
#: one problem: its key path (pydantic's location) and the message
Problem = tuple[tuple[Any, ...], str]


class ConfigError(EvodesignError, ValueError):
    """A campaign file that cannot be used: the message names the file, the key path, what
    was given and what would be valid, one problem per line."""


class Problems(ValueError):
    """Problems found by a validator, each at a key path below the validated table.

    Pydantic keeps the raised exception in the error's context, so the formatter can
    expand it into one line per problem at its own path.
    """

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def show(value: Any) -> str:
    """A value for a message, written as in the TOML file, strings in single quotes."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    else:
        try:
            text = toml_value(value)
        except TypeError:
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def alternatives(values: Iterable[Any], word: str = "or") -> str:
    """``'a', 'b' or 'c'``."""
    shown = [show(v) for v in values]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + f" {word} " + shown[-1]


def did_you_mean(given: Any, valid: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest valid name, or ``""``."""
    valid = list(valid)
    matches = difflib.get_close_matches(str(given), valid, n=1, cutoff=cutoff)
    if not matches:
        lowered = {v.lower(): v for v in valid}
        matches = difflib.get_close_matches(str(given).lower(), list(lowered), n=1, cutoff=cutoff)
        matches = [lowered[m] for m in matches]
    return f" (did you mean {show(matches[0])}?)" if matches else ""


def key_path(loc: tuple[Any, ...]) -> str:
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


def _valid_keys(model: type[BaseModel], top: bool) -> list[str]:
    keys = list(model.model_fields)
    if top:
        return [f"[[{k}]]" if k == "objectives" else f"[{k}]" for k in keys]
    return keys


def error_lines(err: ValidationError, table_of: TableOf) -> list[Problem]:
    """Pydantic's errors as ``(loc, message)`` pairs, a :class:`Problems` expanded in place.

    Args:
        err: the validation error of one model.
        table_of: where each location's last key lives, for the valid keys of an unknown one.
    """
    lines: list[Problem] = []
    for error in err.errors(include_url=False):
        loc, kind, given = tuple(error["loc"]), error["type"], error.get("input")
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, Problems):
            lines.extend((loc + sub, text) for sub, text in cause.problems)
        elif kind in ("value_error", "assertion_error"):
            lines.append((loc, str(cause) if cause is not None else error["msg"]))
        elif kind == "extra_forbidden":
            where, model = table_of(loc)
            key = loc[-1]
            if model is None:
                lines.append((loc, f"unknown key {key!r}"))
                continue
            top = where == "the file"
            valid = _valid_keys(model, top)
            names = list(model.model_fields)
            hint = did_you_mean(key, names)
            if top:
                hint = did_you_mean(f"[{key}]", valid).replace("'", "")
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
            lines.append((loc, f"got {show(given)}: expected a table of keys"))
        elif kind == "too_short" and loc == ("objectives",):
            if given:  # objectives were given; their own errors say what is wrong
                continue
            lines.append((loc, "no objectives: add at least one [[objectives]] table with "
                          "name and direction"))
        else:
            lines.append((loc, f"got {show(given)}: {_lower_first(error['msg'])}"))
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


def render(source: str, problems: list[Problem], lines: dict[tuple[Any, ...], int]) -> str:
    """The message of a :class:`ConfigError`: a heading, then one line per problem.

    Args:
        source: the file (or what a dict is called).
        problems: ``(loc, message)`` pairs, locations as pydantic spells them.
        lines: line numbers of keys (:func:`~evodesign.campaign.config.locations.key_lines`).
    """
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    out = [f"invalid campaign config {source} ({count}):"]
    for loc, text in problems:
        line = line_of(loc, lines)
        where = f" (line {line})" if line else ""
        out.append(f"  {key_path(loc)}{where}: {text}")
    return "\n".join(out)


def syntax_message(label: str, text: str, err: tomllib.TOMLDecodeError) -> str:
    """A TOML syntax error with its line and column, the line shown and the column marked."""
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


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_string(text: str) -> str:
    # JSON's escapes are a subset of TOML basic-string escapes; DEL must be escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """One value as an inline TOML literal on one line, for messages and the reference.

    Files are written by tomli-w (:func:`~evodesign.campaign.config.toml_io.dumps_toml`),
    which puts long arrays on several lines; a message or a table cell needs one line.
    """
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
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{k if _BARE_KEY.match(str(k)) else _toml_string(str(k))} = {toml_value(v)}"
            for k, v in value.items()
        )
        return "{" + items + "}" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")
