"""Plots of a run: the Pareto front over the known materials, and convergence.

matplotlib with the non-interactive Agg backend (runs on headless workstations and CI).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from evodesign.objectives import Objective

__all__ = ["convergence_plot", "pareto_plot"]


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def pareto_plot(
    designs: pd.DataFrame,
    known: pd.DataFrame,
    objectives: Sequence[Objective],
    path: str | Path,
    title: str = "",
    max_known: int = 20_000,
) -> Path:
    """Every pair of objectives: known materials in grey, the designed front in colour.

    Args:
        designs: the ``pareto.csv`` table (objective columns, ``<name>_std`` for surrogates).
        known: natural objective values of the known materials (one column per objective).
        objectives: the campaign's objectives.
        path: the PNG to write.
        title: figure title.
        max_known: plot at most this many known points (a fixed subsample).

    Returns:
        The path written.
    """
    plt = _pyplot()
    pairs = list(combinations(range(len(objectives)), 2)) or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.0 * len(pairs), 4.4), squeeze=False)
    if len(known) > max_known:
        known = known.iloc[np.linspace(0, len(known) - 1, max_known).astype(int)]
    for ax, (i, j) in zip(axes[0], pairs):
        oi, oj = objectives[i], objectives[j]
        ax.scatter(known[oi.name], known[oj.name], s=3, c="0.75", alpha=0.5, lw=0, label="known materials", rasterized=True)
        if len(designs):
            xerr = designs.get(f"{oi.name}_std")
            yerr = designs.get(f"{oj.name}_std")
            ax.errorbar(
                designs[oi.name], designs[oj.name], xerr=xerr, yerr=yerr, fmt="o", ms=4,
                color="C3", ecolor="C3", elinewidth=0.6, alpha=0.8, label="designed front (+/- 1 std)",
            )
        ax.set_xlabel(f"{oi.display} ({'max' if oi.direction == 'max' else 'min'})")
        ax.set_ylabel(f"{oj.display} ({'max' if oj.direction == 'max' else 'min'})")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{title}: {len(designs)} designs" if title else f"{len(designs)} designs", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def convergence_plot(history: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Hypervolume per generation, with the feasible fraction of each generation's evaluations."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    if len(history):
        ax.plot(history["n_eval"], history["hypervolume"], "o-", ms=3, color="C0", label="hypervolume")
        ax2 = ax.twinx()
        ax2.plot(history["n_eval"], 100 * history["feasible_fraction"], "-", color="C2", alpha=0.6, label="feasible %")
        ax2.set_ylabel("feasible evaluations (%)", color="C2")
        ax2.set_ylim(0, 100)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (known range -> [0, 1], ref 1.1)", color="C0")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
