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
from evodesign.exceptions import UsageError

__all__ = ["datasets", "microstructures", "train_operators"]


@app.command()
def datasets(
    name: Optional[str] = typer.Argument(
        None, help="a data set to summarise, e.g. 'transport', or 'microstructures'"
    ),
    n: Optional[int] = typer.Option(
        None, "--n", help="microstructures: images in the library [default: 20000]"
    ),
    size: Optional[int] = typer.Option(
        None, help="microstructures: image side in pixels [default: 64]"
    ),
    seed: Optional[int] = typer.Option(None, help="microstructures: seed [default: 0]"),
    out: Optional[Path] = typer.Option(
        None, help="microstructures: the .npz file (default: in the cache folder)"
    ),
    plot: Optional[Path] = typer.Option(
        None, help="microstructures: picture of examples (default: next to the .npz)"
    ),
    rebuild: bool = typer.Option(False, help="microstructures: build again even if cached"),
) -> None:
    """List the built-in data sets, or print a summary of one.

    'datasets microstructures' builds (the first time, minutes) or loads the seeded library
    of two-phase images labelled by the conductivity solver, and prints it per family.
    """
    from evodesign.datasets import list_datasets, load_dataset

    if name == "microstructures":
        microstructures(n=n, size=size, seed=seed, out=out, plot=plot, rebuild=rebuild)
        return
    options = {"--n": n, "--size": size, "--seed": seed, "--out": out, "--plot": plot}
    given = [flag for flag, value in options.items() if value is not None]
    given += ["--rebuild"] if rebuild else []
    if given:
        raise UsageError(f"only 'evodesign datasets microstructures' takes {', '.join(given)}")
    if name is None:
        table = Table(title="Built-in data sets")
        table.add_column("name")
        table.add_column("rows", justify="right")
        table.add_column("source")
        for ds_name in list_datasets(generated=False):  # the generated ones are built on first use
            ds = load_dataset(ds_name)
            table.add_row(escape(ds_name), str(len(ds.frame)), escape(ds.source))
        table.add_row(
            "microstructures", "20000",
            "seeded two-phase images, built on first use (evodesign datasets microstructures)",
        )
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


def microstructures(
    n: Optional[int] = None,
    size: Optional[int] = None,
    seed: Optional[int] = None,
    out: Optional[Path] = None,
    plot: Optional[Path] = None,
    rebuild: bool = False,
) -> None:
    """``evodesign datasets microstructures``: build or load the library, print it per
    family, draw examples."""
    from evodesign.datasets.microstructures import build_library, library_path, plot_library

    n = 20000 if n is None else n
    size = 64 if size is None else size
    seed = 0 if seed is None else seed
    path = library_path(n, size, seed) if out is None else out
    library = build_library(n=n, size=size, seed=seed, path=path, rebuild=rebuild)
    k_matrix, k_filler = library.conductivity
    table = Table(
        title=f"microstructure library: {len(library)} images {size}x{size}, seed {seed}, "
        f"k_matrix {k_matrix:g}, k_filler {k_filler:g}"
    )
    for col in ("family", "count", "fraction", "k_xx", "k_yy"):
        table.add_column(col, justify="left" if col == "family" else "right", no_wrap=True)
    for row in library.summary():
        table.add_row(
            row["family"], str(row["count"]),
            *(
                f"{row[key][0]:.3f} .. {row[key][1]:.3f}"
                for key in ("volume_fraction", "k_xx", "k_yy")
            ),
        )
    console.print(table)
    picture = plot_library(library, path.with_suffix(".png") if plot is None else plot)
    say(f"cached in {escape(str(path))} (+ {escape(path.with_suffix('.json').name)})")
    say(f"examples drawn in {escape(str(picture))}")
