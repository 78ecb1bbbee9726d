"""The ``evodesign`` command line (typer).

Commands:
    evodesign run CONFIG [--seed S] [--seeds N] [--n-jobs K] [--out DIR] [--resume|--overwrite]
    evodesign screen CONFIG ...                 generate-then-filter with the same constraints
    evodesign report RUN_DIR                    summarise a run, redraw its plots
    evodesign datasets [NAME]                   list the built-in data sets, or summarise one
    evodesign bench featurizer --json FILE      ours vs matminer's Magpie featurizer
    evodesign bench surrogate --json FILE       deep ensemble vs random forest
    evodesign bench overhead --json FILE        NSGA-II overhead per generation, ours vs pymoo
    evodesign bench constraints --json FILE     known compounds each plausibility rule rejects
    evodesign bench report                      regenerate docs/benchmarks.md from the JSON

Every error a user can cause (a bad file, option or value) ends the command with exit code 2
and one ``error:`` message, printed verbatim (no rich markup, so ``[search]`` keeps its
brackets) and without a traceback: :class:`_Guarded` maps the expected exceptions in one
place. An unexpected exception (a bug) exits with code 1, saying where its traceback was saved.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from evodesign.exceptions import EvodesignError
from operators.exceptions import OperatorsError

#: Exit code of every error caused by the input (file, option, value), as click uses for
#: bad options.
EXIT_BAD_INPUT = 2
#: Exit code of an unexpected error (a bug in evodesign or a library).
EXIT_INTERNAL = 1
#: Exit code after Ctrl-C (128 + SIGINT, the shell's convention).
EXIT_INTERRUPTED = 130

console = Console()
err_console = Console(stderr=True)


def _say(text: object) -> None:
    """Print ``text`` exactly as it is: no markup, no highlighting, no inserted line breaks.

    A rich renderable (the bench commands' tables) is drawn as the table it is.
    """
    if isinstance(text, str):
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(text)


def _error(message: str) -> None:
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", str(message)), highlight=False, soft_wrap=True
    )


def _fail(message: str) -> NoReturn:
    """Print ``error: message`` verbatim and exit with code 2."""
    _error(message)
    raise typer.Exit(code=EXIT_BAD_INPUT)


def _explain(err: BaseException) -> tuple[str, int]:
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


class _Guarded(TyperGroup):
    """A command group that turns every exception of a command into one ``error:`` line.

    typer's own exceptions (bad options, ``typer.Exit``, help) pass through unchanged;
    everything else is mapped by :func:`_explain`, so no traceback ever reaches the user.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except (Exception, KeyboardInterrupt) as err:
            message, code = _explain(err)
            _error(message)
            raise typer.Exit(code=code) from None


app = typer.Typer(
    cls=_Guarded,
    rich_markup_mode=None,  # help texts name TOML tables such as [campaign]: show them as written
    help="evodesign: inverse design of materials with learned evolutionary operators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    cls=_Guarded,
    rich_markup_mode=None,
    help="Benchmarks: print a table and write JSON.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


def _json_object(flag: str, text: str) -> dict[str, Any]:
    """The JSON object given to an option such as ``--ensemble``, or a clear error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        _fail(f"{flag} is not valid JSON ({err.msg} at character {err.pos}): {text}")
    if not isinstance(value, dict):
        _fail(f"{flag} must be a JSON object of settings, got {text}")
    return value


def _check_json_target(path: Path | None, overwrite: bool) -> None:
    """Refuse up front (before any work) to overwrite an existing result."""
    if path is not None and path.exists() and not overwrite:
        _fail(f"{path} already exists; pass --overwrite to replace it, or choose another --json")


def _write_json(path: Path | None, result: dict[str, Any]) -> None:
    if path is None:
        return
    from evodesign.campaign.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(result, indent=2, sort_keys=False) + "\n")
    _say(f"wrote {path}")


@app.command()
def datasets(
    name: Optional[str] = typer.Argument(None, help="a data set to summarise, e.g. 'transport'"),
) -> None:
    """List the built-in data sets, or print a summary of one."""
    from evodesign.datasets import list_datasets, load_dataset

    if name is None:
        table = Table(title="Built-in data sets")
        table.add_column("name")
        table.add_column("rows", justify="right")
        table.add_column("source")
        for ds_name in list_datasets():
            ds = load_dataset(ds_name)
            table.add_row(escape(ds_name), str(len(ds.frame)), escape(ds.source))
        console.print(table)
        return
    ds = load_dataset(name)
    summary = ds.summary()
    console.print(Text.assemble((ds.name, "bold"), f": {ds.source}"), soft_wrap=True)
    _say(
        f"{summary['n_rows']} formulas from {summary['n_raw_rows']} raw rows, "
        f"{summary['n_elements']} elements"
    )
    table = Table(title="targets")
    table.add_column("target", no_wrap=True)
    for col in ("count", "mean", "std", "min", "median", "max"):
        table.add_column(col, justify="right", no_wrap=True)
    for target, stats in summary["targets"].items():
        table.add_row(
            escape(target),
            f"{int(stats['count'])}",
            *(f"{stats[k]:.3g}" for k in ("mean", "std", "min", "median", "max")),
        )
    console.print(table)
    hist = summary.get("elements_per_formula")
    if hist:
        _say("elements per formula: " + ", ".join(f"{k}: {v}" for k, v in hist.items()))


@app.command("train-operators")
def train_operators(
    dataset: str = typer.Option("transport", help="built-in data set to learn from"),
    out: Path = typer.Option(
        Path("runs/output/models/generators-transport"),
        help="model path without suffix (writes OUT.safetensors + OUT.json)",
    ),
    seed: int = typer.Option(0, help="seed of the split, initialisation and training"),
    max_elements: int = typer.Option(4, help="max elements per formula of the space"),
    max_atoms: int = typer.Option(20, help="max atoms per reduced formula unit"),
    all_compositions: bool = typer.Option(
        False, help="learn from all known compositions, not only SMACT strict-valid ones"
    ),
    max_rows: Optional[int] = typer.Option(None, help="subsample the training rows"),
    max_epochs: Optional[int] = typer.Option(None, help="cap on VAE epochs (smoke tests)"),
    gan_steps: Optional[int] = typer.Option(None, help="cap on GAN generator steps"),
    overwrite: bool = typer.Option(False, help="replace an existing model at OUT"),
) -> None:
    """Train the VAE + latent GAN behind the learned crossover and mutation."""
    from evodesign.generators import train_generators

    vae_options = {} if max_epochs is None else {"max_epochs": max_epochs}
    gan_options = {} if gan_steps is None else {"n_steps": gan_steps}
    model, path = train_generators(
        dataset, out, seed=seed, max_elements=max_elements, max_atoms=max_atoms,
        strict_valid=not all_compositions, vae_options=vae_options,
        gan_options=gan_options, max_rows=max_rows, overwrite=overwrite,
    )
    _say(f"wrote {path}")


def _campaign_config(config: Path) -> Any:
    from evodesign.campaign import CampaignConfig

    return CampaignConfig.from_toml(config)


def _check_run_options(
    resume: bool,
    overwrite: bool,
    n_jobs: int,
    seeds: int,
    backend: str,
    scheduler: Optional[str],
    out: Optional[Path],
) -> None:
    """Refuse contradictory or impossible options of ``run`` and ``screen``."""
    if resume and overwrite:
        _fail(
            "--resume and --overwrite contradict each other: --resume continues the existing "
            "run(s) from their checkpoint, --overwrite deletes them and starts again; pass one"
        )
    if n_jobs == 0 or n_jobs < -1:
        _fail(f"--n-jobs {n_jobs}: give the number of runs in parallel (1 or more), or -1 for all cores")
    if backend not in _BACKENDS:
        import difflib

        close = difflib.get_close_matches(backend.lower(), _BACKENDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        _fail(f"--backend {backend}: unknown joblib backend{hint}; valid: {', '.join(_BACKENDS)}")
    if scheduler is not None and backend != "dask":
        _fail(f"--scheduler is only used with --backend dask (got --backend {backend})")
    if backend == "dask" and scheduler is None:
        _fail(
            "--backend dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786, the address "
            "printed by `dask scheduler`)"
        )
    if out is not None and out.exists() and not out.is_dir():
        _fail(f"--out {out} is a file; --out takes the folder that run folders are written under")


def _check_data(cfg: Any, base_dir: Path) -> None:
    """Load the campaign's data set and check the campaign against it (objective names,
    elements of the space), before any folder is made or any model trained."""
    from evodesign.campaign.models import load_campaign_data
    from evodesign.datasets import list_datasets

    name = cfg.campaign.dataset
    if name not in list_datasets():
        path = Path(name) if Path(name).is_absolute() else base_dir / name
        if not path.is_file():
            what = "is a folder, not a CSV file" if path.is_dir() else "not found"
            message = f"{cfg.where('campaign', 'dataset')}: data set file {path} {what}"
            if not Path(name).is_absolute():
                message += f" (a relative path is read from the config file's folder, {base_dir})"
            there = sorted(p.name for p in path.parent.glob("*.csv") if p.is_file()) if path.parent.is_dir() else []
            if there:
                message += "; CSV files there: " + ", ".join(there)
            _fail(message)
    load_campaign_data(cfg, base_dir)


def _run_or_screen(
    kind: str,
    config: Path,
    seed: Optional[int],
    seeds: int,
    n_jobs: int,
    out: Optional[Path],
    resume: bool,
    overwrite: bool,
    backend: str,
    scheduler: Optional[str],
    quiet: bool,
) -> None:
    from evodesign.campaign import Campaign, run_seeds

    # Everything that can be checked without work is checked before anything is written:
    # the options, the campaign file, then the data set against the campaign.
    _check_run_options(resume, overwrite, n_jobs, seeds, backend, scheduler, out)
    cfg = _campaign_config(config)
    _check_data(cfg, config.parent)
    out_root = Path("runs/output") if out is None else out
    if seeds == 1 and backend == "loky":
        campaign = Campaign(cfg, out_root=out_root, base_dir=config.parent, progress=not quiet)
        if kind == "run":
            results = [campaign.run(seed, resume=resume, overwrite=overwrite)]
        else:
            results = [campaign.screen(seed, overwrite=overwrite)]
    else:
        results = run_seeds(
            cfg, seed=seed, n_seeds=seeds, n_jobs=n_jobs, kind=kind, out_root=out_root,
            base_dir=config.parent, backend=backend, scheduler=scheduler, resume=resume,
            overwrite=overwrite, progress=not quiet,
        )
    table = Table(title=escape(f"{cfg.campaign.name}: {kind}"))
    for col in ("run folder", "designs", "evaluations", "final HV", "minutes"):
        table.add_column(col, justify="right" if col != "run folder" else "left", overflow="fold")
    for r in results:
        hv = r.history["hypervolume"].iloc[-1] if len(r.history) else float("nan")
        minutes = r.manifest.get("timings", {}).get("total_s", float("nan")) / 60
        table.add_row(escape(str(r.run_dir)), str(len(r.designs)), f"{r.manifest.get('n_evaluations', 0):,}", f"{hv:.4f}", f"{minutes:.1f}")
    console.print(table)


_BACKENDS = ("loky", "threading", "dask")
_SEED_HELP = "campaign seed (default: [campaign] seed of the config)"


@app.command()
def run(
    config: Path = typer.Argument(..., help="campaign TOML file, e.g. runs/thermoelectric.toml"),
    seed: Optional[int] = typer.Option(None, min=0, help=_SEED_HELP),
    seeds: int = typer.Option(1, min=1, help="number of independent runs (child seeds of --seed)"),
    n_jobs: int = typer.Option(1, help="runs in parallel (-1: all cores)"),
    out: Optional[Path] = typer.Option(None, help="output root (default runs/output)"),
    resume: bool = typer.Option(False, help="continue the run(s) from their checkpoint"),
    overwrite: bool = typer.Option(False, help="delete existing run folder(s) first"),
    backend: str = typer.Option("loky", help="joblib backend: loky, threading or dask"),
    scheduler: Optional[str] = typer.Option(None, help="dask scheduler address (--backend dask)"),
    quiet: bool = typer.Option(False, help="no progress lines"),
) -> None:
    """NSGA-II design campaign with in-loop constraints; writes runs/output/<name>/<run-id>/."""
    _run_or_screen("run", config, seed, seeds, n_jobs, out, resume, overwrite, backend, scheduler, quiet)


@app.command()
def screen(
    config: Path = typer.Argument(..., help="campaign TOML file"),
    seed: Optional[int] = typer.Option(None, min=0, help=_SEED_HELP),
    seeds: int = typer.Option(1, min=1, help="number of independent screens"),
    n_jobs: int = typer.Option(1, help="screens in parallel"),
    out: Optional[Path] = typer.Option(None, help="output root (default runs/output)"),
    overwrite: bool = typer.Option(False, help="delete existing screen folder(s) first"),
    backend: str = typer.Option("loky", help="joblib backend: loky, threading or dask"),
    scheduler: Optional[str] = typer.Option(None, help="dask scheduler address (--backend dask)"),
    quiet: bool = typer.Option(False, help="no progress lines"),
) -> None:
    """Generate-then-filter: sample [screen] n_samples candidates, keep the feasible front."""
    _run_or_screen("screen", config, seed, seeds, n_jobs, out, False, overwrite, backend, scheduler, quiet)


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
        _fail(f"{run_dir} {what}; report takes a run folder, e.g. runs/output/thermoelectric/seed0")
    result = load_run(run_dir)
    cfg = _campaign_config(run_dir / "config.toml")
    out = Console(highlight=False)  # the width of the terminal (or $COLUMNS) now
    say = _report_printer(out)
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
        say(f"hard window {name} {_report_window(low, high, name)}: {_report_inside(designs, name, low, high)}")
    n_show = min(top, len(designs))
    say(f"\n{len(designs)} designs on the front (first {n_show}; mean ± std):")
    out.print(_report_table(out, designs, range(n_show), objectives))
    whole = _report_whole_front(run_dir, len(designs))
    if whole:
        say(whole)
    systems = _report_systems(designs)
    if len(systems):
        say(f"{len(systems)} chemical systems on the front ({len(designs)} designs); the most common:")
        out.print(_report_systems_table(systems, len(designs)))
    if per_objective and len(designs):
        best = top_designs(designs, objectives, per_objective)
        for o in objectives:
            aim = f"closest to {_report_window(*o.target, o.name)}" if o.target is not None else (
                "highest" if o.direction == "max" else "lowest")
            say(f"best {per_objective} by {o.name} ({aim}):")
            out.print(_report_table(out, designs, best[o.name], objectives, rank=False))
    if plots:
        from evodesign.campaign.plots import draw_run_plots
        from evodesign.campaign.results import Normalizer

        campaign = Campaign(cfg, base_dir=run_dir, progress=False)
        normalizer = Normalizer.from_data(campaign.objectives, *campaign.prepare_data())
        pareto, convergence = draw_run_plots(run_dir, cfg, campaign.objectives, designs, h, normalizer.known)
        say(f"drew {pareto.name} and {convergence.name} in {run_dir}")


def _report_printer(out: Console) -> Any:
    """``say(text)`` for ``report``: verbatim text (no markup), wrapped at the console's width."""

    def say(text: object) -> None:
        out.print(Text(str(text)), overflow="fold")

    return say


def _report_window(low: float, high: float, name: str) -> str:
    from evodesign.properties.units import format_window

    return format_window(low, high, name)


def _report_inside(designs: Any, name: str, low: float, high: float) -> str:
    """``"24/24 front designs predicted inside"`` (or why it cannot be said)."""
    if name not in designs.columns:
        return "not a column of pareto.csv"
    values = designs[name].astype(float)
    inside = int(((values >= low) & (values <= high)).sum())
    return f"{inside}/{len(values)} front designs predicted inside"


def _report_header(o: Any) -> str:
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


def _report_table(out: Console, designs: Any, rows: Any, objectives: list[Any], rank: bool = True) -> Any:
    """A table of ``rows`` of ``designs``: formula and objectives (mean +/- std), then the
    optional columns (nearest known formula, atoms, operator) that fit the console with
    every design of the table, so that all tables of a report show the same columns."""
    from rich import box

    from evodesign.properties.units import format_value

    rows = list(rows)
    base: list[tuple[str, Any, str]] = [("formula", lambda r: str(r.get("formula", "")), "left")]
    for o in objectives:
        base.append((_report_header(o), lambda r, n=o.name: format_value(r.get(n, ""), r.get(f"{n}_std")), "right"))
    optional = [  # (column of pareto.csv, header, cell, justify), added while they fit
        # the structure check's verdict (evodesign verify / [verify] after_run), if any
        ("e_form_chgnet", "E_form\neV/atom", lambda r: _report_e_form(r), "right"),
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


def _report_e_form(record: Any) -> str:
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


def _report_whole_front(run_dir: Path, n_reported: int) -> str:
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


def _report_systems(designs: Any) -> Any:
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


def _report_systems_table(systems: Any, n_designs: int, show: int = 10) -> Any:
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("chemical system")
    table.add_column("designs", justify="right")
    table.add_column("share", justify="right")
    for system, count in systems.head(show).items():
        table.add_row(escape(str(system)), str(int(count)), f"{100 * count / max(n_designs, 1):.0f}%")
    return table


@bench_app.command("featurizer")
def bench_featurizer(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    n: int = typer.Option(2000, help="number of compositions"),
    seed: int = typer.Option(0, help="seed of the composition sample"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Compositions per second of our Magpie featurizer and matminer's, same input, one run."""
    from evodesign.benchmarks.featurizer import format_featurizer_table, run_featurizer_benchmark

    _check_json_target(json_path, overwrite)
    result = run_featurizer_benchmark(n=n, seed=seed)
    _say(format_featurizer_table(result))
    _write_json(json_path, result)


@bench_app.command("surrogate")
def bench_surrogate(
    dataset: str = typer.Option("transport", help="built-in data set"),
    targets: str = typer.Option("log10_PF_p,S_p", help="comma-separated target columns"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    seed: int = typer.Option(0, help="seed of the split and the models"),
    max_rows: Optional[int] = typer.Option(None, help="subsample the data (smoke tests)"),
    ensemble: Optional[str] = typer.Option(
        None, help='JSON of DeepEnsembleRegressor settings, e.g. \'{"architecture": "residual", "dropout": 0.1}\''
    ),
    joint: bool = typer.Option(False, help="one ensemble for all targets, as a campaign trains it"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Deep ensemble vs random forest on one fixed, seeded 80/20 split by formula."""
    import sys

    from evodesign.benchmarks.surrogate import format_surrogate_table, run_surrogate_benchmark

    _check_json_target(json_path, overwrite)
    names = [t.strip() for t in targets.split(",") if t.strip()]
    params: dict[str, Any] = {}
    if ensemble:
        params = _json_object("--ensemble", ensemble)
        from evodesign.surrogates import DeepEnsembleRegressor

        valid = set(DeepEnsembleRegressor().get_params()) - {"random_state"}
        unknown = sorted(set(params) - valid)
        if unknown:
            _fail(f"--ensemble: unknown setting(s) {unknown}; valid: {sorted(valid)}")
        if "hidden_layer_sizes" in params:
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    result = run_surrogate_benchmark(dataset, names, seed=seed, max_rows=max_rows, ensemble_params=params,
                                     joint=joint)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    _say(format_surrogate_table(result))
    _write_json(json_path, result)


@bench_app.command("operators")
def bench_operators(
    dataset: str = typer.Option("transport", help="built-in data set"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    n_offspring: int = typer.Option(4000, help="offspring per arm"),
    seed: int = typer.Option(0, help="seed of the split, the training and the parents"),
    max_epochs: Optional[int] = typer.Option(None, help="cap on VAE epochs"),
    gan_steps: Optional[int] = typer.Option(None, help="cap on GAN generator steps"),
    max_rows: Optional[int] = typer.Option(None, help="subsample the compositions (smoke tests)"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Validity, uniqueness and novelty of learned vs classical offspring (held-out parents)."""
    from evodesign.benchmarks.operators import format_operators_table, run_operators_benchmark

    _check_json_target(json_path, overwrite)
    vae_options = {} if max_epochs is None else {"max_epochs": max_epochs}
    gan_options = {} if gan_steps is None else {"n_steps": gan_steps}
    result = run_operators_benchmark(
        dataset, n_offspring=n_offspring, seed=seed, vae_options=vae_options,
        gan_options=gan_options, max_rows=max_rows,
    )
    _say(format_operators_table(result))
    _write_json(json_path, result)


@bench_app.command("overhead")
def bench_overhead(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    pop_sizes: str = typer.Option("100,1000,5000", help="comma-separated population sizes"),
    n_gen: int = typer.Option(10, help="generations timed per population size"),
    seed: int = typer.Option(0, help="seed of the populations and the operators"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """NSGA-II time per generation excluding fitness: ours vs plain pymoo, same run."""
    import sys

    from evodesign.benchmarks.overhead import format_overhead_table, run_overhead_benchmark

    _check_json_target(json_path, overwrite)
    sizes = tuple(int(p) for p in pop_sizes.split(",") if p.strip())
    result = run_overhead_benchmark(pop_sizes=sizes, n_gen=n_gen, seed=seed)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    _say(format_overhead_table(result))
    _write_json(json_path, result)


@bench_app.command("search")
def bench_search(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    quick: bool = typer.Option(False, help="a few minutes: data slice, small models, tiny budgets"),
    config: Path = typer.Option(Path("runs/thermoelectric.toml"), help="the campaign benchmarked"),
    seeds: Optional[int] = typer.Option(None, help="seeds per arm (full: 8, quick: 2)"),
    pop_size: Optional[int] = typer.Option(None, help="population (full: 200, quick: 24)"),
    n_gen: Optional[int] = typer.Option(None, help="generations (full: 40, quick: 6)"),
    seed: int = typer.Option(0, help="campaign seed; run i uses its i-th child"),
    out: Path = typer.Option(Path("runs/output/bench-search"), help="split, models, oracle and run folders"),
    arms: Optional[str] = typer.Option(None, help="comma-separated subset of the arms (learned and classical always run)"),
    ablations: Optional[str] = typer.Option(None, help="comma-separated ablations of the learned arm, or 'none'"),
    deap_seeds: Optional[int] = typer.Option(None, help="seeds of the DEAP cross-check (0: skip)"),
    scale: bool = typer.Option(True, help="also the parallel-seeds and ZDT1 checks"),
    fitness: str = typer.Option("surrogate", help="'surrogate' (the protocol) or 'oracle' (diagnostic: search the oracle itself)"),
    surrogate: Optional[str] = typer.Option(
        None, help='JSON of [surrogate] settings for every arm, e.g. \'{"architecture": "residual"}\''
    ),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Learned operators vs SBX/PM, latent GA, screening, known and random designs, scored
    by an oracle on held-out data; speed and scale checks."""
    import sys

    from evodesign.benchmarks.search import format_search_table, run_search_benchmark

    _check_json_target(json_path, overwrite)
    try:
        from evodesign.benchmarks.search import ARMS

        options: dict[str, Any] = {"n_seeds": seeds, "pop_size": pop_size, "n_gen": n_gen, "deap_seeds": deap_seeds,
                                   "fitness": fitness}
        if surrogate:
            options["surrogate"] = _json_object("--surrogate", surrogate)
        if ablations is not None:
            options["ablations"] = [] if ablations == "none" else [a.strip() for a in ablations.split(",") if a.strip()]
        if not scale:
            options.update(parallel_n_gen=0, zdt1_seeds=0)
        chosen = list(ARMS) if arms is None else [a.strip() for a in arms.split(",") if a.strip()]
        result = run_search_benchmark(config, quick=quick, seed=seed, out_root=out, arms=chosen, **options)
    except (EvodesignError, ValueError) as err:
        _fail(str(err))
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    print(format_search_table(result))  # plain print: the table is wider than a terminal
    _write_json(json_path, result)


@bench_app.command("constraints")
def bench_constraints(
    config: Path = typer.Option(Path("runs/thermoelectric.toml"), help="the campaign whose rules are measured"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    max_rows: Optional[int] = typer.Option(None, help="subsample the data (smoke tests)"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Known compounds of the data that each plausibility rule would reject."""
    from evodesign.benchmarks.constraints import format_constraints_table, run_constraints_benchmark

    _check_json_target(json_path, overwrite)
    result = run_constraints_benchmark(config, max_rows=max_rows)
    _say(format_constraints_table(result))
    _write_json(json_path, result)


@bench_app.command("report")
def bench_report(
    results: Path = typer.Option(Path("docs/benchmarks"), help="folder of benchmark JSON files"),
    out: Path = typer.Option(Path("docs/benchmarks.md"), help="the Markdown file to write"),
) -> None:
    """Regenerate docs/benchmarks.md from the benchmark JSON files."""
    from evodesign.benchmarks.report import write_report

    write_report(results, out)
    _say(f"wrote {out}")


@app.command()
def verify(
    run_dir: Path = typer.Argument(..., help="a run folder, e.g. runs/output/thermoelectric/seed0"),
    top: Optional[int] = typer.Option(None, help="designs verified: the first rows of pareto.csv (default [verify] top, 20)"),
    n_jobs: int = typer.Option(1, help="compositions at once (worker processes, one torch thread each)"),
    n_structures: Optional[int] = typer.Option(None, help="candidate structures relaxed per design"),
    relax_steps: Optional[int] = typer.Option(None, help="most CHGNet relaxation steps per structure"),
    max_atoms: Optional[int] = typer.Option(None, help="most atoms per cell"),
    timeout: Optional[float] = typer.Option(None, help="seconds per design before it is recorded as timed out"),
    max_e_form: Optional[float] = typer.Option(None, help="screen: formation energy bound, eV/atom"),
    max_e_above_hull: Optional[float] = typer.Option(None, help="screen: energy above hull bound, eV/atom"),
    quiet: bool = typer.Option(False, help="no progress lines"),
) -> None:
    """Candidate crystal structures (pyxtal) and CHGNet energies for the top designs of a
    run; writes structures/<formula>.cif and adds energy columns to pareto.csv."""
    import time

    from evodesign.structures import verify_run

    start = time.perf_counter()
    table = verify_run(
        run_dir, top=top, n_jobs=n_jobs, n_structures=n_structures, relax_steps=relax_steps,
        max_atoms=max_atoms, timeout_s=timeout, max_e_form=max_e_form,
        max_e_above_hull=max_e_above_hull, progress=None if quiet else _say,
    )
    done = table[table["verify_status"] != ""]
    result = Table(title=escape(f"{run_dir}: {len(done)} designs verified in {time.perf_counter() - start:.0f} s"))
    shown = ["formula", "verify_status", "spacegroup", "n_atoms_cell", "e_form_chgnet", "e_above_hull_chgnet"]
    if "verify_pass" in table.columns:
        shown.append("verify_pass")
    for col in shown:
        result.add_column(col, overflow="fold")
    for _, row in done.iterrows():
        result.add_row(*(escape(str(row[c])) for c in shown))
    console.print(result)
    _say(f"wrote {run_dir / 'pareto.csv'} and {run_dir / 'structures'}/")


@bench_app.command("verify")
def bench_verify(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    out: Path = typer.Option(Path("runs/output/verify-calibration"), help="scratch run folder (reused by re-runs)"),
    n_jobs: int = typer.Option(2, help="worker processes"),
    n_compounds: Optional[int] = typer.Option(None, help="first N compounds of the prototype list"),
    seed: int = typer.Option(0, help="seed of the candidate structures"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Calibrate `verify` on known compounds: E_form < 0, and the energy found vs the known
    prototype relaxed the same way."""
    import sys

    from evodesign.structures.calibration import PROTOTYPES, format_verify_table, run_verify_calibration

    _check_json_target(json_path, overwrite)
    formulas = list(PROTOTYPES)[:n_compounds] if n_compounds else None
    result = run_verify_calibration(out, formulas=formulas, n_jobs=n_jobs, seed=seed, progress=_say)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    print(format_verify_table(result))
    _write_json(json_path, result)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
