"""``evodesign report RUN_DIR``: a finished run summarised to fit the terminal.

Its designs (objectives as mean ± std), chemical systems, hard windows, best designs per
objective, and the plots redrawn; numbers to 3 significant figures, units in the headers,
optional columns only where they fit the console's width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evodesign.cli.apps import app
from evodesign.cli.campaign import campaign_config
from evodesign.cli.errors import fail

__all__ = ["report"]


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a run folder, e.g. runs/output/thermoelectric/seed0"),
    top: int = typer.Option(15, min=0, help="designs to list"),
    per_objective: int = typer.Option(5, min=0, help="best designs listed per objective"),
    plots: bool = typer.Option(True, help="redraw pareto.png and convergence.png"),
) -> None:
    """Summarise a finished run: its designs, chemical systems, best designs per objective, plots.

    Fits the terminal's width (80 columns and more): numbers to 3 significant figures,
    units in the headers, optional columns only where they fit.
    """
    from evodesign.campaign import Campaign, load_run
    from evodesign.campaign.plots import campaign_title, config_ranges, top_designs

    if not run_dir.is_dir():
        what = "is a file" if run_dir.exists() else "does not exist"
        fail(f"{run_dir} {what}; report takes a run folder, e.g. runs/output/thermoelectric/seed0")
    result = load_run(run_dir)
    cfg = campaign_config(run_dir / "config.toml")
    out = Console(highlight=False)  # the width of the terminal (or $COLUMNS) now
    say = _printer(out)
    m = result.manifest
    designs, objectives = result.designs, list(cfg.objectives)
    out.print(Text(campaign_title(cfg) or str(m.get("campaign", "")), style="bold"))
    say(
        f"{run_dir}: {m.get('kind', 'run')} of campaign {m.get('campaign')!r}, seed {m.get('seed')} "
        f"(run {m.get('run_index', 0)} of {m.get('n_runs', 1)}), status {m.get('status')}"
    )
    h = result.history
    if len(h):
        last = h.iloc[-1]
        say(
            f"{int(last['n_eval']):,} evaluations in {len(h)} generation(s); final hypervolume "
            f"{last['hypervolume']:.4f}; {int(h['failures'].sum())} failed evaluations"
        )
    ranges = config_ranges(cfg)
    for name, (low, high) in ranges.items():
        say(f"hard window {name} {_window(low, high, name)}: {_inside(designs, name, low, high)}")
    n_show = min(top, len(designs))
    say(f"\n{len(designs)} designs on the front (first {n_show}; mean ± std):")
    out.print(_table(out, designs, range(n_show), objectives))
    whole = _whole_front(run_dir, len(designs))
    if whole:
        say(whole)
    systems = _systems(designs)
    if len(systems):
        say(f"{len(systems)} chemical systems on the front ({len(designs)} designs); the most common:")
        out.print(_systems_table(systems, len(designs)))
    if per_objective and len(designs):
        best = top_designs(designs, objectives, per_objective)
        for o in objectives:
            aim = f"closest to {_window(*o.target, o.name)}" if o.target is not None else (
                "highest" if o.direction == "max" else "lowest")
            say(f"best {per_objective} by {o.name} ({aim}):")
            out.print(_table(out, designs, best[o.name], objectives, rank=False))
    if plots:
        from evodesign.campaign.plots import draw_run_plots
        from evodesign.campaign.results import Normalizer

        campaign = Campaign(cfg, base_dir=run_dir, progress=False)
        normalizer = Normalizer.from_data(campaign.objectives, *campaign.prepare_data())
        pareto, convergence = draw_run_plots(run_dir, cfg, campaign.objectives, designs, h, normalizer.known)
        say(f"drew {pareto.name} and {convergence.name} in {run_dir}")


def _printer(out: Console) -> Any:
    """``say(text)`` for ``report``: verbatim text (no markup), wrapped at the console's width."""

    def say(text: object) -> None:
        out.print(Text(str(text)), overflow="fold")

    return say


def _window(low: float, high: float, name: str) -> str:
    from evodesign.properties.units import format_window

    return format_window(low, high, name)


def _inside(designs: Any, name: str, low: float, high: float) -> str:
    """``"24/24 front designs predicted inside"`` (or why it cannot be said)."""
    if name not in designs.columns:
        return "not a column of pareto.csv"
    values = designs[name].astype(float)
    inside = int(((values >= low) & (values <= high)).sum())
    return f"{inside}/{len(values)} front designs predicted inside"


def _header(o: Any) -> str:
    """A column header: short name, unit, aim (one line each)."""
    from evodesign.properties.units import format_window, short_header, unit

    lines = [short_header(o.name)]
    if unit(o.name):  # a log10 column shows the unit of the logged value (the line above says log10)
        lines.append(unit(o.name).removeprefix("log10 "))
    if o.target is not None:
        lines.append(f"target {format_window(*o.target)}")
    else:
        lines.append(o.direction)
    return "\n".join(lines)


def _table(out: Console, designs: Any, rows: Any, objectives: list[Any], rank: bool = True) -> Any:
    """A table of ``rows`` of ``designs``: formula and objectives (mean +/- std), then the
    optional columns (nearest known formula, atoms, operator) that fit the console with
    every design of the table, so that all tables of a report show the same columns."""
    from rich import box

    from evodesign.properties.units import format_value

    rows = list(rows)
    base: list[tuple[str, Any, str]] = [("formula", lambda r: str(r.get("formula", "")), "left")]
    for o in objectives:
        base.append((_header(o), lambda r, n=o.name: format_value(r.get(n, ""), r.get(f"{n}_std")), "right"))
    optional = [  # (column of pareto.csv, header, cell, justify), added while they fit
        # the structure check's verdict (evodesign verify / [verify] after_run), if any
        ("e_form_chgnet", "E_form\neV/atom", lambda r: _e_form(r), "right"),
        ("nearest_known", "nearest\nknown", lambda r: str(r.get("nearest_known", "")), "left"),
        ("n_atoms", "atoms", lambda r: str(r.get("n_atoms", "")), "right"),
        ("operator", "operator", lambda r: str(r.get("operator", "")), "left"),
    ]

    def build(columns: list[tuple[str, Any, str]], rows: list[int], rank: bool) -> Any:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        if rank:
            table.add_column("#", justify="right", no_wrap=True)
        for header, _, justify in columns:
            table.add_column(escape(header), justify=justify, no_wrap=header == "formula")
        for i in rows:
            record = designs.iloc[i]
            cells = [escape(str(cell(record))) for _, cell, _ in columns]
            table.add_row(*([str(i + 1)] if rank else []), *cells)
        return table

    wide = out.options.update_width(10_000)  # the natural width, not clamped to the console's

    # the same columns in every table of a report: fitted on every design, with the rank
    every = list(range(len(designs)))
    columns = list(base)
    for key, header, cell, justify in optional:
        trial = build([*columns, (header, cell, justify)], every, True)
        if key in designs.columns and out.measure(trial, options=wide).maximum <= out.width:
            columns.append((header, cell, justify))
    return build(columns, rows, rank)


def _e_form(record: Any) -> str:
    """CHGNet formation energy of a verified design, else its verify status, else blank."""
    value = record.get("e_form_chgnet")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if number == number:
        return f"{number:+.2f}"
    status = record.get("verify_status")
    return "" if status is None or status != status else str(status)


def _whole_front(run_dir: Path, n_reported: int) -> str:
    """A line on ``pareto_all.csv`` (the whole front, when ``pareto.csv`` is capped per chemical
    system), or ``""`` when the run folder has none or it holds the same designs."""
    import pandas as pd

    path = run_dir / "pareto_all.csv"
    if not path.is_file():
        return ""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if len(frame) == n_reported:
        return ""
    line = f"the whole feasible front: {len(frame)} designs (pareto_all.csv)"
    if "chemical_system" in frame.columns:
        line += f" in {frame['chemical_system'].nunique()} chemical systems"
    return line + f"; pareto.csv reports {n_reported} of them"


def _systems(designs: Any) -> Any:
    """Designs per chemical system (``chemical_system`` column, else the formulas' elements),
    most common first."""
    import pandas as pd

    if "chemical_system" in designs.columns:
        systems = designs["chemical_system"].astype(str)
    elif "composition" in designs.columns:
        systems = pd.Series(["-".join(sorted(e.symbol for e in c.elements)) for c in designs["composition"]])
    else:
        return pd.Series(dtype=int)
    return systems.value_counts(sort=True)


def _systems_table(systems: Any, n_designs: int, show: int = 10) -> Any:
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("chemical system")
    table.add_column("designs", justify="right")
    table.add_column("share", justify="right")
    for system, count in systems.head(show).items():
        table.add_row(escape(str(system)), str(int(count)), f"{100 * count / max(n_designs, 1):.0f}%")
    return table
