"""DEAP NSGA-II with the learned operators as ``mate`` and ``mutate`` (an example run).

The learned crossover (latent slerp) and GAN mutation of :mod:`operators` are registered
in a DEAP toolbox (:mod:`operators.deap_tools`), validity-guided by
:class:`evodesign.chemistry.ValidityFilter` (a child whose formula fails SMACT, or equals a
parent's, is redrawn up to ``--max-tries`` times), and a textbook NSGA-II loop runs with
``tools.selTournamentDCD`` for mating and ``tools.selNSGA2`` for survival.

Objectives (toy but real, computed from the decoded integer formula in microseconds):

1. maximise the mean atomic mass per atom (heavy atoms scatter phonons: low lattice
   thermal conductivity, the thermoelectric designer's first rule of thumb);
2. maximise the Pauling electronegativity spread (largest minus smallest of the formula's
   elements: ionic bonding, a wider band gap).

Heavy compounds tend to be covalent (Bi2Te3) and strongly ionic ones light (LiF), so the two
pull apart. A formula that fails the strict SMACT test gets the worst fitness (a death
penalty). Run:

    .venv/bin/python runs/deap_nsga2.py                      # trains tiny generators first
    .venv/bin/python runs/deap_nsga2.py --model runs/output/models/generators-transport

A DEAP individual is a list of element fractions; the operators draw all their random
numbers from one seeded numpy Generator, so a run is a function of ``--seed``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from deap import base, creator, tools
from operators import mate, mutate
from pymatgen.core import Element

from evodesign.representation import KnownDesigns
from evodesign.chemistry import SmactValidity, ValidityFilter
from evodesign.datasets import load_dataset
from evodesign.generators import load_generators, train_generators, training_vectors
from evodesign.representation import CompositionSpace

if not hasattr(creator, "EvodesignFitness"):
    creator.create("EvodesignFitness", base.Fitness, weights=(1.0, 1.0))
if not hasattr(creator, "EvodesignIndividual"):
    creator.create("EvodesignIndividual", list, fitness=creator.EvodesignFitness)

WORST = (0.0, 0.0)


class Objectives:
    """Mean atomic mass and electronegativity spread of decoded formulas (both maximised).

    Args:
        space: the composition space.
    """

    def __init__(self, space: CompositionSpace) -> None:
        self.space = space
        self.mass = np.array([float(Element(e).atomic_mass) for e in space.elements])
        eneg = [Element(e).X for e in space.elements]
        self.eneg = np.array([x if np.isfinite(x) else np.nan for x in eneg])
        self.valid = SmactValidity(space.elements)

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(n, n_var)` vectors -> `(n, 2)` objectives and `(n,)` strict validity."""
        counts = self.space.decode(X)
        frac = self.space.fractions(counts)
        present = counts > 0
        mass = frac @ self.mass
        en = np.where(present, self.eneg, np.nan)
        spread = np.nanmax(en, axis=1) - np.nanmin(en, axis=1)
        F = np.column_stack([mass, np.nan_to_num(spread, nan=0.0)])
        return F, self.valid(counts) & np.isfinite(F).all(axis=1)


def _generators(args: argparse.Namespace, space: CompositionSpace):
    if args.model:
        return load_generators(args.model, space)
    model, _ = train_generators(
        "transport", None, seed=args.seed, max_rows=args.train_rows,
        vae_options={"max_epochs": args.epochs, "sharpen_epochs": max(1, args.epochs // 2)},
        gan_options={"n_steps": args.gan_steps}, progress=args.progress,
    )
    return model


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the loop; returns the final population's formulas, objectives and the log."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="saved generators (path without suffix); else train")
    parser.add_argument("--pop", type=int, default=48, help="population size (multiple of 4)")
    parser.add_argument("--gens", type=int, default=15, help="generations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strength", type=float, default=0.3, help="GAN mutation strength")
    parser.add_argument("--mutpb", type=float, default=0.5, help="mutation probability")
    parser.add_argument("--max-tries", type=int, default=4, help="draws per child (guided)")
    parser.add_argument("--unguided", action="store_true", help="no validity-guided redraws")
    parser.add_argument("--train-rows", type=int, default=4000, help="rows to train on")
    parser.add_argument("--epochs", type=int, default=40, help="VAE epochs when training")
    parser.add_argument("--gan-steps", type=int, default=400, help="GAN steps when training")
    parser.add_argument("--progress", action="store_true", help="show training progress")
    args = parser.parse_args(argv)
    if args.pop % 4:
        parser.error("--pop must be a multiple of 4 (selTournamentDCD)")

    start = time.perf_counter()
    data = load_dataset("transport")
    space = CompositionSpace(data.elements, max_atoms=20, max_elements=4)
    model = _generators(args, space)
    objectives = Objectives(space)
    accept = None if args.unguided else ValidityFilter(space, repair=False)
    rng = np.random.default_rng(np.random.SeedSequence(args.seed))

    toolbox = base.Toolbox()
    toolbox.register("mate", mate, model=model, rng=rng, accept=accept, max_tries=args.max_tries)
    toolbox.register(
        "mutate", mutate, model=model, rng=rng, strength=args.strength, accept=accept,
        max_tries=args.max_tries,
    )
    toolbox.register("select", tools.selNSGA2)

    def evaluate(pop: list) -> None:
        todo = [ind for ind in pop if not ind.fitness.valid]
        if not todo:
            return
        F, ok = objectives(np.asarray(todo, dtype=np.float64))
        for ind, f, good in zip(todo, F, ok):
            ind.fitness.values = tuple(f) if good else WORST

    # initial population: known valid compositions (the generators' own training set)
    known = KnownDesigns.from_vectors(space, space.to_vectors(data.compositions))
    X, _ = training_vectors(known, space, strict_valid=True)
    rows = rng.choice(len(X), size=args.pop, replace=False)
    pop = [creator.EvodesignIndividual(x.tolist()) for x in X[rows]]
    evaluate(pop)
    pop = toolbox.select(pop, args.pop)  # assigns the crowding distance DCD needs

    log = []
    print(f"{'gen':>3} {'valid':>6} {'unique':>6} {'front':>5} {'max mass':>9} {'max dEN':>8}")
    for gen in range(1, args.gens + 1):
        offspring = [toolbox.clone(ind) for ind in tools.selTournamentDCD(pop, args.pop)]
        for a, b in zip(offspring[::2], offspring[1::2]):
            toolbox.mate(a, b)
            for ind in (a, b):
                if rng.random() < args.mutpb:
                    toolbox.mutate(ind)
            del a.fitness.values, b.fitness.values
        evaluate(offspring)
        pop = toolbox.select(pop + offspring, args.pop)
        F = np.array([ind.fitness.values for ind in pop])
        formulas = space.formulas(space.decode(np.asarray(pop, dtype=np.float64)))
        valid_child = np.mean([ind.fitness.values != WORST for ind in offspring])
        front = tools.sortNondominated(pop, len(pop), first_front_only=True)[0]
        entry = {
            "gen": gen, "offspring_valid": float(valid_child),
            "unique": len(set(formulas)), "front": len(front),
            "max_mass": float(F[:, 0].max()), "max_spread": float(F[:, 1].max()),
        }
        log.append(entry)
        print(f"{gen:>3} {valid_child:>6.2f} {entry['unique']:>6} {entry['front']:>5} "
              f"{entry['max_mass']:>9.1f} {entry['max_spread']:>8.2f}")

    front = tools.sortNondominated(pop, len(pop), first_front_only=True)[0]
    front_X = np.asarray(front, dtype=np.float64)
    names = space.formulas(space.decode(front_X))
    order = np.argsort([ind.fitness.values[0] for ind in front])
    print(f"final front ({len(front)} individuals, {len(set(names))} formulas):")
    seen = set()
    for i in order:
        if names[i] in seen:
            continue
        seen.add(names[i])
        mass, spread = front[i].fitness.values
        print(f"  {names[i]:14s} mean mass {mass:7.2f}  EN spread {spread:.2f}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return {
        "formulas": space.formulas(space.decode(np.asarray(pop, dtype=np.float64))),
        "F": np.array([ind.fitness.values for ind in pop]),
        "front": sorted(seen),
        "log": log,
    }


if __name__ == "__main__":
    main()
