"""``evodesign loop``: the closed loop (search -> measure a batch -> update the surrogate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from evodesign.cli.apps import app
from evodesign.cli.campaign import campaign_config, check_data
from evodesign.cli.console import console, say
from evodesign.cli.errors import fail

__all__ = ["loop"]

_EVALUATORS = ("solver", "oracle", "lab")


def _evaluator(name: str, cfg: Any, data: Any) -> Any:
    """The evaluator named on the command line, for this campaign."""
    if name == "lab":
        return "lab"
    if name == "solver":
        if cfg.space.kind != "microstructure":
            fail(f"--evaluator solver computes k_xx and k_yy of microstructures; this campaign's [space] kind is {cfg.space.kind!r} (use oracle or lab)")
        from evodesign.campaign.evaluation import SolverEvaluator

        return SolverEvaluator(cfg.physics.conductivity)
    if cfg.space.kind != "composition":
        fail(f"--evaluator oracle scores compositions; this campaign's [space] kind is {cfg.space.kind!r} (use solver or lab)")
    from evodesign.benchmarks.search.oracle import Oracle, OracleEvaluator
    from evodesign.representation import CompositionSpace

    say("oracle: fitting gradient boosting on the whole data set (the loop's stand-in for a lab)")
    space = CompositionSpace(data.elements)
    return OracleEvaluator(Oracle(space, cfg.objectives, random_state=cfg.campaign.seed).fit(data))


@app.command()
def loop(
    config: Path = typer.Argument(..., help="campaign TOML file with a trained surrogate ([loop] table optional)"),
    rounds: Optional[int] = typer.Option(None, min=1, help="rounds in all (default [loop] rounds)"),
    batch: Optional[int] = typer.Option(None, min=1, help="designs measured per round (default [loop] batch)"),
    evaluator: str = typer.Option("lab", help="who measures: lab (files), solver (microstructures) or oracle (compositions)"),
    out: Optional[Path] = typer.Option(None, help="the loop's folder (default runs/output/<name>/loop-seed<seed>)"),
    resume: bool = typer.Option(False, help="continue the loop in --out (reads a lab's measured.csv)"),
    n_jobs: int = typer.Option(1, help="evaluations in parallel (joblib workers)"),
    backend: Optional[str] = typer.Option(None, help="joblib backend of the evaluations: loky, threading or dask"),
    scheduler: Optional[str] = typer.Option(None, help="dask scheduler address (--backend dask)"),
    quiet: bool = typer.Option(False, help="no progress lines"),
) -> None:
    """Closed-loop design: each round searches the surrogate, proposes a batch, has it
    measured (a lab through files, the solver, or the oracle), and updates the surrogate;
    writes rounds.csv and measurements.csv in the loop's folder."""
    import contextlib

    from evodesign.campaign import Campaign
    from evodesign.campaign.loop import run_loop

    if evaluator not in _EVALUATORS:
        fail(f"--evaluator {evaluator}: valid: {', '.join(_EVALUATORS)}")
    if backend is not None and backend not in ("loky", "threading", "dask"):
        fail(f"--backend {backend}: valid: loky, threading, dask")
    if (backend == "dask") != (scheduler is not None):
        fail("--backend dask and --scheduler ADDRESS go together (the address printed by `dask scheduler`)")
    cfg = campaign_config(config)
    data = check_data(cfg, config.parent)
    out_root = Path("runs/output")
    campaign = Campaign(cfg, out_root=out_root, base_dir=config.parent, progress=not quiet)
    chosen = _evaluator(evaluator, cfg, data)
    client: Any = contextlib.nullcontext()
    if backend == "dask":
        from dask.distributed import Client

        client = Client(scheduler)
    with client:
        result = run_loop(
            campaign, evaluator=chosen, rounds=rounds, batch=batch, out=out, resume=resume,
            n_jobs=n_jobs, backend=backend, config_path=config,
        )
    if len(result.rounds):
        table = Table(title=escape(f"{cfg.campaign.name}: loop in {result.root}"))
        shown = [c for c in result.rounds.columns if c in ("round", "n_measured", "n_failed", "hypervolume")
                 or c.startswith(("best_", "mae_"))]
        for c in shown:
            table.add_column(c, justify="right")
        for _, row in result.rounds.iterrows():
            table.add_row(*(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in shown))
        console.print(table)
    say(result.message)
