"""Commands on the built-in data sets: ``datasets`` (list or summarise) and
``train-operators`` (the VAE + latent GAN learned from one)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evodesign.cli.apps import app
from evodesign.cli.console import console, say

__all__ = ["datasets", "train_operators"]


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
    say(
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
        say("elements per formula: " + ", ".join(f"{k}: {v}" for k, v in hist.items()))


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
    say(f"wrote {path}")


