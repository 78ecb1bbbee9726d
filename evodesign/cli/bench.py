"""``evodesign bench ...``: each benchmark prints its table and writes its JSON (``--json``).

The work is in :mod:`evodesign.benchmarks`; these commands parse options, refuse to
overwrite a result before any work, and write the JSON atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from evodesign.cli.apps import bench_app
from evodesign.cli.console import say
from evodesign.cli.errors import fail
from evodesign.exceptions import EvodesignError

__all__ = [
    "bench_constraints",
    "bench_featurizer",
    "bench_loop",
    "bench_microstructure",
    "bench_operators",
    "bench_overhead",
    "bench_report",
    "bench_search",
    "bench_solver",
    "bench_surrogate",
    "bench_verify",
]


def _json_object(flag: str, text: str) -> dict[str, Any]:
    """The JSON object given to an option such as ``--ensemble``, or a clear error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        fail(f"{flag} is not valid JSON ({err.msg} at character {err.pos}): {text}")
    if not isinstance(value, dict):
        fail(f"{flag} must be a JSON object of settings, got {text}")
    return value


def _check_json_target(path: Path | None, overwrite: bool) -> None:
    """Refuse up front (before any work) to overwrite an existing result."""
    if path is not None and path.exists() and not overwrite:
        fail(f"{path} already exists; pass --overwrite to replace it, or choose another --json")


def _write_json(path: Path | None, result: dict[str, Any]) -> None:
    if path is None:
        return
    from evodesign.campaign.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(result, indent=2, sort_keys=False) + "\n")
    say(f"wrote {path}")


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
    say(format_featurizer_table(result))
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
    suite: bool = typer.Option(
        False, help="per-target model selection (AutoSurrogate) vs the random forest across data sets "
        "(transport and wheel-shipped matbench-style sets), several splits"
    ),
    quick: bool = typer.Option(False, help="--suite with tiny models and data (smoke test)"),
    tasks: Optional[str] = typer.Option(
        None, help="--suite tasks as dataset:target, comma-separated "
        "(default expt_gap:band_gap,bulk_modulus:K_VRH,transport:log10_PF_p,transport:S_p)"
    ),
    splits: int = typer.Option(3, help="--suite: seeded splits per task"),
    cv_rows: int = typer.Option(10_000, help="--suite: rows at most in the selection's cross-validation"),
    cv_folds: int = typer.Option(5, help="--suite: folds of the selection's cross-validation"),
    threads: int = typer.Option(1, help="--suite: torch/OpenMP threads per fit"),
    cache_dir: Optional[Path] = typer.Option(None, help="--suite: folder of the downloaded data wheels"),
    candidates: str = typer.Option(
        "ensemble,forest,boosting", help="--suite: the models compared, comma-separated, of "
        "ensemble,forest,boosting,attention,forest_median (attention gets each task's elements)"
    ),
    weighted: bool = typer.Option(
        False, help="--suite: the selection also scores weighted means of the candidates (greedy ensemble "
        "selection on their out-of-fold predictions)"
    ),
) -> None:
    """Deep ensemble vs random forest on one fixed, seeded 80/20 split by formula; with
    --suite, the per-target model selection across data sets and splits (issue 16)."""
    import sys

    from evodesign.benchmarks.surrogate import format_surrogate_table, run_surrogate_benchmark

    _check_json_target(json_path, overwrite)
    if suite or quick:
        _surrogate_suite(tasks, splits, seed, cv_rows, cv_folds, max_rows, threads, cache_dir, quick, json_path,
                         candidates, weighted)
        return
    names = [t.strip() for t in targets.split(",") if t.strip()]
    params: dict[str, Any] = {}
    if ensemble:
        params = _json_object("--ensemble", ensemble)
        from evodesign.surrogates import DeepEnsembleRegressor

        valid = set(DeepEnsembleRegressor().get_params()) - {"random_state"}
        unknown = sorted(set(params) - valid)
        if unknown:
            fail(f"--ensemble: unknown setting(s) {unknown}; valid: {sorted(valid)}")
        if "hidden_layer_sizes" in params:
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    result = run_surrogate_benchmark(dataset, names, seed=seed, max_rows=max_rows, ensemble_params=params,
                                     joint=joint)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    say(format_surrogate_table(result))
    _write_json(json_path, result)


def _surrogate_suite(tasks: str | None, splits: int, seed: int, cv_rows: int, cv_folds: int, max_rows: int | None,
                     threads: int, cache_dir: Path | None, quick: bool, json_path: Path | None,
                     candidates: str, weighted: bool = False) -> None:
    import sys

    from evodesign.benchmarks.surrogate_suite import DEFAULT_TASKS, QUICK, format_suite_table, run_surrogate_suite
    from evodesign.surrogates.selection import CANDIDATES

    names = [c.strip() for c in candidates.split(",") if c.strip()]
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown or not names:
        fail(f"--candidates: {'unknown ' + ', '.join(map(repr, unknown)) if unknown else 'none given'}; "
             f"valid: {','.join(CANDIDATES)}")

    pairs = list(DEFAULT_TASKS)
    if tasks:
        pairs = []
        for item in (t.strip() for t in tasks.split(",") if t.strip()):
            if item.count(":") != 1:
                fail(f"--tasks: {item!r} is not dataset:target (e.g. expt_gap:band_gap)")
            pairs.append(tuple(item.split(":")))
    options: dict[str, Any] = {"n_splits": splits, "cv_rows": cv_rows, "cv_folds": cv_folds, "max_rows": max_rows,
                               "candidates": tuple(names), "weighted": weighted}
    if quick:
        options.update(QUICK)
    result = run_surrogate_suite(pairs, seed=seed, threads=threads, cache_dir=cache_dir, json_path=json_path,
                                 **options)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    say(format_suite_table(result))
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
    say(format_operators_table(result))
    _write_json(json_path, result)


@bench_app.command("overhead")
def bench_overhead(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    pop_sizes: str = typer.Option("100,1000,5000", help="comma-separated population sizes"),
    n_gen: int = typer.Option(10, help="generations timed per population size"),
    seed: int = typer.Option(0, help="seed of the populations and the operators"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
    model: Optional[Path] = typer.Option(
        None, help="time the learned arms with this saved generative model (its .json sidecar, "
        "e.g. a campaign's cached generators) instead of one trained for seconds"
    ),
) -> None:
    """NSGA-II time per generation excluding fitness: ours vs plain pymoo, same run."""
    import sys

    from evodesign.benchmarks.overhead import format_overhead_table, run_overhead_benchmark

    _check_json_target(json_path, overwrite)
    sizes = tuple(int(p) for p in pop_sizes.split(",") if p.strip())
    result = run_overhead_benchmark(pop_sizes=sizes, n_gen=n_gen, seed=seed, model_path=model)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    say(format_overhead_table(result))
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
        fail(str(err))
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
    say(format_constraints_table(result))
    _write_json(json_path, result)


@bench_app.command("solver")
def bench_solver(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    n_images: int = typer.Option(1000, help="random images for the bounds checks"),
    size: int = typer.Option(64, help="image side in pixels"),
    seed: int = typer.Option(0, help="seed of the images"),
    n_timing: int = typer.Option(100, help="images timed against spsolve"),
    rounds: int = typer.Option(5, help="interleaved timing rounds (the median counts)"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Conductivity solver: laminates exact, Wiener/Hashin-Shtrikman bounds, speed vs spsolve."""
    import sys

    from evodesign.benchmarks.solver import format_solver_table, run_solver_benchmark

    _check_json_target(json_path, overwrite)
    try:
        result = run_solver_benchmark(n_images=n_images, size=size, seed=seed, n_timing=n_timing, rounds=rounds)
    except ValueError as err:
        fail(str(err))
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    say(format_solver_table(result))
    _write_json(json_path, result)


@bench_app.command("microstructure")
def bench_microstructure(
    json_path: Optional[Path] = typer.Option(
        None, "--json", help="write the result here (figures next to it)"
    ),
    quick: bool = typer.Option(False, help="seconds: 32 px, small library, tiny budgets, 2 seeds"),
    config: Path = typer.Option(Path("runs/microstructure.toml"), help="the campaign benchmarked"),
    seeds: Optional[int] = typer.Option(None, help="seeds per arm (full: 5, quick: 2)"),
    pop_size: Optional[int] = typer.Option(None, help="population (full: 100, quick: 12)"),
    n_gen: Optional[int] = typer.Option(None, help="generations (full: 60, quick: 4)"),
    size: Optional[int] = typer.Option(None, help="image side in pixels (full: 64, quick: 32)"),
    n_images: Optional[int] = typer.Option(None, help="library images (full: 20,000, quick: 240)"),
    seed: int = typer.Option(0, help="benchmark seed; seed i uses its i-th child"),
    arms: Optional[str] = typer.Option(
        None, help="comma-separated subset of the arms (learned always runs)"
    ),
    out: Path = typer.Option(
        Path("runs/output/bench-microstructure"), help="the cached generative model"
    ),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Learned operators vs SBX/PM on pixels, family + parameters, GAN screening, the
    library and SBX/PM on the VAE latent, at equal solver-call budgets (the solver is exact)."""
    import sys

    from evodesign.benchmarks.microstructure import (
        format_microstructure_table,
        plot_microstructure,
        run_microstructure_benchmark,
    )

    _check_json_target(json_path, overwrite)
    chosen = None if arms is None else [a.strip() for a in arms.split(",") if a.strip()]
    try:
        result = run_microstructure_benchmark(
            config, quick=quick, seed=seed, out=out, arms=chosen, n_seeds=seeds,
            pop_size=pop_size, n_gen=n_gen, size=size, n_images=n_images,
        )
    except (EvodesignError, ValueError) as err:
        fail(str(err))
    best_images = result.pop("_best_images")
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    if json_path is not None:
        prefix = json_path.with_suffix("")
        result["figures"] = [p.name for p in plot_microstructure(result, best_images, prefix)]
    print(format_microstructure_table(result))  # plain print: the table is wider than a terminal
    _write_json(json_path, result)


@bench_app.command("loop")
def bench_loop(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here (the HV plot next to it)"),
    quick: bool = typer.Option(False, help="tiny sizes, 2 seeds: a smoke run"),
    spaces: Optional[str] = typer.Option(None, help="comma-separated subset of microstructure,composition"),
    seeds: Optional[int] = typer.Option(None, help="seeds per arm (full: 5, quick: 2)"),
    rounds: Optional[int] = typer.Option(None, help="loop rounds R in every space (full: 5)"),
    batch: Optional[int] = typer.Option(None, help="designs measured per round B (full: 20)"),
    random_factor: Optional[int] = typer.Option(None, help="random acquisition draws this many times B x R (full: 20)"),
    pop_size: Optional[int] = typer.Option(
        None, help="population of every search, at least the batch (full: 40 microstructure, 100 composition)"
    ),
    arms: Optional[str] = typer.Option(
        None, help="comma-separated arms (default the protocol's adaptive,fixed,classical,one_shot,random; "
        "also adaptive_measured: generators fine-tuned between rounds on the measured designs)"
    ),
    seed: int = typer.Option(0, help="benchmark seed; seed i of every arm uses its i-th child"),
    out: Path = typer.Option(Path("runs/output/bench-loop"), help="loop folders (resumed by a rerun), split, oracle"),
    cache: Optional[Path] = typer.Option(None, help="trained models (default: OUT/models)"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Closed loop vs SBX/PM loop, one-shot search and random acquisition at equal lab
    budgets, in both spaces: HV vs evaluations, acceleration and enhancement factors."""
    import sys

    from evodesign.benchmarks.loop import format_loop_table, plot_loop, run_loop_benchmark

    _check_json_target(json_path, overwrite)
    chosen = None if spaces is None else [a.strip() for a in spaces.split(",") if a.strip()]
    extra = {} if arms is None else {"arms": [a.strip() for a in arms.split(",") if a.strip()]}
    try:
        result = run_loop_benchmark(quick=quick, seed=seed, out=out, cache_dir=cache, spaces=chosen, n_seeds=seeds,
                                    rounds=rounds, batch=batch, random_factor=random_factor, pop_size=pop_size,
                                    **extra)
    except (EvodesignError, ValueError) as err:
        fail(str(err))
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    if json_path is not None:
        result["figures"] = [plot_loop(result, json_path.with_name(json_path.stem + "_hv.png")).name]
    print(format_loop_table(result))  # plain print: the table is wider than a terminal
    _write_json(json_path, result)


@bench_app.command("image-generators")
def bench_image_generators(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write the result here"),
    model: Optional[Path] = typer.Option(
        None, help="generators sidecar (default: the newest microstructure generators in the model cache)"
    ),
    n_eval: int = typer.Option(2000, help="held-out images evaluated and samples drawn per source"),
    seed: int = typer.Option(0, help="seed of the hold-out split and the samples"),
    holdout: float = typer.Option(0.1, help="share of the library the split model never sees"),
    split: bool = typer.Option(True, help="also train (or load) a model on the rest of the library"),
    split_model: Optional[Path] = typer.Option(None, help="where the split model is saved / loaded from"),
    figure: Optional[Path] = typer.Option(None, help="PNG: reconstructions, samples, S2(r), filler fractions"),
    overwrite: bool = typer.Option(False, help="replace an existing --json file"),
) -> None:
    """Image generators on the microstructure library: reconstruction (pixels, k_xx/k_yy by
    the solver) and realism of GAN samples (filler fraction, S2(r), percolation)."""
    import sys

    from evodesign.benchmarks.image_generators import format_image_generator_table, run_image_generator_benchmark

    _check_json_target(json_path, overwrite)
    try:
        result = run_image_generator_benchmark(
            model_path=model, n_eval=n_eval, seed=seed, holdout=holdout, train_split=split,
            split_model_path=split_model, figure=figure,
        )
    except (EvodesignError, ValueError) as err:
        fail(str(err))
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    print(format_image_generator_table(result))
    _write_json(json_path, result)


@bench_app.command("report")
def bench_report(
    results: Path = typer.Option(Path("docs/benchmarks"), help="folder of benchmark JSON files"),
    out: Path = typer.Option(Path("docs/benchmarks.md"), help="the Markdown file to write"),
) -> None:
    """Regenerate docs/benchmarks.md from the benchmark JSON files."""
    from evodesign.benchmarks.report import write_report

    write_report(results, out)
    say(f"wrote {out}")


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
    result = run_verify_calibration(out, formulas=formulas, n_jobs=n_jobs, seed=seed, progress=say)
    result["command"] = " ".join(["evodesign", *sys.argv[1:]])
    print(format_verify_table(result))
    _write_json(json_path, result)


