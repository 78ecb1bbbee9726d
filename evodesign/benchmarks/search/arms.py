"""The arms of ``evodesign bench search`` that run a campaign or read the training split.

Each returns the same dict: ``formulas`` and ``values`` (`(n, n_obj)` natural values under
the campaign's fitness) of its final feasible non-dominated designs, ``trajectory`` (one
``{"n_eval", "formulas", "values"}`` per generation: the front then), ``n_evaluations``,
``feasible_fraction``, ``n_generations`` and ``search_s``. Arms (c) and the DEAP
cross-check are :mod:`~evodesign.benchmarks.search.latent_ga` and
:mod:`~evodesign.benchmarks.search.deap_arm`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.benchmarks.search.oracle import nondominated, to_minimize

if TYPE_CHECKING:
    from evodesign.benchmarks.search.oracle import OracleSplit
    from evodesign.campaign import Campaign

__all__ = ["campaign_run", "campaign_screen", "train_best"]


def campaign_run(campaign: Campaign, seed: int, index: int, n_seeds: int, out: Path) -> dict[str, Any]:
    """One NSGA-II campaign run, with the front of every generation read from its checkpoint."""
    from evodesign.campaign.checkpoint import CHECKPOINT, read_checkpoint
    from evodesign.campaign.results import feasible_front

    space = campaign.models.space
    trajectory: list[dict[str, Any]] = []

    def record(gen: int) -> None:
        _, state = read_checkpoint(out / CHECKPOINT)
        pop = state.population()
        front = feasible_front(pop)
        X = pop.get("X")[front]
        trajectory.append(
            {
                "n_eval": int(state.history[-1]["n_eval"]),
                "formulas": space.formulas(space.decode(X)) if len(front) else [],
                "values": pop.get("values")[front] if len(front) else np.zeros((0, len(campaign.objectives))),
            }
        )

    result = campaign.run(seed, index=index, n_runs=n_seeds, out=out, overwrite=True, on_generation=record)
    names = [o.name for o in campaign.objectives]
    designs = result.designs
    return {
        "formulas": list(designs["formula"]),
        "values": designs[names].to_numpy(dtype=np.float64),
        "trajectory": trajectory,
        "n_evaluations": int(result.manifest["n_evaluations"]),
        "feasible_fraction": float(
            (result.history["feasible_fraction"] * result.history["n_eval"].diff().fillna(result.history["n_eval"])).sum()
            / max(result.history["n_eval"].iloc[-1], 1)
        ),
        "n_generations": int(len(result.history)),
        "search_s": float(result.manifest["timings"]["search_s"]),
    }


def campaign_screen(campaign: Campaign, seed: int, index: int, n_seeds: int, out: Path) -> dict[str, Any]:
    """One screening run (arms (d), (f) and (g)): its designs are one generation."""
    result = campaign.screen(seed, index=index, n_runs=n_seeds, out=out, overwrite=True)
    names = [o.name for o in campaign.objectives]
    designs = result.designs
    values = designs[names].to_numpy(dtype=np.float64)
    n_eval = int(result.manifest["n_evaluations"])
    return {
        "formulas": list(designs["formula"]),
        "values": values,
        "trajectory": [{"n_eval": n_eval, "formulas": list(designs["formula"]), "values": values}],
        "n_evaluations": n_eval,
        "feasible_fraction": float(result.history["feasible_fraction"].iloc[0]),
        "n_generations": 1,
        "search_s": float(result.manifest["timings"]["search_s"]),
    }


def train_best(campaign: Campaign, split: OracleSplit) -> dict[str, Any]:
    """Arm (e): the training split's non-dominated compounds by true values, under the
    campaign's hard constraints; their surrogate values for the optimism gap."""
    start = time.perf_counter()
    rows = np.flatnonzero(split.train & split.feasible)
    F = to_minimize(campaign.objectives, split.values[rows])
    best = rows[nondominated(F)]
    formulas = split.formulas[best].tolist()
    problem = campaign.problem()
    out = problem.evaluate(campaign.models.space.to_vectors(formulas), return_as_dictionary=True)
    return {
        "formulas": formulas,
        "values": np.asarray(out["values"]),
        "true_values": split.values[best],
        "trajectory": [],
        "n_evaluations": 0,
        "feasible_fraction": float("nan"),
        "n_generations": 0,
        "search_s": time.perf_counter() - start,
    }


