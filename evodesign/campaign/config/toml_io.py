"""Reading campaign files (tomllib) and writing resolved configs (tomli-w).

Reading turns every way a file can be unusable (missing, a folder, not UTF-8, not TOML)
into a :class:`~evodesign.campaign.config.messages.ConfigError` that names the file and,
for a syntax error, the line and column. Writing uses tomli-w, the TOML writer by the
author of tomllib (the hand-written writer this package had could drift from the spec);
TOML has no null, so ``None`` values are left out before writing.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from evodesign.campaign.config.locations import key_lines
from evodesign.campaign.config.messages import ConfigError, did_you_mean, syntax_message

__all__ = ["drop_none", "dumps_toml", "read_campaign_file", "write_text_atomic"]


def read_campaign_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    """Parse a campaign file.

    Args:
        path: the TOML file.

    Returns:
        ``(data, lines)``: the parsed tables and the line of each table and key
        (:func:`~evodesign.campaign.config.locations.key_lines`).

    Raises:
        ConfigError: the file is missing (the TOML files of its folder are listed), a
            folder, unreadable, not UTF-8, or not valid TOML (line and column shown).
    """
    path = Path(path)
    label = str(path)
    if not path.exists():
        message = f"campaign file {label} not found (looked for {path.resolve()})"
        parent = path.parent if path.parent.is_dir() else None
        if parent is not None:
            tomls = sorted(p.name for p in parent.glob("*.toml"))
            if tomls:
                message += f"{did_you_mean(path.name, tomls, cutoff=0.8)}; TOML files there: "
                message += ", ".join(tomls)
        raise ConfigError(message)
    if path.is_dir():
        raise ConfigError(f"campaign file {label} is a folder, not a TOML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{label}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{label}: cannot be read ({err.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(syntax_message(label, text, err)) from None
    return data, key_lines(text)


def drop_none(value: Any) -> Any:
    """``value`` with every ``None`` left out of its tables (TOML has no null)."""
    if isinstance(value, Mapping):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [drop_none(v) for v in value]
    return value


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Write nested dicts as TOML text (tomli-w); ``None`` values are left out.

    Args:
        data: the top-level table: str, int, float (inf included), bool, lists of those,
            nested tables and arrays of tables.

    Returns:
        TOML text that :func:`tomllib.loads` reads back to ``data`` (less its ``None`` values).

    Raises:
        TypeError: a value of another type.
    """
    return tomli_w.dumps(drop_none(data))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file, fsync, rename): a reader never
    sees half a file, even if the process dies mid-write."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path
