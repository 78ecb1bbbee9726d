"""The protocol of ``evodesign bench loop``, fixed before any result was seen.

**Spaces** (each its own lab, data and campaign):

* ``microstructure``: the thermal composite of ``runs/microstructure.toml`` (max k_xx,
  max k_yy, min filler fraction, the filler percolating along x and y, ``min_feature`` 2,
  novel against the library) at **32 px**: 4x fewer pixels than the default 64 px make
  the CNN surrogate, its updates and the solver 4x cheaper, which is what lets 5 seeds of
  5 arms fit on 2 shared cores. The lab is the physics solver
  (:class:`~evodesign.campaign.evaluation.SolverEvaluator`). The data: the library of
  ``n_images`` labelled images (what the generators learn from and what novelty is
  checked against), of which the CNN ensemble surrogate sees ``max_rows`` (a seeded
  subset: a lab's small prior data set).
* ``composition``: the default campaign (``runs/thermoelectric.toml``) on the oracle split
  of ``evodesign bench search`` (:func:`~evodesign.benchmarks.search.oracle.make_split`:
  the true Pareto set and the top 20 % of every objective held out); the lab is the oracle
  (:class:`~evodesign.benchmarks.search.oracle.OracleEvaluator`, gradient boosting on all
  the data, HHI exact); the surrogate and generators are the campaign's, trained on the
  split.

In both spaces the loops drop the surrogate-trust bound (``max_std = "off"``): a loop
explores where its model is unsure, and its acquisition (mean + ``kappa`` std) already
weighs that.

**Arms**, with the same budget of ``batch x rounds`` lab evaluations and, for the searches,
the same number of surrogate calls (``rounds x pop_size x n_gen``):

1. ``adaptive``: the loop with learned operators and generators fine-tuned during each
   round's search (``[generators] adapt_every``);
2. ``fixed``: the same loop, generators as trained (``adapt_every = 0``);
3. ``classical``: the loop with SBX/PM (``[search] operators = "classical"``);
4. ``one_shot``: train once, search once (learned operators, ``rounds x pop_size x n_gen``
   surrogate calls with a population of at least ``batch x rounds``), measure the top
   ``batch x rounds`` (one round of the loop);
5. ``random``: designs drawn from the data's distribution, measured by the same lab:
   library-generator images (random families and parameters, a seed the library never
   used) for microstructures, GAN samples of the campaign's generators for compositions;
   both repaired as the search repairs, distinct, not in the data. ``random_factor`` times
   the loop's budget is drawn, so that the acceleration factor can be measured up to that
   factor (beyond it, a lower bound);
6. ``adaptive_measured`` (added after the five were compared; not run unless chosen with
   ``arms``): the loop with fixed generators inside each search, fine-tuned *between*
   rounds on the data set plus the measured designs ranked by their lab values (``[loop]
   adapt = "measured"``), the remedy tried after ``adaptive`` lost to ``fixed``.

**Score**: the hypervolume of the feasible measured designs under the lab's values, in
the campaign's own normalisation (:class:`~evodesign.campaign.results.Normalizer`: each
objective scaled by the range of the data set's known values, reference point 1.1), the
same for every arm and seed of a space. A loop's HV is read at the end of each round (a
batch is measured at once), random acquisition's after every evaluation.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ALL_ARMS", "ARMS", "ARM_LABELS", "EXTRA_ARMS", "FULL", "LOOP_ARMS", "QUICK", "SPACES", "SPACE_KEYS", "TARGETS",
           "arm_changes", "one_shot_search", "settings"]

SPACES = ("microstructure", "composition")
#: the protocol's arms, run by default
ARMS = ("adaptive", "fixed", "classical", "one_shot", "random")
#: arms added after the protocol's were compared: run only when chosen (``arms``)
EXTRA_ARMS = ("adaptive_measured",)
ALL_ARMS = ARMS + EXTRA_ARMS
#: the arms that run the closed loop (``run_loop``)
LOOP_ARMS = ("adaptive", "fixed", "classical", "one_shot", "adaptive_measured")
ARM_LABELS = {
    "adaptive": "(1) loop, learned operators, generators adapted during the search",
    "fixed": "(2) loop, learned operators, fixed generators",
    "classical": "(3) loop, SBX/PM",
    "one_shot": "(4) one-shot: train once, search once, measure the top B x R",
    "random": "(5) random acquisition from the data's distribution",
    "adaptive_measured": "(6) loop, learned operators, generators fine-tuned between rounds on the measured designs",
}
#: issue 15's targets
TARGETS = {
    "af_vs_random": 6.0,
    "hv_ratio_vs_classical": 1.10,
    "af_vs_classical": 1.5,
    "adaptive_vs_fixed_p": 0.05,
}

_MICROSTRUCTURE_FULL: dict[str, Any] = {
    "size": 32,
    "n_images": 2000,
    "max_rows": 300,
    "surrogate": {"n_members": 3, "channels": [8, 16, 32], "max_epochs": 30, "patience": 5},
    "generators": {"latent_dim": 32, "max_epochs": 12, "gan_steps": 2000},
    "pop_size": 40,
    "n_gen": 10,
    # one fine-tuning per round's search (at generation 5): one costs ~40 s on 2 shared
    # cores (mostly the latent GAN's steps), so every 3 generations made the arm 6x dearer
    "adapt_every": 5,
    "rounds": 5,
    "batch": 20,
    "kappa": 1.0,
    "update_epochs": 10,
}
_COMPOSITION_FULL: dict[str, Any] = {
    "config": "runs/thermoelectric.toml",
    "max_rows": None,
    "surrogate": {},
    "generators": {},
    "oracle": {"max_iter": 200},
    "cv_folds": 5,
    "cv_rows": 10000,
    "pop_size": 100,
    "n_gen": 20,
    "adapt_every": 5,
    "rounds": 5,
    "batch": 20,
    "kappa": 1.0,
    "update_epochs": 5,
}
#: the full protocol: 5 seeds, 100 lab evaluations per arm and seed in each space
FULL: dict[str, Any] = {
    "n_seeds": 5,
    "random_factor": 20,
    "spaces": list(SPACES),
    "microstructure": _MICROSTRUCTURE_FULL,
    "composition": _COMPOSITION_FULL,
}
#: --quick: tiny sizes, for the command's test (well under a minute)
QUICK: dict[str, Any] = {
    "n_seeds": 2,
    "random_factor": 4,
    "spaces": list(SPACES),
    "microstructure": {
        **_MICROSTRUCTURE_FULL,
        "size": 16,
        "n_images": 60,
        "max_rows": 40,
        "surrogate": {"n_members": 2, "channels": [4, 8], "max_epochs": 2},
        "generators": {"latent_dim": 8, "max_epochs": 8, "gan_steps": 200},
        "pop_size": 12,
        "n_gen": 3,
        "adapt_every": 1,
        "rounds": 2,
        "batch": 3,
        "update_epochs": 1,
    },
    "composition": {
        **_COMPOSITION_FULL,
        "max_rows": 1500,
        "surrogate": {"n_members": 2, "hidden": [16], "max_epochs": 3, "patience": 2},
        "generators": {"latent_dim": 8, "max_epochs": 20, "gan_steps": 200},
        "oracle": {"max_iter": 20},
        "cv_folds": 2,
        "cv_rows": 500,
        "pop_size": 8,
        "n_gen": 2,
        "adapt_every": 1,
        "rounds": 2,
        "batch": 3,
        "update_epochs": 1,
    },
}

#: the keys one may override from the command line, per space (and their meaning)
SPACE_KEYS = ("rounds", "batch", "pop_size", "n_gen")


def settings(quick: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full or quick settings with ``overrides``, checked.

    Args:
        quick: the :data:`QUICK` settings instead of :data:`FULL`.
        overrides: ``n_seeds``, ``random_factor``, ``spaces``, ``arms`` (top level; arms of
            :data:`ALL_ARMS`, default :data:`ARMS`) and ``rounds``, ``batch``,
            ``pop_size``, ``n_gen`` (applied to every space); None values are ignored.

    Returns:
        The settings, plus ``reduced``: the overrides that make the protocol smaller than
        the full one (an empty list for the full protocol).

    Raises:
        ValueError: an unknown key or space, or a value below its minimum.
    """
    out = copy.deepcopy(QUICK if quick else FULL)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(overrides) - {"n_seeds", "random_factor", "spaces", "arms", *SPACE_KEYS})
    if unknown:
        raise ValueError(f"unknown settings {unknown}; valid: n_seeds, random_factor, spaces, arms, {', '.join(SPACE_KEYS)}")
    bad = sorted(set(overrides.get("spaces", ())) - set(SPACES))
    if bad:
        raise ValueError(f"unknown spaces {bad}; choose from {list(SPACES)}")
    bad = sorted(set(overrides.get("arms", ())) - set(ALL_ARMS))
    if bad or ("arms" in overrides and not overrides["arms"]):
        raise ValueError(f"unknown or no arms {bad}; choose from {list(ALL_ARMS)}")
    out["arms"] = [a for a in ALL_ARMS if a in overrides.get("arms", ARMS)]
    for key in ("n_seeds", "random_factor", "spaces"):
        if key in overrides:
            out[key] = list(overrides[key]) if key == "spaces" else int(overrides[key])
    for space in SPACES:
        for key in SPACE_KEYS:
            if key in overrides:
                out[space][key] = int(overrides[key])
    for key in ("n_seeds", "random_factor"):
        if int(out[key]) < 1:
            raise ValueError(f"{key} must be at least 1, got {out[key]}")
    for space in SPACES:
        for key in SPACE_KEYS:
            if int(out[space][key]) < 1:
                raise ValueError(f"{key} must be at least 1, got {out[space][key]}")
        if int(out[space]["pop_size"]) % 2:
            raise ValueError(f"pop_size must be even (NSGA-II mates in pairs), got {out[space]['pop_size']}")
        if space in out["spaces"] and int(out[space]["batch"]) > int(out[space]["pop_size"]):
            # a round's batch is chosen from the search's final population
            raise ValueError(f"{space}: batch {out[space]['batch']} exceeds pop_size {out[space]['pop_size']}; "
                             "a round measures designs of its search's final population, so raise pop_size "
                             "to at least the batch")
    if not out["spaces"]:
        raise ValueError(f"choose at least one space of {list(SPACES)}")
    reduced = []
    if not quick:
        reduced = [f"{k} = {out[k]} (full: {FULL[k]})" for k in ("n_seeds", "random_factor") if out[k] < FULL[k]]
        reduced += [f"spaces = {out['spaces']}"] if len(out["spaces"]) < len(SPACES) else []
        reduced += [f"arms = {out['arms']}"] if set(ARMS) - set(out["arms"]) else []
        for key in SPACE_KEYS:
            if key in overrides:
                reduced += [
                    f"{space} {key} = {out[space][key]} (full: {FULL[space][key]})"
                    for space in out["spaces"]
                    if out[space][key] != FULL[space][key]
                ]
    out["reduced"] = reduced
    return out


def one_shot_search(s: dict[str, Any]) -> tuple[int, int]:
    """``(pop_size, n_gen)`` of the one-shot arm's single search: a population of at least
    the whole budget (even), and as many surrogate calls as the loop's rounds together."""
    budget = int(s["batch"]) * int(s["rounds"])
    pop = max(int(s["pop_size"]), budget + budget % 2)
    calls = int(s["rounds"]) * int(s["pop_size"]) * int(s["n_gen"])
    return pop, max(1, round(calls / pop))


def arm_changes(arm: str, s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The config tables of ``arm`` that differ from the shared base (``[search]``,
    ``[generators]``, ``[loop]`` keys)."""
    search: dict[str, Any] = {"operators": "classical" if arm == "classical" else "learned"}
    generators = {"adapt_every": int(s["adapt_every"]) if arm == "adaptive" else 0}
    loop: dict[str, Any] = {"rounds": int(s["rounds"]), "batch": int(s["batch"])}
    if arm == "adaptive_measured":
        loop["adapt"] = "measured"
    if arm == "one_shot":
        search["pop_size"], search["n_gen"] = one_shot_search(s)
        loop = {"rounds": 1, "batch": int(s["batch"]) * int(s["rounds"])}
    return {"search": search, "generators": generators, "loop": loop}
