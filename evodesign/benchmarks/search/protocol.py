"""The arms, settings and per-arm campaign of ``evodesign bench search``.

Every arm runs the same campaign (``runs/thermoelectric.toml`` by default) on the training
split with the same seeds, constraints, decoding/repair and budget of surrogate evaluations
(``pop_size x n_gen`` distinct formulas); :func:`bench_config` builds the campaign of one
arm, which differs from the others only in its data set, budget, operators and screen
source (plus the ``[search]`` overrides of an ablation).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from evodesign.campaign import CampaignConfig

__all__ = [
    "ABLATIONS",
    "ARMS",
    "ARM_LABELS",
    "EXTRA_ARMS",
    "FULL",
    "MAX_DESIGNS",
    "QUICK",
    "SECONDARY",
    "TARGETS",
    "bench_config",
    "slice_rows",
]

ARMS = ("learned", "classical", "latent_ga", "screen", "train_best", "random")
ARM_LABELS = {
    "learned": "(a) NSGA-II + learned operators",
    "classical": "(b) NSGA-II + SBX/PM",
    "latent_ga": "(c) NSGA-II + SBX/PM on the VAE latent",
    "screen": "(d) screening: GAN samples filtered",
    "train_best": "(e) best of the training split",
    "random": "(f) random valid compositions",
}
#: a pull of 0.3 towards a GAN sample: the mutation that several ablations vary, kept
#: explicit so that they do not follow the campaign's current default
_TOWARD = {"mutation_direction": "toward", "mutation_strength": 0.3}
#: ablations of arm (a): learned operators with one setting changed (``[search]`` overrides;
#: ``generators`` overrides retrain the generators on the split)
ABLATIONS: dict[str, dict[str, Any]] = {
    "learned_crossover_only": {"mutation_prob": 0.0},
    "learned_mutation_only": {"crossover_prob": 0.0, "mutation_prob": 1.0},
    "learned_unguided": {"guided": False},
    "learned_toward": dict(_TOWARD),
    "learned_strength_0.6": {**_TOWARD, "mutation_strength": 0.6},
    "learned_strength_0.1": {**_TOWARD, "mutation_strength": 0.1},
    "learned_mutation_heavy": {**_TOWARD, "crossover_prob": 0.3, "mutation_prob": 0.9},
    "learned_mutation_only_0.6": {**_TOWARD, "crossover_prob": 0.0, "mutation_prob": 1.0, "mutation_strength": 0.6},
    "learned_lerp": {**_TOWARD, "interpolation": "lerp"},
    # expansive moves: crossover beyond the parents, mutation along the difference of two
    # GAN samples instead of towards one
    "learned_extrapolate": {**_TOWARD, "extrapolation": 0.5},
    "learned_difference": {"mutation_direction": "difference", "mutation_strength": 0.3},
    "learned_difference_0.6": {"mutation_direction": "difference", "mutation_strength": 0.6},
    "learned_expansive": {"extrapolation": 0.5, "mutation_direction": "difference", "mutation_strength": 0.3},
    "learned_difference_1.0": {"mutation_direction": "difference", "mutation_strength": 1.0},
    "learned_difference_0.6_mix": {"mutation_direction": "difference", "mutation_strength": 0.6,
                                   "crossover_prob": 0.5, "mutation_prob": 0.6},
    "learned_latent_8": {**_TOWARD, "generators": {"latent_dim": 8}},
    "learned_latent_16": {**_TOWARD, "generators": {"latent_dim": 16}},
    "learned_latent_64": {**_TOWARD, "generators": {"latent_dim": 64}},
}
# The labels are written into the result JSON, which ``evodesign bench report`` prints:
# changing one changes the regenerated page.
ARM_LABELS.update({
    "learned_crossover_only": "(a) ablation: latent crossover only (mutation_prob 0)",
    "learned_mutation_only": "(a) ablation: GAN mutation only (crossover_prob 0, mutation_prob 1)",
    "learned_unguided": "(a) ablation: no validity-guided redraws (guided = false)",
    "learned_toward": "(a) ablation: the earlier mutation, a pull of 0.3 towards a GAN sample",
    "learned_strength_0.6": "(a) ablation: mutation_strength 0.6",
    "learned_strength_0.1": "(a) ablation: mutation_strength 0.1",
    "learned_mutation_heavy": "(a) variant: crossover_prob 0.3, mutation_prob 0.9",
    "learned_mutation_only_0.6": "(a) variant: GAN mutation only, strength 0.6",
    "learned_lerp": "(a) variant: linear latent interpolation (lerp)",
    "learned_extrapolate": "(a) variant: crossover weights U(-0.5, 1.5) (extrapolation 0.5)",
    "learned_difference": "(a) variant: GAN mutation along z_gan1 - z_gan2",
    "learned_difference_0.6": "(a) variant: difference mutation, strength 0.6",
    "learned_expansive": "(a) variant: extrapolation 0.5 + difference mutation",
    "learned_difference_1.0": "(a) variant: difference mutation, strength 1.0",
    "learned_difference_0.6_mix": "(a) variant: difference 0.6, crossover_prob 0.5, mutation_prob 0.6",
    "learned_latent_8": "(a) ablation: latent size 8 (default 32)",
    "learned_latent_16": "(a) ablation: latent size 16 (default 32)",
    "learned_latent_64": "(a) ablation: latent size 64 (default 32)",
})
#: optional arms, run only when asked for (``arms=``)
EXTRA_ARMS = ("screen_x10",)
ARM_LABELS["screen_x10"] = "(g) headroom: screening with 10x the budget"
ARM_LABELS["deap"] = "(a) cross-check: DEAP NSGA-II + learned operators"
#: arms drawn as thin lines and left out of the fronts plot
SECONDARY = {*ABLATIONS, "deap"}
#: the targets for arm (a)
TARGETS = {"hv_ratio_vs_classical": 1.10, "hv_ratio_vs_screen": 1.10, "evals_fraction": 0.5, "zdt1_hv": 0.867}
#: final designs per arm and seed (thinned by crowding distance beyond this)
MAX_DESIGNS = 256

#: full run: the default campaign's models and budget (pop 200 x 40 generations), 8 seeds
FULL: dict[str, Any] = {
    "n_seeds": 8,
    "pop_size": 200,
    "n_gen": 40,
    "max_rows": None,
    "surrogate": {},
    "generators": {},
    "oracle": {"max_iter": 200},
    "cv_folds": 5,
    "cv_rows": 10000,
    "parallel_n_gen": 40,
    "zdt1_seeds": 5,
    "ablations": ["learned_crossover_only", "learned_mutation_only", "learned_unguided", "learned_toward",
                  "learned_difference", "learned_difference_1.0"],
    "deap_seeds": 3,
    "fitness": "surrogate",
}
#: --quick: a few minutes on 2 cores (a slice of the data, small models, tiny budgets)
QUICK: dict[str, Any] = {
    "n_seeds": 2,
    "pop_size": 24,
    "n_gen": 6,
    "max_rows": 4000,
    "surrogate": {"n_members": 2, "hidden": [64, 64], "max_epochs": 30, "patience": 5},
    "generators": {"latent_dim": 8, "max_epochs": 30, "gan_steps": 300},
    "oracle": {"max_iter": 100},
    "cv_folds": 3,
    "cv_rows": None,
    "parallel_n_gen": 2,
    "zdt1_seeds": 2,
    "ablations": [],
    "deap_seeds": 1,
    "fitness": "surrogate",
}


def bench_config(
    base: CampaignConfig,
    dataset: str,
    *,
    pop_size: int,
    n_gen: int,
    operators: str = "learned",
    screen_source: str = "gan",
    surrogate: dict[str, Any] | None = None,
    generators: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
    constraints: dict[str, Any] | None = None,
    screen_factor: int = 1,
) -> CampaignConfig:
    """The campaign of one arm: ``base`` on the training split with the benchmark's budget.

    Only the data set, the budget, the operators and the screen source differ between
    arms; the surrogate and generator sections (hence the cached models) are shared.
    """
    from evodesign.campaign import CampaignConfig

    data = base.to_toml_dict()
    data["campaign"].update(name="bench-search", dataset=dataset)
    data["search"].update(pop_size=int(pop_size), n_gen=int(n_gen), operators=operators, **(search or {}))
    data["screen"].update(n_samples=int(pop_size) * int(n_gen) * int(screen_factor), source=screen_source)
    data["constraints"].update(constraints or {})
    data["surrogate"].update(surrogate or {})
    data["generators"].update(generators or {})
    return CampaignConfig.from_dict(data)


def slice_rows(data: Any, max_rows: int | None, seed: int) -> Any:
    """A seeded random subset of a data set's formulas (the whole set when ``max_rows`` is None).

    Args:
        data: a :class:`~evodesign.datasets.MaterialsDataset`.
        max_rows: how many rows to keep.
        seed: the benchmark's seed; the rows come from ``SeedSequence(seed, spawn_key=(99,))``.
    """
    if max_rows is None or max_rows >= len(data):
        return data
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(99,)))
    rows = np.sort(rng.choice(len(data), size=max_rows, replace=False))
    frame = data.frame.iloc[rows].reset_index(drop=True)
    return dataclasses.replace(data, frame=frame, name=f"{data.name}[{max_rows}]")
