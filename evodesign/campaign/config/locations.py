"""Line numbers of the tables and keys of a campaign file, for error messages.

tomllib returns values without positions, so a small line-based scan finds where each
table and key is written; a message then says ``[search].pop_size (line 12)``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["key_lines", "line_of"]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]")
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+))\s*=""")


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Line numbers of tables and keys, keyed like pydantic locations.

    A line-based scan that covers how campaign files are written (one ``[table]`` or
    ``[[objectives]]`` header per table, one ``key = value`` per line); keys it cannot
    place simply get no line number in messages.

    Args:
        text: the TOML text.

    Returns:
        ``{("search", "pop_size"): 12, ("objectives", 0): 5, ...}`` (positions from 0).
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


def line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    """The line of ``loc``, else of the nearest table above it that has one, else None."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
