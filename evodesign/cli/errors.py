"""How errors end a command: exit codes, the one ``error:`` line, and the command group
that maps every exception of a command to them (:class:`Guarded`)."""

from __future__ import annotations

import os
import tempfile
import traceback
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from evodesign.cli.console import print_error
from evodesign.exceptions import EvodesignError
from operators.exceptions import OperatorsError

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "Guarded", "explain", "fail"]

#: Exit code of every error caused by the input (file, option, value), as click uses for
#: bad options.
EXIT_BAD_INPUT = 2
#: Exit code of an unexpected error (a bug in evodesign or a library).
EXIT_INTERNAL = 1
#: Exit code after Ctrl-C (128 + SIGINT, the shell's convention).
EXIT_INTERRUPTED = 130


def fail(message: str) -> NoReturn:
    """Print ``error: message`` verbatim and exit with code 2."""
    print_error(message)
    raise typer.Exit(code=EXIT_BAD_INPUT)


def explain(err: BaseException) -> tuple[str, int]:
    """The message and exit code for an exception that reached the command line."""
    if isinstance(err, (EvodesignError, OperatorsError)):
        return _cli_wording(str(err)), EXIT_BAD_INPUT
    if isinstance(err, MemoryError):
        return (
            "out of memory: the run asked for more memory than this machine has; lower the "
            "sizes of the campaign file ([search] pop_size, [screen] n_samples, [surrogate] "
            "hidden or n_members) or run fewer seeds at once (--n-jobs)",
            EXIT_BAD_INPUT,
        )
    if isinstance(err, KeyboardInterrupt):
        return (
            "interrupted; a run stopped this way continues from its last checkpoint with "
            "--resume",
            EXIT_INTERRUPTED,
        )
    if isinstance(err, OSError):
        where = f": {err.filename}" if err.filename else ""
        if err.filename2:
            where += f" -> {err.filename2}"
        what = err.strerror or str(err)
        return f"{what}{where}", EXIT_BAD_INPUT
    if isinstance(err, ImportError):  # an optional dependency (e.g. dask) is missing
        return str(err), EXIT_BAD_INPUT
    return _internal(err), EXIT_INTERNAL


def _cli_wording(message: str) -> str:
    """A library message with its Python arguments (``resume=True``) named as the flags."""
    try:
        from evodesign.campaign.runner import cli_wording
    except ImportError:  # pragma: no cover - an older runner without it
        return message
    return cli_wording(message)


def _internal(err: BaseException) -> str:
    """Save the traceback of an unexpected error to a file and say where it is."""
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix="evodesign-error-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        saved = f"; the traceback is in {path}, please include it when you report this"
    except OSError:
        saved = ""
    return f"unexpected {type(err).__name__}: {err} (a bug in evodesign{saved})"


class Guarded(TyperGroup):
    """A command group that turns every exception of a command into one ``error:`` line.

    typer's own exceptions (bad options, ``typer.Exit``, help) pass through unchanged;
    everything else is mapped by :func:`explain`, so no traceback ever reaches the user.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except (Exception, KeyboardInterrupt) as err:
            message, code = explain(err)
            print_error(message)
            raise typer.Exit(code=code) from None

