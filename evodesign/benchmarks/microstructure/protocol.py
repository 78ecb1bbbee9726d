"""The protocol of ``evodesign bench microstructure``, fixed before any result was seen.

* **Problem**: the default microstructure campaign (``runs/microstructure.toml``): maximise
  k_xx and k_yy, minimise the filler fraction, the filler percolating along x and y,
  ``min_feature`` 2, novelty against the library, conductivity [1, 10]; the solver is the
  fitness. Its objectives, constraints and space are built by the public assembly
  functions (:func:`~evodesign.campaign.assembly.build_problem`). Only the image size and
  the library size change (``--quick``), and the budget.
* **Budget**: ``pop_size x n_gen`` solver calls per arm and seed. A design is solved once
  per run (cached by its lossless image id), so a repeat costs nothing and counts nothing;
  designs solved past the budget (the rest of the last generation) are not scored.
* **Score**: ``oracle_hv``, the hypervolume of the feasible non-dominated set of every
  design solved within the budget, in normalised units: each conductivity as
  ``(k - k_matrix) / (k_filler - k_matrix)`` (0 at the matrix's conductivity, 1 at the
  filler's), the filler fraction as is; the reference point is the matrix's conductivity
  for a maximised k and a filler fraction of 1 (:func:`normalised`). The best possible
  value is 1 (a design conducting like the filler with no filler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign import CampaignConfig
    from evodesign.objectives import Objective

__all__ = [
    "ARMS",
    "ARM_LABELS",
    "COMPETITORS",
    "FULL",
    "QUICK",
    "TARGET_EVAL_SHARE",
    "TARGET_RATIO",
    "bench_config",
    "normalised",
    "settings",
]

ARMS = ("learned", "pixel", "family", "screen", "library", "latent")
ARM_LABELS = {
    "learned": "(a) NSGA-II + learned operators (latent interpolation + GAN mutation)",
    "pixel": "(b) NSGA-II + SBX/PM on pixels",
    "family": "(c) NSGA-II over family + parameters",
    "screen": "(d) screening of GAN samples",
    "library": "(e) best of the library (no solver calls)",
    "latent": "(f) NSGA-II + SBX/PM on the VAE latent",
}
#: the arms (a) is compared with (the issue's target)
COMPETITORS = ("pixel", "family", "screen")
#: (a) must reach this ratio of median oracle HV over the best competitor ...
TARGET_RATIO = 1.2
#: ... or reach the competitors' final HV with at most this share of the evaluations
TARGET_EVAL_SHARE = 1.0 / 3.0

#: the default: the campaign's size and budget (6,000 solves per arm and seed), 5 seeds, the
#: generative model at the image codec's default architecture and training settings
FULL: dict[str, Any] = {
    "size": 64,
    "n_images": 20000,
    "pop_size": 100,
    "n_gen": 60,
    "n_seeds": 5,
    "model_seed": 0,
    "vae_options": {},
    "gan_options": {},
    "r_max": 16,
    "latent_bound": 3.0,
}
#: tests and smoke runs: 32 px, 240 library images, 12 x 4 solves, a seconds-trained model
QUICK: dict[str, Any] = {
    "size": 32,
    "n_images": 240,
    "pop_size": 12,
    "n_gen": 4,
    "n_seeds": 2,
    "model_seed": 0,
    "vae_options": {"max_epochs": 2, "sharpen_epochs": 1, "latent_dim": 8, "hidden": (4, 8)},
    "gan_options": {"n_steps": 60},
    "r_max": 8,
    "latent_bound": 3.0,
}


def settings(quick: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    """The full or quick settings with ``overrides`` (None values ignored), checked.

    Raises:
        ValueError: an unknown setting or a budget below one generation.
    """
    out = {**(QUICK if quick else FULL)}
    unknown = sorted(set(overrides) - set(out))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; valid: {sorted(out)}")
    out.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("size", "n_images", "pop_size", "n_gen", "n_seeds"):
        if int(out[key]) < 1:
            raise ValueError(f"{key} must be at least 1, got {out[key]}")
    if int(out["pop_size"]) % 2:
        raise ValueError(f"pop_size must be even (NSGA-II mates in pairs), got {out['pop_size']}")
    return out


def bench_config(base: CampaignConfig, s: dict[str, Any]) -> CampaignConfig:
    """The benchmarked campaign: ``base`` with the benchmark's image size, library size and
    budget; classical operators and known sampling (the learned arm's operators are added
    by the benchmark, with the model it trains)."""
    from evodesign.campaign import CampaignConfig

    data = base.to_toml_dict()
    data["campaign"].update(name="bench-microstructure")
    data["space"].update(size=int(s["size"]))
    data["data"].update(n_images=int(s["n_images"]))
    data["search"].update(
        pop_size=int(s["pop_size"]), n_gen=int(s["n_gen"]), operators="classical", sampling="known"
    )
    return CampaignConfig.from_dict(data)


def normalised(
    objectives: list[Objective], values: NDArray[np.float64], conductivity: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Objective values in the hypervolume's units, to minimise, and the reference point.

    Args:
        objectives: the campaign's objectives (conductivities and the filler fraction).
        values: `(n, n_obj)` natural values.
        conductivity: ``(k_matrix, k_filler)``.

    Returns:
        ``(F, ref)``: `(n, n_obj)` minimised normalised values and the `(n_obj,)` reference.

    Raises:
        ValueError: an objective that is neither a conductivity nor the filler fraction.
    """
    k_matrix, k_filler = conductivity
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(objectives))
    F = np.empty_like(values)
    ref = np.empty(len(objectives))
    for j, o in enumerate(objectives):
        if o.name.startswith("k_"):
            v = (values[:, j] - k_matrix) / (k_filler - k_matrix)
        elif o.name == "volume_fraction":
            v = values[:, j]
        else:
            raise ValueError(
                f"objective {o.name!r}: the microstructure benchmark scores conductivities "
                "(k_xx, k_yy) and volume_fraction only"
            )
        # a maximised value is negated; the reference is the worst physical value: the
        # matrix's conductivity (0) when maximised, the filler's (1) when minimised
        F[:, j], ref[j] = (-v, 0.0) if o.direction == "max" else (v, 1.0)
    return F, ref
