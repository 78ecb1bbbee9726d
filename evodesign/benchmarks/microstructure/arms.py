"""The arms of ``evodesign bench microstructure``; each returns the same dict.

``front_values`` `(n, n_obj)` and ``front_images`` `(n, H, W)` of the feasible non-dominated
designs solved within the budget, ``curve`` (``[n_evaluations, oracle_hv]`` per
generation), ``n_evaluations`` (solves scored), ``feasible_fraction`` (of those) and
``search_s``.

* (a) ``learned``: the engine's NSGA-II (:func:`~evodesign.campaign.assembly.build_algorithm`
  with ``[search] operators = "learned"``: latent interpolation crossover + GAN mutation,
  latent codes kept by the mating, repair, hash dedup), first generation from the library;
* (b) ``pixel``: the same builder with ``operators = "classical"`` (SBX + PM on pixels, the
  same repair and dedup), the same first generation (same seed);
* (c) ``family``: NSGA-II (SBX/PM, the campaign's probabilities) over one gene vector in
  [0, 1]: the family (the first gene cut into 7 equal bins), its parameters (scaled to their
  bounds; genes a family does not use are ignored) and a placement seed; rendered by the
  library's generator, then the same repair; first generation: library images' own
  families and parameters with random placement seeds (one mixed-variable run);
* (d) ``screen``: latent GAN samples decoded and repaired, ``pop_size`` at a time;
* (e) ``library``: the library's feasible non-dominated images from their labels (no solve);
* (f) ``latent``: NSGA-II (pymoo's SBX/PM) on the VAE latent in ``[-bound, bound]``,
  decoded and repaired; first generation: the encoder means of the first generation of
  (a)/(b).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.benchmarks.microstructure.budget import BudgetProblem, Front, run_generations

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.models import CampaignModels

__all__ = ["FamilyDecoder", "library_front", "run_arm"]


class FamilyDecoder:
    """Genes in [0, 1] -> the library generator's images -> repaired pixel vectors.

    Args:
        space: the microstructure space (size, repair).
    """

    def __init__(self, space: Any) -> None:
        from evodesign.datasets.microstructure_families import FAMILIES

        self.space = space
        self.names = list(FAMILIES)
        self.bounds = [FAMILIES[name].bounds for name in self.names]
        self.n_params = max(len(b) for b in self.bounds)
        #: family, parameters, placement seed
        self.n_genes = 1 + self.n_params + 1

    def family_index(self, genes: NDArray[np.float64]) -> NDArray[np.int64]:
        """`(n,)` family of each gene row."""
        return np.minimum((genes[:, 0] * len(self.names)).astype(np.int64), len(self.names) - 1)

    def images(self, genes: NDArray[np.float64]) -> NDArray[np.uint8]:
        """`(n, size, size)` rendered images (before the repair)."""
        from evodesign.datasets.microstructure_families import render

        genes = np.clip(np.asarray(genes, dtype=np.float64), 0.0, 1.0)
        size = self.space.size
        out = np.empty((len(genes), size, size), dtype=np.uint8)
        families = self.family_index(genes)
        seeds = (genes[:, -1] * (2**32 - 1)).astype(np.uint64)
        for i, (f, row) in enumerate(zip(families, genes)):
            lo, hi = self.bounds[f][:, 0], self.bounds[f][:, 1]
            params = lo + row[1 : 1 + len(lo)] * (hi - lo)
            # one call per image: each design owns its placement seed, so a gene vector
            # always renders the same image
            out[i] = render(self.names[f], params, size, np.random.default_rng(int(seeds[i])))
        return out

    def __call__(self, genes: NDArray[np.float64]) -> NDArray[np.float64]:
        """`(n, n_genes)` -> `(n, n_var)` repaired pixel vectors."""
        return self.space.encode(self.space.canonical(self.images(genes)))

    def genes_of(
        self, families: NDArray[np.str_], params: NDArray[np.float64], rng: np.random.Generator
    ) -> NDArray[np.float64]:
        """Genes of library rows (family names, NaN-padded parameters), fresh placement seeds."""
        genes = rng.random((len(families), self.n_genes))
        for i, (name, row) in enumerate(zip(families, params)):
            f = self.names.index(str(name))
            lo, hi = self.bounds[f][:, 0], self.bounds[f][:, 1]
            genes[i, 0] = (f + 0.5) / len(self.names)
            genes[i, 1 : 1 + len(lo)] = np.clip(
                (row[: len(lo)] - lo) / np.where(hi > lo, hi - lo, 1.0), 0, 1
            )
        return genes


def _result(problem: BudgetProblem, curve: list[list[float]], start: float) -> dict[str, Any]:
    front = problem.front
    size = problem.space.size
    return {
        "front_values": front.values,
        "front_images": (
            front.images if front.images is not None else np.zeros((0, size, size), np.uint8)
        ),
        "curve": curve,
        "n_evaluations": int(problem.n_logged),
        "feasible_fraction": (
            problem.n_feasible / problem.n_logged if problem.n_logged else float("nan")
        ),
        "search_s": time.perf_counter() - start,
    }


def _initial_vectors(
    models: CampaignModels, problem: Any, pop_size: int, seed: int
) -> NDArray[np.float64]:
    """The first generation of (a) and (b): what the engine's known sampling draws first
    with the run's seed (pymoo seeds its generator the same way)."""
    from evodesign.campaign.assembly import KnownSampling

    pop = KnownSampling(models.known.vectors).do(
        problem, pop_size, random_state=np.random.default_rng(seed)
    )
    return np.asarray(pop.get("X"), dtype=np.float64)


def run_arm(
    arm: str,
    config: CampaignConfig,
    models: CampaignModels,
    model: Any,
    model_path: str | None,
    library: Any,
    s: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """One arm for one seed.

    Args:
        arm: a key of :data:`~evodesign.benchmarks.microstructure.protocol.ARMS` but ``library``.
        config: the benchmarked campaign.
        models: its models (space, known designs, the solver).
        model: the trained generative model (:class:`operators.VAEGAN`).
        model_path: its saved sidecar (the learned operators load it by path).
        library: the microstructure library (family parameters for (c)).
        s: the benchmark's settings.
        seed: this seed's pymoo seed (every arm of one seed gets the same).
    """
    import torch
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM

    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.assembly import build_algorithm, build_problem
    from evodesign.search import HashDuplicateElimination
    from operators.training import torch_threads

    space, budget = models.space, int(s["pop_size"]) * int(s["n_gen"])
    pop_size = int(s["pop_size"])
    front = Front(list(config_objectives(config)), tuple(config.physics.conductivity))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ARM_KEYS[arm],)))
    start = time.perf_counter()
    with torch_threads(1):
        inner = build_problem(config, models)
        if arm in ("learned", "pixel"):
            data = config.to_toml_dict()
            data["search"]["operators"] = "learned" if arm == "learned" else "classical"
            own = CampaignConfig.from_dict(data)
            run_models = (
                dataclasses.replace(models, generators_path=model_path)
                if arm == "learned"
                else models
            )
            problem = BudgetProblem(inner, space, budget, front)
            return _result(
                problem, run_generations(build_algorithm(own, run_models), problem, seed), start
            )
        search = config.search
        if arm == "latent":
            bound = float(s["latent_bound"])
            Z0 = np.clip(
                model.encode(_initial_vectors(models, inner, pop_size, seed), refine=False),
                -bound,
                bound,
            )
            problem = BudgetProblem(
                inner,
                space,
                budget,
                front,
                decoder=lambda Z: space.repair(model.decode(Z)),
                n_var=model.latent_dim,
                xl=-bound,
                xu=bound,
            )
            dedup = HashDuplicateElimination(func=lambda pop: problem.decode(pop.get("X")))
            algorithm = NSGA2(pop_size=pop_size, sampling=Z0, eliminate_duplicates=dedup)
            return _result(problem, run_generations(algorithm, problem, seed), start)
        if arm == "family":
            decoder = FamilyDecoder(space)
            rows = rng.choice(
                len(library.family), size=pop_size, replace=pop_size > len(library.family)
            )
            genes0 = decoder.genes_of(library.family[rows], library.params[rows], rng)
            problem = BudgetProblem(
                inner, space, budget, front, decoder=decoder, n_var=decoder.n_genes, xl=0.0, xu=1.0
            )
            algorithm = NSGA2(
                pop_size=pop_size,
                sampling=genes0,
                crossover=SBX(prob=search.crossover_prob, eta=15),
                mutation=PM(prob=search.mutation_prob, eta=20),
                eliminate_duplicates=True,
            )
            return _result(problem, run_generations(algorithm, problem, seed), start)
        if arm == "screen":
            problem = BudgetProblem(inner, space, budget, front)
            generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
            curve: list[list[float]] = []
            stall = 0
            while not problem.spent and stall < 10:
                before = problem.n_solved
                problem.evaluate(
                    space.repair(model.sample(pop_size, "gan", generator)),
                    return_as_dictionary=True,
                )
                curve.append([problem.n_logged, front.hypervolume()])
                stall = stall + 1 if problem.n_solved == before else 0
            return _result(problem, curve, start)
    raise ValueError(f"unknown arm {arm!r}")


#: each arm's own stream of random numbers within a seed (placement seeds, GAN samples)
ARM_KEYS = {"learned": 0, "pixel": 1, "family": 2, "screen": 3, "library": 4, "latent": 5}


def config_objectives(config: CampaignConfig) -> list[Any]:
    """The campaign's objectives (as the problem orders them)."""
    from evodesign.campaign.assembly import build_objectives

    return build_objectives(config)


def library_front(config: CampaignConfig, models: CampaignModels, library: Any) -> dict[str, Any]:
    """Arm (e): the library images that fit the space and meet the campaign's percolation
    and filler-fraction rules, non-dominated by their labels (no solver call; novelty does
    not apply: they are the library)."""
    from evodesign.properties.microstructure import percolates

    start = time.perf_counter()
    space = models.space
    images = np.asarray(library.images, dtype=np.uint8)
    ok = (space.canonical(images) == images).all(axis=(1, 2))
    for axis in config.space.percolation:
        ok &= percolates(images, phase=1, axis=axis)
    low, high = config.space.volume_fraction
    vf = np.asarray(library.volume_fraction, dtype=np.float64)
    ok &= (vf >= low) & (vf <= high)
    columns = {"k_xx": library.k_xx, "k_yy": library.k_yy, "volume_fraction": vf}
    objectives = config_objectives(config)
    values = np.column_stack([np.asarray(columns[o.name], dtype=np.float64) for o in objectives])
    front = Front(objectives, tuple(config.physics.conductivity))
    rows = np.flatnonzero(ok)
    front.add(values[rows], images[rows], [k.tobytes() for k in space.ids(images[rows])])
    return {
        "front_values": front.values,
        "front_images": (
            front.images
            if front.images is not None
            else np.zeros((0,) + images.shape[1:], np.uint8)
        ),
        "curve": [],
        "n_evaluations": 0,
        "feasible_fraction": float(ok.mean()),
        "search_s": time.perf_counter() - start,
        "n_feasible_library": int(ok.sum()),
    }
