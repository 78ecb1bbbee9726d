"""Plots of a run: the Pareto front over the known materials, convergence, operator shares.

matplotlib with the non-interactive Agg backend (runs on headless workstations and CI).

``pareto.png`` shows every pair of objectives: the known materials in grey, the designed
front in colour with +/- 1 std error bars, each axis with its unit (see
:mod:`evodesign.properties.units`), a range target's window shaded and labelled
"target low–high", the hard property windows of ``[constraints.ranges]`` hatched, and the
best designs of each objective labelled with their formula. The title is the campaign's
description (or its name), never a path. :func:`draw_run_plots` draws both files of a run
folder from its config, and ``operators.png`` (:func:`operators_plot`, each operator's share
of the offspring per generation) for runs with ``[search] operators = "adaptive"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from evodesign.properties.units import axis_label, format_window

if TYPE_CHECKING:
    import pandas as pd

    from evodesign.objectives import Objective

__all__ = [
    "Window",
    "campaign_title",
    "config_ranges",
    "convergence_plot",
    "draw_run_plots",
    "formula_subscripts",
    "label_indices",
    "operators_plot",
    "pareto_plot",
    "property_windows",
    "top_designs",
]

#: designs labelled per objective on pareto.png
N_LABELS = 5


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------- what is drawn
@dataclass(frozen=True)
class Window:
    """A shaded interval of one property.

    Attributes:
        name: the property.
        low, high: the interval (either may be infinite).
        kind: ``"target"`` (a range-target objective) or ``"required"`` (a hard window of
            ``[constraints.ranges]``).
        label: the legend text, e.g. ``"target 1.1–1.7 eV"`` or ``"required S_p ≥ 100 µV/K"``.
    """

    name: str
    low: float
    high: float
    kind: str
    label: str


def campaign_title(config: Any) -> str:
    """The title of a campaign's plots and report: ``[campaign] description``, else its name.

    Args:
        config: a :class:`~evodesign.campaign.config.CampaignConfig` (or anything with a
            ``campaign`` section holding ``name`` and, optionally, ``description``).

    Returns:
        One line of text (an empty string when the config has neither).
    """
    section = getattr(config, "campaign", None)
    description = getattr(section, "description", None)
    if isinstance(description, str) and description.strip():
        return " ".join(description.split())
    name = getattr(section, "name", None)
    return str(name) if name else ""


def config_ranges(config: Any) -> dict[str, tuple[float, float]]:
    """The hard property windows of ``[constraints.ranges]``, or ``{}`` when the config has none.

    Read defensively: configs of versions without the key, and entries that are not two
    numbers, give no window.
    """
    ranges = getattr(getattr(config, "constraints", None), "ranges", None)
    if not isinstance(ranges, Mapping):
        return {}
    out: dict[str, tuple[float, float]] = {}
    for name, window in ranges.items():
        low, high = getattr(window, "low", None), getattr(window, "high", None)
        if low is None and isinstance(window, (list, tuple)) and len(window) == 2:
            low, high = window
        try:
            out[str(name)] = (float(low), float(high))
        except (TypeError, ValueError):
            continue
    return out


def property_windows(
    objectives: Sequence[Any], ranges: Mapping[str, tuple[float, float]] | None = None
) -> dict[str, list[Window]]:
    """The shaded intervals of each property: range targets first, then hard windows.

    Args:
        objectives: the campaign's objectives (``name`` and ``target`` attributes).
        ranges: ``[constraints.ranges]``, property -> ``(low, high)``.

    Returns:
        property name -> its windows (only properties with at least one).
    """
    out: dict[str, list[Window]] = {}
    for o in objectives:
        if getattr(o, "target", None) is not None:
            low, high = (float(v) for v in o.target)
            out.setdefault(o.name, []).append(
                Window(o.name, low, high, "target", f"target {format_window(low, high, o.name)}")
            )
    for name, (low, high) in (ranges or {}).items():
        out.setdefault(name, []).append(
            Window(name, float(low), float(high), "required", f"required {name} {format_window(low, high, name)}")
        )
    return out


def _badness(designs: pd.DataFrame, objective: Any) -> np.ndarray:
    """Smaller is better: the sort key of the designs for one objective."""
    values = designs[objective.name].to_numpy(dtype=np.float64)
    target = getattr(objective, "target", None)
    if target is not None:
        low, high = target
        return np.maximum(np.maximum(low - values, values - high), 0.0)
    return -values if getattr(objective, "direction", "max") == "max" else values


def top_designs(designs: pd.DataFrame, objectives: Sequence[Any], k: int = N_LABELS) -> dict[str, list[int]]:
    """The row positions of the ``k`` best designs of each objective.

    Best means the largest mean (``max``), the smallest (``min``), or the smallest distance
    to a range target; ties (e.g. every design inside the window) go to the smaller std,
    then to the earlier row. Rows with a missing value are never chosen.

    Args:
        designs: the ``pareto.csv`` table.
        objectives: the campaign's objectives.
        k: how many per objective.

    Returns:
        objective name -> up to ``k`` row positions, best first.
    """
    out: dict[str, list[int]] = {}
    for o in objectives:
        if o.name not in designs.columns or not len(designs):
            out[o.name] = []
            continue
        bad = _badness(designs, o)
        std_col = f"{o.name}_std"
        std = designs[std_col].to_numpy(dtype=np.float64) if std_col in designs.columns else np.zeros(len(bad))
        std = np.where(np.isfinite(std), std, np.inf)
        order = np.lexsort((np.arange(len(bad)), std, bad))
        out[o.name] = [int(i) for i in order if np.isfinite(bad[i])][:k]
    return out


def label_indices(top: Mapping[str, Sequence[int]], names: Sequence[str] | None = None) -> list[int]:
    """The rows to label: the union of ``top`` over ``names`` (all by default), each once, in order."""
    seen: list[int] = []
    for name in names if names is not None else list(top):
        for i in top.get(name, []):
            if i not in seen:
                seen.append(i)
    return seen


_COUNT = re.compile(r"(\d+(?:\.\d+)?)")


_SUBSCRIPTS = str.maketrans("0123456789.", "₀₁₂₃₄₅₆₇₈₉.")


def formula_subscripts(formula: str) -> str:
    """``"Bi2Te3"`` -> ``"Bi₂Te₃"``: Unicode subscripts, not matplotlib's mathtext, whose
    parser is not thread-safe (parallel runs in threads draw their plots at once)."""
    return _COUNT.sub(lambda m: m.group(1).translate(_SUBSCRIPTS), str(formula))


# ---------------------------------------------------------------------- drawing
def _draw_windows(ax: Any, windows: Sequence[Window], axis: str) -> None:
    """Shade ``windows`` along the x or y axis, keeping the data's limits (extended to show
    every finite bound)."""
    if not windows:
        return
    get, set_ = (ax.get_xlim, ax.set_xlim) if axis == "x" else (ax.get_ylim, ax.set_ylim)
    lo, hi = get()
    bounds = [b for w in windows for b in (w.low, w.high) if math.isfinite(b)]
    if bounds:
        margin = 0.03 * (max(hi, *bounds) - min(lo, *bounds) or 1.0)
        lo, hi = min(lo, min(bounds) - margin), max(hi, max(bounds) + margin)
    span = ax.axvspan if axis == "x" else ax.axhspan
    for w in windows:
        a, b = max(w.low, lo), min(w.high, hi)
        if a >= b:
            continue
        if w.kind == "target":
            span(a, b, color="C2", alpha=0.15, lw=0, zorder=0, label=w.label)
        else:
            span(a, b, facecolor=(0.12, 0.47, 0.71, 0.05), edgecolor=(0.12, 0.47, 0.71, 0.35), hatch="//", lw=0,
                 zorder=0, label=w.label)
    set_(lo, hi)


def _label_points(ax: Any, designs: pd.DataFrame, rows: Sequence[int], x: str, y: str) -> None:
    offsets = ((5, 5), (5, -9), (-5, 5), (-5, -9))
    for n, i in enumerate(rows):
        xi, yi = designs[x].iloc[i], designs[y].iloc[i]
        if not (np.isfinite(xi) and np.isfinite(yi)):
            continue
        dx, dy = offsets[n % len(offsets)]
        ax.annotate(
            formula_subscripts(designs["formula"].iloc[i]) if "formula" in designs.columns else str(i),
            (xi, yi), xytext=(dx, dy), textcoords="offset points", fontsize=6.5,
            ha="left" if dx > 0 else "right", color="0.1",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
            arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.4},
        )


def pareto_plot(
    designs: pd.DataFrame,
    known: pd.DataFrame,
    objectives: Sequence[Objective],
    path: str | Path,
    title: str = "",
    max_known: int = 20_000,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    n_labels: int = N_LABELS,
    overlay: Callable[[Any, str, str], None] | None = None,
) -> Path:
    """Every pair of objectives: known materials in grey, the designed front in colour.

    Args:
        designs: the ``pareto.csv`` table (objective columns, ``<name>_std`` for surrogates,
            ``formula``).
        known: natural objective values of the known materials (one column per objective).
        objectives: the campaign's objectives.
        path: the PNG to write.
        title: figure title (the campaign's description: :func:`campaign_title`).
        max_known: plot at most this many known points (a fixed subsample).
        ranges: the hard property windows (``[constraints.ranges]``): hatched on the axes
            of those properties and listed under the figure.
        n_labels: label the formulas of this many best designs of each objective of a panel.
        overlay: ``(ax, x_name, y_name) -> None`` draws what else a panel shows (the
            space kind's :data:`~evodesign.campaign.space_parts.plot_overlays`, e.g. the
            physical bounds of a conductivity against the filler fraction).

    Returns:
        The path written.
    """
    plt = _pyplot()
    pairs = list(combinations(range(len(objectives)), 2)) or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.0 * len(pairs), 4.6), squeeze=False)
    if len(known) > max_known:
        known = known.iloc[np.linspace(0, len(known) - 1, max_known).astype(int)]
    windows = property_windows(objectives, ranges)
    top = top_designs(designs, objectives, n_labels) if n_labels > 0 else {}
    for ax, (i, j) in zip(axes[0], pairs):
        oi, oj = objectives[i], objectives[j]
        if oi.name in known.columns and oj.name in known.columns:
            ax.scatter(known[oi.name], known[oj.name], s=3, c="0.75", alpha=0.5, lw=0, label="known materials", rasterized=True)
        if len(designs):
            xerr = designs.get(f"{oi.name}_std")
            yerr = designs.get(f"{oj.name}_std")
            ax.errorbar(
                designs[oi.name], designs[oj.name], xerr=xerr, yerr=yerr, fmt="o", ms=4,
                color="C3", ecolor="C3", elinewidth=0.6, alpha=0.8, label="designed front (± 1 std)",
            )
        if overlay is not None:
            overlay(ax, oi.name, oj.name)
        _draw_windows(ax, windows.get(oi.name, []), "x")
        if j != i:
            _draw_windows(ax, windows.get(oj.name, []), "y")
        if top:
            _label_points(ax, designs, label_indices(top, [oi.name, oj.name]), oi.name, oj.name)
        ax.set_xlabel(axis_label(oi.name, oi), fontsize=8)
        ax.set_ylabel(axis_label(oj.name, oj), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(loc="best", fontsize=6.5, framealpha=0.8)
    head = title or "designed front"
    n = len(designs)
    fig.suptitle(f"{head}: {n} design{'s' if n != 1 else ''} on the front", fontsize=9)
    notes = []
    required = [w.label.removeprefix("required ") for ws in windows.values() for w in ws if w.kind == "required"]
    if required:
        notes.append("hard windows (constraints): " + "; ".join(required))
    if top and n:
        notes.append(f"labelled: the {n_labels} best designs of each objective")
    if notes:
        fig.text(0.01, 0.005, "   |   ".join(notes), fontsize=7, color="0.25", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.04 if notes else 0, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def convergence_plot(history: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Hypervolume per generation, with the feasible fraction of each generation's evaluations.

    Args:
        history: the ``history.csv`` table.
        path: the PNG to write.
        title: the campaign's description (:func:`campaign_title`); "convergence" is added.

    Returns:
        The path written.
    """
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
    ax.set_title(f"{title}: convergence" if title else "convergence", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


#: the history.csv columns of the adaptive operator portfolio (``share_<arm>``)
SHARE_PREFIX = "share_"


def operators_plot(history: pd.DataFrame, path: str | Path, title: str = "") -> Path | None:
    """Each operator's share of the offspring per generation, stacked (adaptive runs).

    Args:
        history: the ``history.csv`` table; its ``share_<arm>`` columns are drawn (rows
            without shares, the initial population, are left out).
        path: the PNG to write.
        title: the campaign's description; "operators" is added.

    Returns:
        The path written, or ``None`` (nothing written) when the history has no shares.
    """
    columns = [c for c in history.columns if c.startswith(SHARE_PREFIX)]
    if not columns:
        return None
    rows = history.dropna(subset=columns)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    if len(rows):
        shares = rows[columns].to_numpy(dtype=np.float64).T  # (n_arms, n_generations)
        labels = [c[len(SHARE_PREFIX):] for c in columns]
        ax.stackplot(rows["gen"].to_numpy(), 100 * shares, labels=labels, alpha=0.85)
        ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
    ax.set_ylim(0, 100)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of the offspring (%)")
    ax.set_title(f"{title}: operators" if title else "operators", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _overlay(config: Any) -> Callable[[Any, str, str], None] | None:
    """The config's space kind's pareto.png overlay (:data:`space_parts.plot_overlays`), or None."""
    from evodesign.campaign import space_parts

    kind = getattr(getattr(config, "space", None), "kind", None)
    draw = space_parts.part(space_parts.plot_overlays, kind) if isinstance(kind, str) else None
    if draw is None:
        return None
    return lambda ax, x, y: draw(ax, x, y, config)


def draw_run_plots(
    run_dir: str | Path,
    config: Any,
    objectives: Sequence[Objective],
    designs: pd.DataFrame,
    history: pd.DataFrame,
    known: pd.DataFrame,
) -> tuple[Path, Path]:
    """Draw ``pareto.png`` and ``convergence.png`` of a run folder, titled and shaded from its
    config, and ``operators.png`` where the history has operator shares (adaptive runs).

    Args:
        run_dir: the run folder.
        config: the campaign's config (title from ``[campaign] description``, hard windows
            from ``[constraints.ranges]`` when the schema has them).
        objectives: the campaign's objectives (``Campaign.objectives``); the config's
            ``[[objectives]]`` entries of the same names are used for the axis labels.
        designs: the ``pareto.csv`` table.
        history: the ``history.csv`` table.
        known: the known materials' objective values (``Normalizer.known``).

    Returns:
        The paths of ``pareto.png`` and ``convergence.png``.
    """
    run_dir = Path(run_dir)
    title = campaign_title(config)
    # the config's [[objectives]] carry the user's own label (or none), so the axes get the
    # readable name and unit of evodesign.properties.units rather than a generated label
    entries = list(getattr(config, "objectives", None) or [])
    if [getattr(e, "name", None) for e in entries] == [o.name for o in objectives]:
        objectives = entries
    pareto = pareto_plot(
        designs, known, objectives, run_dir / "pareto.png", title=title, ranges=config_ranges(config),
        overlay=_overlay(config),
    )
    convergence = convergence_plot(history, run_dir / "convergence.png", title=title)
    operators_plot(history, run_dir / "operators.png", title=title)
    return pareto, convergence
