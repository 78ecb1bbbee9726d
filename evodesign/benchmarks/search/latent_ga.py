"""Arm (c) of ``evodesign bench search``: NSGA-II with SBX/PM on the VAE's latent vector.

The latent-space genetic algorithm of prior work (e.g. Gomez-Bombarelli et al. 2018 for
molecules): individuals are latent points ``z`` in a box ``[-bound, bound]^latent_dim``
(the VAE prior is N(0, I), so 3 covers it); pymoo's default SBX (eta 15, prob 0.9) and
polynomial mutation (eta 20) act on ``z``; a point is scored by decoding it with the
campaign's generators, snapping it to its integer formula with the campaign's repair
(:class:`~evodesign.search.SpaceRepair`, SMACT-preferring as configured) and evaluating
that formula with the campaign's :class:`~evodesign.problem.DesignProblem` -- the same
objectives, constraints and surrogate as the other arms.

Budget accounting matches the composition-space arms, which evaluate each new formula once
(duplicates are removed before evaluation): here every distinct formula is evaluated once
and cached, so many latent points that decode to one formula cost one evaluation; offspring
that decode to a formula already in the population are removed as duplicates (pymoo's
duplicate elimination on the decoded formulas). The search stops once the campaign problem
has made ``budget`` evaluations.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pymoo.core.problem import Problem

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign import Campaign
    from evodesign.problem import DesignProblem

__all__ = ["LatentProblem", "run_latent_ga"]


class LatentProblem(Problem):
    """A pymoo problem over latent points that scores their decoded, repaired formulas.

    Args:
        model: the campaign's :class:`~operators.GenerativeModel`.
        inner: the campaign's composition problem (counts every evaluation).
        repair: callable `(n, n_var)` vectors -> `(n, n_var)` exact formula fractions.
        bound: the box half-width of every latent coordinate.

    Individuals carry, besides F and G, ``"Xd"`` (the `(n_var,)` repaired composition) and
    ``"values"`` (natural objective values under the surrogate).
    """

    def __init__(
        self,
        model: Any,
        inner: DesignProblem,
        repair: Callable[[NDArray[np.float64]], NDArray[np.float64]],
        bound: float = 3.0,
    ) -> None:
        self.model = model
        self.inner = inner
        self.repair = repair
        self._cache: dict[bytes, tuple[NDArray, NDArray, NDArray]] = {}
        super().__init__(
            n_var=model.latent_dim,
            n_obj=inner.n_obj,
            n_ieq_constr=inner.n_ieq_constr,
            xl=-bound,
            xu=bound,
        )

    def decode(self, Z: NDArray[np.float64]) -> NDArray[np.float64]:
        """`(n, latent_dim)` points -> `(n, n_var)` repaired composition vectors."""
        Z = np.asarray(Z, dtype=np.float64).reshape(-1, self.n_var)
        if len(Z) == 0:
            return np.zeros((0, self.inner.n_var))
        return self.repair(self.model.decode(Z))

    def _evaluate(self, Z: NDArray[np.float64], out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Score `(n, latent_dim)` points: F `(n, n_obj)`, G `(n, n_constr)`, Xd, values."""
        from evodesign.search import formula_keys

        X = self.decode(Z)
        keys = [k.tobytes() for k in formula_keys(X)]
        new, seen = [], set()
        for i, k in enumerate(keys):
            if k not in self._cache and k not in seen:
                new.append(i)
                seen.add(k)
        if new:
            res = self.inner.evaluate(X[new], return_as_dictionary=True)
            for j, i in enumerate(new):
                self._cache[keys[i]] = (res["F"][j], res["G"][j], res["values"][j])
        rows = [self._cache[k] for k in keys]
        out["F"] = np.array([r[0] for r in rows]).reshape(len(X), self.n_obj)
        out["G"] = np.array([r[1] for r in rows]).reshape(len(X), self.n_ieq_constr)
        out["values"] = np.array([r[2] for r in rows]).reshape(len(X), self.n_obj)
        out["Xd"] = X


def run_latent_ga(
    campaign: Campaign,
    seed: int,
    index: int,
    budget: int,
    *,
    pop_size: int | None = None,
    bound: float = 3.0,
    mix: float = 0.5,
    max_stall: int = 20,
) -> dict[str, Any]:
    """Run the latent-space NSGA-II of a campaign for ``budget`` evaluations.

    Args:
        campaign: a prepared campaign (its generators, surrogate, constraints, repair).
        seed / index: the campaign seed and run index; pymoo is seeded exactly as
            :meth:`Campaign.run` seeds it, and the initial population is drawn from
            ``SeedSequence(seed, spawn_key=(index, 1))``.
        budget: surrogate evaluations (distinct formulas) to spend.
        pop_size: population (default: the campaign's ``[search] pop_size``).
        bound: box half-width of the latent coordinates.
        mix: share of GAN samples in the initial population; the rest are the refined
            latent codes of known compounds of the training split (as ``sampling = "mix"``).
        max_stall: stop after this many generations in a row without a new evaluation.

    Returns:
        ``{"formulas", "values"}`` of the final feasible non-dominated designs (values:
        `(n, n_obj)` natural, under the surrogate), ``"trajectory"``: one
        ``{"n_eval", "formulas", "values"}`` per generation (the front then),
        ``"n_evaluations"``, ``"feasible_fraction"``, ``"search_s"``.
    """
    import torch
    from pymoo.algorithms.moo.nsga2 import NSGA2

    from evodesign.campaign.results import feasible_front
    from evodesign.campaign.runner import child_seed
    from operators.training import torch_threads
    from evodesign.search import HashDuplicateElimination, SpaceRepair
    from operators import load_generative_model

    models = campaign.prepare("run")
    space = models.space
    pop_size = int(pop_size or campaign.config.search.pop_size)
    ss = child_seed(seed, index)
    pymoo_seed = int(ss.generate_state(1, dtype=np.uint32)[0])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, 1)))
    start = time.perf_counter()
    with torch_threads(1):
        model = load_generative_model(models.generators_path)
        repair = SpaceRepair(space, check=campaign.repair_check())
        inner = campaign.problem()
        problem = LatentProblem(model, inner, lambda X: repair.do(None, X), bound=bound)
        n_gan = int(round(mix * pop_size))
        generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        source = "gan" if model.gan is not None else "vae"
        Z_gan = model.sample_latent(n_gan, source, generator)
        known = models.known.vectors[rng.choice(len(models.known.vectors), size=pop_size - n_gan, replace=False)]
        Z0 = np.clip(np.vstack([Z_gan, model.encode(known)]), -bound, bound)
        dedup = HashDuplicateElimination(func=lambda pop: problem.decode(pop.get("X")))
        algorithm = NSGA2(pop_size=pop_size, sampling=Z0, eliminate_duplicates=dedup)
        algorithm.setup(problem, termination=("n_gen", 10**9), seed=pymoo_seed, verbose=False)
        trajectory = []
        stall, last = 0, -1
        while inner.n_evaluated < budget and algorithm.has_next() and stall < max_stall:
            algorithm.next()
            pop = algorithm.pop
            front = feasible_front(pop)
            Xd = pop.get("Xd")[front]
            trajectory.append(
                {
                    "n_eval": int(inner.n_evaluated),
                    "formulas": space.formulas(space.decode(Xd)) if len(front) else [],
                    "values": pop.get("values")[front],
                }
            )
            stall = stall + 1 if inner.n_evaluated == last else 0
            last = inner.n_evaluated
    final = trajectory[-1] if trajectory else {"formulas": [], "values": np.zeros((0, inner.n_obj))}
    return {
        "formulas": list(final["formulas"]),
        "values": np.asarray(final["values"]),
        "trajectory": trajectory,
        "n_evaluations": int(inner.n_evaluated),
        "feasible_fraction": inner.n_feasible / inner.n_evaluated if inner.n_evaluated else float("nan"),
        "n_generations": len(trajectory),
        "search_s": time.perf_counter() - start,
    }
