"""The typer applications: ``evodesign`` and its ``bench`` group.

Commands register on them in the modules named for what they do (:mod:`.datasets`,
:mod:`.campaign`, :mod:`.report`, :mod:`.bench`); :mod:`evodesign.cli` imports those
modules, so ``evodesign.cli:app`` has every command.
"""

from __future__ import annotations

import typer

from evodesign.cli.errors import Guarded

__all__ = ["app", "bench_app"]

app = typer.Typer(
    cls=Guarded,
    rich_markup_mode=None,  # help texts name TOML tables such as [campaign]: show them as written
    help="evodesign: inverse design of materials with learned evolutionary operators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    cls=Guarded,
    rich_markup_mode=None,
    help="Benchmarks: print a table and write JSON.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")
