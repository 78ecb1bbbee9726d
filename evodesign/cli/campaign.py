"""Commands on a campaign file: ``run``, ``screen``, ``check``, and ``verify`` of a run.

Everything that can be checked without work is checked before anything is written: the
options, the campaign file, then the data set against the campaign (:func:`check_data`);
``check`` stops there and prints the resolved settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from evodesign.cli.apps import app
from evodesign.cli.console import console, say
from evodesign.cli.errors import fail

__all__ = ["campaign_config", "check", "check_data", "check_run_options", "run", "screen", "verify"]

_BACKENDS = ("loky", "threading", "dask")
_SEED_HELP = "campaign seed (default: [campaign] seed of the config)"


def campaign_config(config: Path) -> Any:
    """The validated campaign file (a ConfigError, exit code 2, otherwise)."""
    from evodesign.campaign import CampaignConfig

    return CampaignConfig.from_toml(config)


def check_run_options(
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
        fail(
            "--resume and --overwrite contradict each other: --resume continues the existing "
            "run(s) from their checkpoint, --overwrite deletes them and starts again; pass one"
        )
    if n_jobs == 0 or n_jobs < -1:
        fail(f"--n-jobs {n_jobs}: give the number of runs in parallel (1 or more), or -1 for all cores")
    if backend not in _BACKENDS:
        import difflib

        close = difflib.get_close_matches(backend.lower(), _BACKENDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        fail(f"--backend {backend}: unknown joblib backend{hint}; valid: {', '.join(_BACKENDS)}")
    if scheduler is not None and backend != "dask":
        fail(f"--scheduler is only used with --backend dask (got --backend {backend})")
    if backend == "dask" and scheduler is None:
        fail(
            "--backend dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786, the address "
            "printed by `dask scheduler`)"
        )
    if out is not None and out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; --out takes the folder that run folders are written under")


def check_data(cfg: Any, base_dir: Path) -> Any:
    """Load the campaign's data set and check the campaign against it (objective names,
    elements of the space), before any folder is made or any model trained.

    Returns:
        The data set (:class:`~evodesign.datasets.MaterialsDataset`).
    """
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
            fail(message)
    return load_campaign_data(cfg, base_dir)


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
    check_run_options(resume, overwrite, n_jobs, seeds, backend, scheduler, out)
    cfg = campaign_config(config)
    check_data(cfg, config.parent)
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
def check(
    config: Path = typer.Argument(..., help="campaign TOML file, e.g. runs/thermoelectric.toml"),
) -> None:
    """Validate a campaign file and its data set without running anything (no training, no
    files written); print the resolved settings, every table with its defaults, as TOML."""
    cfg = campaign_config(config)
    data = check_data(cfg, config.parent)
    # comments, so that the output stays a TOML file (evodesign check c.toml > resolved.toml)
    say(
        f"# {config}: a valid campaign, {cfg.campaign.name!r}; [space] kind = \"{cfg.space.kind}\"; "
        f"data set {cfg.campaign.dataset!r}: {len(data)} designs, targets {', '.join(data.targets)}"
    )
    say("# resolved settings (every default filled in):")
    say(cfg.to_toml().rstrip("\n"))


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
        max_e_above_hull=max_e_above_hull, progress=None if quiet else say,
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
    say(f"wrote {run_dir / 'pareto.csv'} and {run_dir / 'structures'}/")
