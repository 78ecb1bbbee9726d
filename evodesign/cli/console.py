"""Where the commands print: stdout for results, stderr for the one ``error:`` line."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

__all__ = ["console", "err_console", "print_error", "say"]

console = Console()
err_console = Console(stderr=True)


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
