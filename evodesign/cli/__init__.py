"""The ``evodesign`` command line (typer).

Commands:
    evodesign run CONFIG [--seed S] [--seeds N] [--n-jobs K] [--out DIR] [--resume|--overwrite]
    evodesign screen CONFIG ...                 generate-then-filter with the same constraints
    evodesign check CONFIG                      validate a campaign and its data, print the resolved settings
    evodesign report RUN_DIR                    summarise a run, redraw its plots
    evodesign verify RUN_DIR                    crystal structures and CHGNet energies of the front
    evodesign datasets [NAME]                   list the built-in data sets, or summarise one
    evodesign train-operators                   train the VAE + latent GAN of the learned operators
    evodesign bench featurizer --json FILE      ours vs matminer's Magpie featurizer
    evodesign bench surrogate --json FILE       deep ensemble vs random forest
    evodesign bench overhead --json FILE        NSGA-II overhead per generation, ours vs pymoo
    evodesign bench constraints --json FILE     known compounds each plausibility rule rejects
    evodesign bench report                      regenerate docs/benchmarks.md from the JSON

Every error a user can cause (a bad file, option or value) ends the command with exit code 2
and one ``error:`` message, printed verbatim (no rich markup, so ``[search]`` keeps its
brackets) and without a traceback: :class:`~evodesign.cli.errors.Guarded` maps the expected
exceptions in one place. An unexpected exception (a bug) exits with code 1, saying where its
traceback was saved.

Modules: :mod:`.apps` (the typer apps), :mod:`.console` (printing), :mod:`.errors` (exit
codes and the guard), and the commands by subject: :mod:`.datasets`, :mod:`.campaign`,
:mod:`.report`, :mod:`.bench`.
"""

from __future__ import annotations

# importing the command modules registers their commands on the apps (in help order)
from evodesign.cli import datasets, campaign, loop, report, bench  # noqa: F401,I001
from evodesign.cli.apps import app, bench_app
from evodesign.cli.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "app", "bench_app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app()
