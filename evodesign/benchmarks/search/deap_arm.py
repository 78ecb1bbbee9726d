"""Cross-check of arm (a) in ``evodesign bench search``: DEAP's NSGA-II with the learned operators.

The same learned latent-interpolation crossover and GAN mutation as arm (a), registered as
DEAP toolbox functions (:func:`operators.mate`, :func:`operators.mutate`, validity-guided
like the campaign's ``guided = true``), in a textbook DEAP NSGA-II loop:
DEAP's dominance-and-crowding tournament (``tools.selTournamentDCD``, re-implemented to
draw from the run's numpy Generator instead of the global ``random`` module) for mating and
``tools.selNSGA2`` for survival (as ``runs/deap_nsga2.py``). Children are snapped to their integer formula with the campaign's
repair and scored by the campaign's problem, every distinct formula once (the budget counts
distinct formulas, as in the pymoo arms); a child that repeats a formula of the population
or of its siblings is dropped, as pymoo's duplicate elimination drops it. DEAP has no
constraints, so an infeasible design gets a graded death penalty: every objective becomes
``1e9 + total violation`` (feasible designs always dominate infeasible ones).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from evodesign.campaign import Campaign

__all__ = ["run_deap_nsga2"]

_PENALTY = 1e9


def _tournament_dcd(individuals: list, k: int, rng: np.random.Generator) -> list:
    """DEAP's ``selTournamentDCD`` with ``rng``: binary tournaments on dominance, then
    crowding distance, then a coin; ``k`` and ``len(individuals)`` multiples of 4, ``k <= n``."""

    def duel(a: Any, b: Any) -> Any:
        if a.fitness.dominates(b.fitness):
            return a
        if b.fitness.dominates(a.fitness):
            return b
        if a.fitness.crowding_dist != b.fitness.crowding_dist:
            return a if a.fitness.crowding_dist > b.fitness.crowding_dist else b
        return a if rng.random() <= 0.5 else b

    n = len(individuals)
    first = [individuals[i] for i in rng.permutation(n)]
    second = [individuals[i] for i in rng.permutation(n)]
    chosen = []
    for i in range(0, k, 4):
        for order in (first, second):
            chosen.append(duel(order[i], order[i + 1]))
            chosen.append(duel(order[i + 2], order[i + 3]))
    return chosen


def run_deap_nsga2(
    campaign: Campaign, seed: int, index: int, budget: int, *, pop_size: int | None = None, mix: float = 0.5,
    max_stall: int = 20,
) -> dict[str, Any]:
    """Run DEAP's NSGA-II with the learned operators for ``budget`` evaluations.

    Args:
        campaign: a prepared campaign (generators, surrogate, constraints, repair, search options).
        seed / index: campaign seed and run index; all randomness comes from
            ``SeedSequence(seed, spawn_key=(index, 2))``.
        budget: surrogate evaluations (distinct formulas).
        pop_size: population, a multiple of 4 (default: the campaign's).
        mix: share of GAN samples in the initial population (the rest: known compounds).
        max_stall: stop after this many generations in a row without a new evaluation.

    Returns:
        The same dict as :func:`evodesign.benchmarks.search.latent_ga.run_latent_ga`.
    """
    import torch
    from deap import base, creator, tools

    from evodesign.chemistry import ValidityFilter
    from operators.training import torch_threads
    from evodesign.search import SpaceRepair, formula_keys
    from operators import load_generative_model, mate, mutate

    models = campaign.prepare("run")
    space, s = models.space, campaign.config.search
    pop_size = int(pop_size or s.pop_size)
    if pop_size % 4:
        raise ValueError(f"DEAP's selTournamentDCD needs a population that is a multiple of 4, got {pop_size}")
    n_obj = len(campaign.objectives)
    name = f"EvodesignBenchFitness{n_obj}"
    if not hasattr(creator, name):
        creator.create(name, base.Fitness, weights=(-1.0,) * n_obj)
        creator.create(f"EvodesignBenchIndividual{n_obj}", list, fitness=getattr(creator, name))
    Individual = getattr(creator, f"EvodesignBenchIndividual{n_obj}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, 2)))
    start = time.perf_counter()
    with torch_threads(1):
        model = load_generative_model(models.generators_path)
        repair = SpaceRepair(space, check=campaign.repair_check())
        problem = campaign.problem()
        mode = "cdvae" if campaign.config.constraints.charge_balance == "cdvae" else "strict"
        share = campaign.config.constraints.oxidation_state_min_share
        accept = ValidityFilter(space, mode=mode, repair=s.repair, min_state_share=share) if s.guided else None
        cache: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

        def evaluate(inds: list) -> None:
            """Repair in place (Lamarckian, as the pymoo arms) and set fitnesses."""
            if not inds:
                return
            X = repair.do(None, np.asarray(inds, dtype=np.float64))
            keys = [k.tobytes() for k in formula_keys(X)]
            new = list({k: i for i, k in reversed(list(enumerate(keys))) if k not in cache}.values())
            if new:
                out = problem.evaluate(X[new], return_as_dictionary=True)
                for j, i in enumerate(new):
                    cache[keys[i]] = (out["F"][j], out["G"][j], out["values"][j])
            for ind, x, k in zip(inds, X, keys):
                ind[:] = x.tolist()
                F, G, _ = cache[k]
                violation = float(np.maximum(G, 0.0).sum())
                ind.fitness.values = tuple(F) if violation <= 0 else (_PENALTY + violation,) * n_obj
                ind.key = k

        n_gan = int(round(mix * pop_size))
        generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        X0 = np.vstack([
            model.sample(n_gan, "gan" if model.gan is not None else "vae", generator),
            models.known.vectors[rng.choice(len(models.known.vectors), size=pop_size - n_gan, replace=False)],
        ])
        pop = [Individual(x.tolist()) for x in X0]
        evaluate(pop)
        pop = list({ind.key: ind for ind in reversed(pop)}.values())  # one per formula
        for _ in range(10):  # top up with known compounds
            if len(pop) >= pop_size:
                break
            extra = [Individual(x.tolist()) for x in models.known.vectors[rng.choice(len(models.known.vectors), size=pop_size - len(pop), replace=False)]]
            evaluate(extra)
            keys = {ind.key for ind in pop}
            pop += list({ind.key: ind for ind in reversed(extra) if ind.key not in keys}.values())
        pop = tools.selNSGA2(pop, min(pop_size, len(pop) - len(pop) % 4))  # assigns the crowding distance DCD needs
        trajectory, stall, last = [], 0, -1

        def record() -> None:
            feasible = [ind for ind in pop if ind.fitness.values[0] < _PENALTY]
            front = tools.sortNondominated(feasible, len(feasible), first_front_only=True)[0] if feasible else []
            X = np.asarray(front, dtype=np.float64).reshape(len(front), space.n_var)
            trajectory.append({
                "n_eval": int(problem.n_evaluated),
                "formulas": space.formulas(space.decode(X)) if len(front) else [],
                "values": np.array([cache[ind.key][2] for ind in front]).reshape(len(front), n_obj),
            })

        record()
        while problem.n_evaluated < budget and stall < max_stall:
            offspring = [Individual(list(ind)) for ind in _tournament_dcd(pop, len(pop), rng)]
            for a, b in zip(offspring[::2], offspring[1::2]):
                if rng.random() < s.crossover_prob:
                    mate(a, b, model=model, rng=rng, method=s.interpolation, accept=accept, max_tries=s.max_tries,
                         extrapolation=s.extrapolation)
                for ind in (a, b):
                    if rng.random() < s.mutation_prob:
                        mutate(ind, model=model, rng=rng, strength=s.mutation_strength, accept=accept,
                               max_tries=s.max_tries, direction=s.mutation_direction)
            evaluate(offspring)
            seen = {ind.key for ind in pop}
            fresh = []
            for ind in offspring:
                if ind.key not in seen:
                    seen.add(ind.key)
                    fresh.append(ind)
            pop = tools.selNSGA2(pop + fresh, len(pop))
            record()
            stall = stall + 1 if problem.n_evaluated == last else 0
            last = problem.n_evaluated
    final = trajectory[-1]
    return {
        "formulas": list(final["formulas"]),
        "values": final["values"],
        "trajectory": trajectory,
        "n_evaluations": int(problem.n_evaluated),
        "feasible_fraction": problem.n_feasible / problem.n_evaluated if problem.n_evaluated else float("nan"),
        "n_generations": len(trajectory),
        "search_s": time.perf_counter() - start,
    }
