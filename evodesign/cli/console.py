"""Where the commands print: stdout for results, stderr for the one ``error:`` line."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.text import Text

__all__ = ["console", "err_console", "print_error", "say"]

#: width of the tables written to a file or a pipe (a log of a command run under nohup);
#: rich would draw them 80 columns wide, cutting every cell of the wider ones to "..."
LOG_WIDTH = 160


def _width(stream: object) -> int | None:
    """None (rich's choice: the terminal's width, or $COLUMNS) on a terminal or where
    $COLUMNS is set; :data:`LOG_WIDTH` when ``stream`` is a file or a pipe."""
    isatty = getattr(stream, "isatty", None)
    if "COLUMNS" in os.environ or (isatty is not None and isatty()):
        return None
    return LOG_WIDTH


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))


def say(text: object) -> None:
    """Print ``text`` exactly as it is: no markup, no highlighting, no inserted line breaks.

    A rich renderable (the bench commands' tables) is drawn as the table it is.
    """
    if isinstance(text, str):
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(text)


def print_error(message: str) -> None:
    """``error: message`` on stderr, the message verbatim (``[search]`` keeps its brackets)."""
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", str(message)), highlight=False, soft_wrap=True
    )
