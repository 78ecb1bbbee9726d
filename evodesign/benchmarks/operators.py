"""``evodesign bench operators``: are learned offspring valid, unique and novel?

Protocol: the data set's SMACT strict-valid compositions that the space can represent
exactly are split by formula (seeded); the VAE + latent GAN are trained on the training part
only, and parents are drawn from the held-out part. Every arm produces the same number of
offspring from the same parents and is decoded by the same :meth:`CompositionSpace.decode`;
each arm is reported without and with the decode-time SMACT repair.

Arms: learned crossover (latent slerp; ``crossover``), GAN mutation, SBX + polynomial
mutation (SBX eta 15 on every pair, PM eta 20 on every child), random 2-4 element
compositions, and plain samples of the GAN and of the VAE prior. The ``*_guided`` arms are
the crossover, the GAN mutation and SBX + PM with validity-guided redrawing
(:mod:`operators.acceptance`): a child whose decoded formula fails SMACT (strict) or equals
a parent's is redrawn -- new ``t``, new GAN target, new SBX + PM random numbers -- up to
``max_tries`` draws in all, with the same :class:`~evodesign.chemistry.ValidityFilter` for
all three. The ``plain`` row of a guided arm filters and decodes without repair, the
``repair`` row with it; the filter starts with an empty cache in every row, and its cost is
part of the offspring per second.

Metrics: strict and CDVAE-style SMACT validity, uniqueness (over all offspring of the arm),
novelty (reduced formula not among the training compositions), mean number of elements,
mean L1 distance from a child to its nearest parent (fractions), and offspring per second
(operator + decoding). Plus the VAE's exact-formula reconstruction of held-out compounds,
with the model's encoding refinement and with the encoder's mean alone.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np
import torch

__all__ = ["MAX_ATOMS", "MAX_ELEMENTS", "format_operators_table", "run_operators_benchmark"]

#: the space of the protocol (the report's text states these limits): the default
#: campaign's, written out so that the benchmark does not move when a default does
MAX_ATOMS, MAX_ELEMENTS = 20, 4


def _metrics(space, valid, counts, parents_X, train_ids, seconds) -> dict[str, float]:
    ids = space.row_ids(counts)
    frac = space.fractions(counts)
    out = {
        "strict_validity": float(valid(counts).mean()),
        "cdvae_validity": float(valid(counts, include_alloys=True).mean()),
        "uniqueness": float(len(np.unique(ids)) / len(ids)),
        "novelty": float((~np.isin(ids, train_ids)).mean()),
        "mean_n_elements": float((counts > 0).sum(axis=1).mean()),
        "offspring_per_second": float(len(counts) / seconds),
    }
    if parents_X is not None:
        dist = np.min([np.abs(frac - P).sum(axis=1) for P in parents_X], axis=0)
        out["mean_parent_distance"] = float(dist.mean())
    return out


def _show(progress: bool, name: str, rows: dict[str, dict[str, float]]) -> None:
    if progress:
        for decoding, r in rows.items():
            print(f"  {name:20s} {decoding:6s} strict {r['strict_validity']:.3f}  "
                  f"unique {r['uniqueness']:.3f}  novel {r['novelty']:.3f}  "
                  f"{r['offspring_per_second']:,.0f}/s", flush=True)


def run_operators_benchmark(
    *args: Any, num_threads: int | None = 1, **kwargs: Any
) -> dict[str, Any]:
    """Train on a split, generate offspring per arm from held-out parents, score them.

    Arguments as :func:`_run_operators_benchmark`; ``num_threads``: torch intra-op threads
    for the whole run (training and operators; restored afterwards; ``None``: unchanged).
    One by default: the networks are small, and on a shared 2-core machine two threads
    were measured several times slower than one.
    """
    from operators.training import torch_threads

    with torch_threads(num_threads):
        return _run_operators_benchmark(*args, **kwargs)


def _run_operators_benchmark(
    dataset: str = "transport",
    n_offspring: int = 4000,
    seed: int = 0,
    held_out_fraction: float = 0.1,
    vae_options: dict[str, Any] | None = None,
    gan_options: dict[str, Any] | None = None,
    max_rows: int | None = None,
    strength: float = 0.3,
    max_tries: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Train on a split, generate offspring per arm from held-out parents, score them."""
    from operators import (
        fit_generative_model,
        guided_interpolation_children,
        guided_latent_step,
        interpolation_children,
        latent_step,
        redraw_rejected,
    )
    from operators.seeding import torch_generator
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM

    import evodesign
    from evodesign.representation import KnownDesigns
    from evodesign.chemistry import SmactValidity, ValidityFilter
    from evodesign.datasets import load_dataset
    from evodesign.generators import generator_metadata, training_vectors
    from evodesign.representation import CompositionSpace

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    data = load_dataset(dataset)
    space = CompositionSpace(data.elements, max_atoms=MAX_ATOMS, max_elements=MAX_ELEMENTS)
    valid = SmactValidity(space.elements)
    X, _ = training_vectors(KnownDesigns.from_vectors(space, space.to_vectors(data.compositions)), space, strict_valid=True)
    if max_rows is not None and max_rows < len(X):
        X = X[np.sort(rng.choice(len(X), size=max_rows, replace=False))]
    perm = rng.permutation(len(X))
    n_held = max(2, int(round(held_out_fraction * len(X))))
    held, train = X[perm[:n_held]], X[perm[n_held:]]
    train_ids = space.row_ids(space.decode(train))

    start = time.perf_counter()
    model, history = fit_generative_model(
        train, vae_options=vae_options, gan_options=gan_options,
        metadata=generator_metadata(space, dataset, train, True),
        random_state=rng, progress=progress,
    )
    train_seconds = time.perf_counter() - start

    truth = space.decode(held)
    reconstruction = {}
    for label, refine in (("refined", True), ("amortized", False)):
        rec = space.decode(model.reconstruct(held, refine=refine))
        exact = (rec == truth).all(axis=1)
        same_elements = ((rec > 0) == (truth > 0)).all(axis=1)
        reconstruction[label] = {
            "exact": float(exact.mean()),
            "wrong_elements": float((~same_elements).mean()),
            "wrong_stoichiometry": float((same_elements & ~exact).mean()),
        }
    reconstruction_exact = reconstruction["refined"]["exact"]

    n_pairs = n_offspring // 2
    a, b = rng.integers(len(held), size=(2, n_pairs))
    A, B = held[a], held[b]
    problem = Problem(n_var=space.n_var, xl=0.0, xu=1.0)
    torch_gen = torch_generator(rng)

    def crossover():
        t = rng.random(n_pairs)
        return interpolation_children(model, A, B, t).reshape(-1, space.n_var)

    def mutation():
        return latent_step(model, np.vstack([A, B]), strength, torch_gen, direction="toward")

    # SBX and PM through pymoo's public ``do``, with prob 1: every pair is crossed and every
    # child mutated (PM still picks each variable with prob 1 / n_var), so the arm measures
    # the operators themselves, not copies of the parents.
    parent_pop = Population.new("X", np.vstack([A, B]))  # pair i: rows i and n_pairs + i

    def sbx_pm(rows=None):
        """SBX + PM children of the slots ``rows`` (all by default; slot r: pair r % n)."""
        pairs = np.arange(n_pairs) if rows is None else rows % n_pairs
        matings = np.column_stack([pairs, pairs + n_pairs])
        off = SBX(prob=1.0, eta=15).do(problem, parent_pop, matings, random_state=rng).get("X")
        if rows is not None:  # a redraw: one mating per slot, keep the slot's own child
            off = off.reshape(2, len(rows), space.n_var)[rows // n_pairs, np.arange(len(rows))]
        return PM(prob=1.0, eta=20).do(problem, Population.new("X", off), random_state=rng).get("X")

    # guided arms: the filter is made inside the timed call, with an empty cache
    def crossover_guided(repair):
        accept = ValidityFilter(space, repair=repair)
        t = rng.random(n_pairs)
        Y = guided_interpolation_children(model, A, B, t, accept, rng, max_tries)
        return Y.reshape(-1, space.n_var)

    def mutation_guided(repair):
        accept = ValidityFilter(space, repair=repair)
        return guided_latent_step(model, np.vstack([A, B]), strength, torch_gen, accept, max_tries, direction="toward")

    def difference_guided(repair):
        """The campaign's default mutation (``[search]`` defaults: direction and strength)."""
        from evodesign.campaign import SearchSection

        defaults = SearchSection()
        accept = ValidityFilter(space, repair=repair)
        return guided_latent_step(model, np.vstack([A, B]), defaults.mutation_strength, torch_gen, accept,
                                  max_tries, direction=defaults.mutation_direction)

    def sbx_pm_guided(repair):
        accept = ValidityFilter(space, repair=repair)
        Y, _ = redraw_rejected(sbx_pm(), sbx_pm, accept, max_tries, parents=pair_parents)
        return Y

    def random_compositions():
        return space.random_vectors(n_offspring, rng, min_elements=2)

    # children are laid out (2, n_pairs): row i has parents A[i % n], B[i % n]
    pair_parents = [np.vstack([A, A]), np.vstack([B, B])]
    arms = {
        "crossover": (crossover, pair_parents),
        "gan_mutation": (mutation, [np.vstack([A, B])]),
        "sbx_pm": (sbx_pm, pair_parents),
        "random": (random_compositions, None),
        "gan_samples": (lambda: model.sample(n_offspring, "gan", torch_gen), None),
        "vae_samples": (lambda: model.sample(n_offspring, "vae", torch_gen), None),
    }
    guided_arms = {
        "crossover_guided": (crossover_guided, pair_parents),
        "gan_mutation_guided": (mutation_guided, [np.vstack([A, B])]),
        "sbx_pm_guided": (sbx_pm_guided, pair_parents),
        # last, so that the arms above keep their random draws
        "gan_mutation_difference_guided": (difference_guided, [np.vstack([A, B])]),
    }
    results: dict[str, Any] = {}
    for name, (make, parents) in arms.items():
        t0 = time.perf_counter()
        raw = make()
        t_make = time.perf_counter() - t0
        t0 = time.perf_counter()
        plain = space.decode(raw)
        t_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        repaired = space.decode(raw, check=valid)
        t_repair = time.perf_counter() - t0
        results[name] = {
            "plain": _metrics(space, valid, plain, parents, train_ids, t_make + t_plain),
            "repair": _metrics(space, valid, repaired, parents, train_ids, t_make + t_repair),
        }
        _show(progress, name, results[name])
    for name, (make, parents) in guided_arms.items():
        results[name] = {}
        for decoding, repair in (("plain", False), ("repair", True)):
            t0 = time.perf_counter()
            raw = make(repair)
            counts = space.decode(raw, check=valid if repair else None)
            seconds = time.perf_counter() - t0
            results[name][decoding] = _metrics(space, valid, counts, parents, train_ids, seconds)
        _show(progress, name, results[name])
    return {
        "benchmark": "operators",
        "dataset": dataset,
        "seed": seed,
        "n_offspring": int(n_pairs * 2),
        "n_train": int(len(train)),
        "n_held_out": int(len(held)),
        "mutation_strength": strength,
        "max_tries": max_tries,
        "reconstruction_exact": reconstruction_exact,
        "reconstruction": reconstruction,
        "refine_steps": model.refine_steps,
        "train_seconds": train_seconds,
        "vae_epochs": history.get("vae", {}).get("epochs") if isinstance(history, dict) else None,
        "results": results,
        "environment": {
            "evodesign": evodesign.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
    }


def format_operators_table(result: dict[str, Any]):  # -> rich.table.Table
    """A rich table: one row per arm and decoding."""
    from rich.table import Table

    amortized = result.get("reconstruction", {}).get("amortized", {}).get("exact")
    encoder = "" if amortized is None else f" (encoder mean alone {amortized:.3f})"
    table = Table(
        title=f"{result['n_offspring']} offspring per arm, held-out parents; "
        f"VAE exact reconstruction {result['reconstruction_exact']:.3f}{encoder}"
    )
    for col in ("arm", "decode", "strict", "cdvae", "uniq", "novel", "n_el", "dist", "per s"):
        table.add_column(col, justify="left" if col in ("arm", "decode") else "right", no_wrap=True)
    for arm, rows in result["results"].items():
        for decoding, r in rows.items():
            dist = f"{r['mean_parent_distance']:.3f}" if "mean_parent_distance" in r else "-"
            table.add_row(
                arm, decoding, f"{r['strict_validity']:.3f}", f"{r['cdvae_validity']:.3f}",
                f"{r['uniqueness']:.3f}", f"{r['novelty']:.3f}", f"{r['mean_n_elements']:.2f}",
                dist, f"{r['offspring_per_second']:,.0f}",
            )
    return table
