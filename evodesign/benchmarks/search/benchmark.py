"""``run_search_benchmark``: every arm of ``evodesign bench search`` on the oracle protocol.

The steps: slice the data (``max_rows``), hold out the split
(:func:`~evodesign.benchmarks.search.oracle.make_split`), fit the oracle and its judge
(:mod:`~evodesign.benchmarks.search.judge`), train or load the campaign's models on the
split once and hand them to every arm's :class:`~evodesign.campaign.Campaign`, run every
arm for every seed, then summarise per arm with paired tests against ``learned``
(:mod:`~evodesign.benchmarks.search.statistics`) and the scale checks
(:mod:`~evodesign.benchmarks.search.scale`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evodesign.benchmarks.search.arms import campaign_run, campaign_screen, train_best
from evodesign.benchmarks.search.judge import Judge, fit_oracle, say, thin
from evodesign.benchmarks.search.lock import lock_runs
from evodesign.benchmarks.search.protocol import (
    ABLATIONS,
    ARM_LABELS,
    ARMS,
    EXTRA_ARMS,
    FULL,
    MAX_DESIGNS,
    QUICK,
    TARGETS,
    bench_config,
    slice_rows,
)
from evodesign.benchmarks.search.scale import environment, parallel_speedup, zdt1_regression
from evodesign.benchmarks.search.statistics import evals_to_reach, summarize, wilcoxon_paired

if TYPE_CHECKING:
    from evodesign.benchmarks.search.oracle import Oracle
    from evodesign.campaign import Campaign, CampaignConfig

__all__ = ["run_search_benchmark"]

_METRICS = ("hv_oracle", "hv_surrogate", "optimism_gap", "igd", "gd", "strict_validity", "uniqueness",
            "novelty_train", "novelty_all", "rediscovered", "n_designs", "n_evaluations", "feasible_fraction",
            "search_s", "evals_per_second", "evals_fraction_to_classical_hv")


def _settings(quick: bool, arms: Sequence[str], overrides: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The checked settings and the arms to run, in a fixed order (ablations and DEAP last)."""
    settings = {**(QUICK if quick else FULL)}
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; valid: {sorted(settings)}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    bad = sorted(set(arms) - set(ARMS) - set(EXTRA_ARMS))
    if bad:
        raise ValueError(f"unknown arms {bad}; choose from {list(ARMS) + list(EXTRA_ARMS)}")
    chosen = [a for a in (*ARMS, *EXTRA_ARMS) if a in set(arms) | {"learned", "classical"}]
    fitness = str(settings["fitness"])
    if fitness not in ("surrogate", "oracle"):
        raise ValueError(f"fitness must be 'surrogate' or 'oracle', not {fitness!r}")
    unknown_ablations = sorted(set(settings["ablations"]) - set(ABLATIONS))
    if unknown_ablations:
        raise ValueError(f"unknown ablations {unknown_ablations}; choose from {list(ABLATIONS)}")
    chosen += list(settings["ablations"])
    if min(int(settings["deap_seeds"]), int(settings["n_seeds"])):
        chosen.append("deap")
    return settings, chosen


def _configs(base: CampaignConfig, dataset: str, settings: dict[str, Any]) -> dict[str, CampaignConfig]:
    """The campaign of every arm (arms that only read a campaign share ``learned``'s)."""
    # with the oracle as fitness its std is 0: the trust bound has nothing to bound
    kwargs = dict(pop_size=int(settings["pop_size"]), n_gen=int(settings["n_gen"]), surrogate=settings["surrogate"],
                  generators=settings["generators"],
                  constraints={"max_std": "off"} if settings["fitness"] == "oracle" else None)
    configs = {
        "learned": bench_config(base, dataset, operators="learned", **kwargs),
        "classical": bench_config(base, dataset, operators="classical", **kwargs),
        "screen": bench_config(base, dataset, screen_source="gan", **kwargs),
        "screen_x10": bench_config(base, dataset, screen_source="gan", screen_factor=10, **kwargs),
        "random": bench_config(base, dataset, screen_source="random", **kwargs),
    }
    configs["latent_ga"] = configs["train_best"] = configs["deap"] = configs["learned"]
    for name in settings["ablations"]:
        change = dict(ABLATIONS[name])
        generators = {**settings["generators"], **change.pop("generators", {})}
        configs[name] = bench_config(base, dataset, operators="learned", search=change,
                                     **{**kwargs, "generators": generators})
    return configs


def _campaigns(configs: dict[str, CampaignConfig], arms: list[str], oracle: Oracle | None, runs_dir: Path,
               cache_dir: Path, progress: bool) -> tuple[dict[str, Campaign], Campaign]:
    """One campaign per arm, all on one set of trained models (``learned``'s).

    Models are trained (or loaded from ``cache_dir``) once; a latent-size ablation gets its
    own generators and the shared surrogate. With ``oracle``, the oracle replaces the
    surrogate as every arm's fitness.

    Returns:
        The campaigns by arm and the ``learned`` campaign that prepared the models.
    """
    from evodesign.benchmarks.search.oracle import OraclePredictor
    from evodesign.campaign import Campaign

    say(progress, "models: training or loading the surrogate and generators on the training split")
    first = Campaign(configs["learned"], out_root=runs_dir, cache_dir=cache_dir, progress=progress)
    models = first.prepare("run")
    if oracle is not None:
        models = dataclasses.replace(models, surrogate=OraclePredictor(oracle, models.space))
        first = Campaign(configs["learned"], out_root=runs_dir, cache_dir=cache_dir, progress=progress, models=models)
    campaigns = {}
    for arm in arms:
        own = models
        if configs[arm].generators != configs["learned"].generators:
            say(progress, f"models: generators of {arm}")
            retrained = Campaign(configs[arm], out_root=runs_dir, cache_dir=cache_dir, progress=progress).prepare("run")
            own = dataclasses.replace(retrained, surrogate=models.surrogate)
        campaigns[arm] = Campaign(configs[arm], out_root=runs_dir, cache_dir=cache_dir, progress=False, models=own)
    return campaigns, first


def _run_arm(arm: str, campaign: Campaign, seed: int, index: int, n_seeds: int, budget: int, pop_size: int,
             out: Path, best_known: dict[str, Any] | None) -> dict[str, Any]:
    """One seed of one arm (see :mod:`~evodesign.benchmarks.search.arms` for the dict)."""
    from evodesign.benchmarks.search.deap_arm import run_deap_nsga2
    from evodesign.benchmarks.search.latent_ga import run_latent_ga

    if arm in ("learned", "classical") or arm in ABLATIONS:
        return campaign_run(campaign, seed, index, n_seeds, out)
    if arm in ("screen", "screen_x10", "random"):
        return campaign_screen(campaign, seed, index, n_seeds, out)
    if arm == "deap":
        return run_deap_nsga2(campaign, seed, index, budget, pop_size=pop_size)
    if arm == "latent_ga":
        return run_latent_ga(campaign, seed, index, budget, pop_size=pop_size)
    assert best_known is not None  # train_best: the same designs for every seed
    return best_known


def _scored(r: dict[str, Any], judge: Judge, objectives: list, arm: str) -> dict[str, Any]:
    """An arm's run scored by the judge: ``metrics``, the oracle-HV ``trajectory``,
    ``designs`` and their normalised ``oracle_F``."""
    keep = thin(r["values"], objectives)
    formulas = [r["formulas"][j] for j in keep]
    metrics = judge.score(formulas, r["values"][keep])
    trajectory = [
        (t["n_eval"], judge.hv([t["formulas"][j] for j in thin(t["values"], objectives)]))
        for t in r["trajectory"]
    ]
    if arm == "train_best":
        metrics["hv_true"] = judge.normalizer.hypervolume(judge.F(r["true_values"]))
    metrics.update(
        n_evaluations=r["n_evaluations"], feasible_fraction=r["feasible_fraction"], search_s=r["search_s"],
        evals_per_second=r["n_evaluations"] / r["search_s"] if r["search_s"] > 0 and r["n_evaluations"] else None,
        n_generations=r["n_generations"],
    )
    return {"metrics": metrics, "trajectory": trajectory,
            "designs": formulas, "oracle_F": judge.normalizer(judge.F(judge.values(formulas))).tolist()}


def _summaries(raw: dict[str, list[dict[str, Any]]], arms: list[str], n_seeds: int) -> dict[str, Any]:
    """Per arm: label, summaries over seeds, paired tests against ``learned``, trajectories
    and the first seed's designs. Adds to ``raw`` the evaluations each seed needed to reach
    the classical arm's final oracle HV of the same seed."""
    for i in range(n_seeds):
        target = raw["classical"][i]["metrics"]["hv_oracle"]
        total = raw["classical"][i]["metrics"]["n_evaluations"]
        for arm in arms:
            if i >= len(raw[arm]):
                continue
            m = raw[arm][i]
            reached = evals_to_reach(m["trajectory"], target) if m["trajectory"] else None
            m["metrics"]["evals_to_classical_hv"] = reached
            m["metrics"]["evals_fraction_to_classical_hv"] = reached / total if reached is not None and total else None

    results: dict[str, Any] = {}
    for arm in arms:
        seeds = [m["metrics"] for m in raw[arm]]
        summary = {name: summarize([s.get(name) for s in seeds]) for name in _METRICS}
        if arm == "train_best":
            summary["hv_true"] = summarize([s["hv_true"] for s in seeds])
        tests = {}
        if arm != "learned":
            for name in ("hv_oracle", "igd", "rediscovered"):
                paired = [m["metrics"][name] for m in raw["learned"][: len(seeds)]]
                tests[name] = wilcoxon_paired(paired, [s[name] for s in seeds])
        results[arm] = {
            "label": ARM_LABELS[arm],
            "summary": summary,
            "vs_learned": tests,
            "seeds": seeds,
            "trajectories": [m["trajectory"] for m in raw[arm]],
            "designs_seed0": raw[arm][0]["designs"],
            "oracle_F_seed0": raw[arm][0]["oracle_F"],
        }
    return results


def _verdict(results: dict[str, Any]) -> dict[str, Any]:
    """Arm (a) against the targets: HV ratios of the medians, evaluations, rediscoveries."""
    med = {arm: r["summary"]["hv_oracle"]["median"] for arm, r in results.items()}
    learned = med["learned"]
    return {
        "hv_ratio_vs_classical": learned / med["classical"] if med["classical"] else None,
        "hv_ratio_vs_screen": learned / med["screen"] if med.get("screen") else None,
        "beats_train_best": learned > med["train_best"] if "train_best" in med else None,
        "beats_random": learned > med["random"] if "random" in med else None,
        "evals_fraction_to_classical_hv": results["learned"]["summary"]["evals_fraction_to_classical_hv"]["median"],
        "rediscovered_learned": results["learned"]["summary"]["rediscovered"]["median"],
        "rediscovered_classical": results["classical"]["summary"]["rediscovered"]["median"],
        "rediscovered_screen": results["screen"]["summary"]["rediscovered"]["median"] if "screen" in results else None,
    }


def run_search_benchmark(
    config: str | Path = "runs/thermoelectric.toml",
    *,
    quick: bool = False,
    seed: int = 0,
    out_root: str | Path = "runs/output/bench-search",
    arms: Sequence[str] = ARMS,
    progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Run every arm on the oracle protocol and return a JSON-ready result.

    Args:
        config: the campaign file whose objectives, constraints, space and models are used.
        quick: the :data:`QUICK` settings instead of :data:`FULL`.
        seed: campaign seed; run ``i`` of every arm uses ``SeedSequence(seed, spawn_key=(i,))``.
        out_root: cache and run folders (split CSV, models, oracle, run folders).
        arms: a subset of :data:`ARMS` (``learned`` and ``classical`` are always run: the
            comparisons need them).
        progress: print progress lines.
        **overrides: any key of :data:`FULL` (``n_seeds``, ``pop_size``, ``n_gen``,
            ``max_rows``, ``surrogate``, ``generators``, ``oracle``, ``cv_folds``,
            ``parallel_n_gen`` (0: skip the parallel check), ``zdt1_seeds`` (0: skip)).

    Returns:
        ``settings``, ``split``, ``oracle`` (with cross-validated accuracy), ``arms``
        (per arm: per-seed metrics, summaries, paired tests against ``learned``,
        trajectories and the first seed's oracle-scored designs), ``reference_front``,
        ``targets``, ``speed``, ``parallel``, ``zdt1``, ``environment``.
    """
    from evodesign.benchmarks.search.oracle import make_split
    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.assembly import build_objectives
    from evodesign.campaign.models import resolve_dataset

    settings, arms = _settings(quick, arms, overrides)
    fitness = str(settings["fitness"])
    deap_seeds = min(int(settings["deap_seeds"]), int(settings["n_seeds"]))
    n_seeds, pop_size, n_gen = int(settings["n_seeds"]), int(settings["pop_size"]), int(settings["n_gen"])
    budget = pop_size * n_gen
    out_root = Path(out_root)
    config_path = Path(config)
    base = CampaignConfig.from_toml(config_path)
    # the structure check is not part of what is compared (and would cost minutes per run)
    base = base.model_copy(update={"verify": base.verify.model_copy(update={"after_run": False})})
    objectives = build_objectives(base)
    started = time.perf_counter()

    data = slice_rows(resolve_dataset(base.campaign.dataset, config_path.parent, base.campaign.formula_column),
                      settings["max_rows"], seed)
    split = make_split(base, data, out_root / "data")
    say(progress, f"split: {split.info['n_train']:,} training compounds, {split.info['n_held_out']:,} held out "
        f"({split.info['n_pareto_feasible']} feasible Pareto-optimal)")
    oracle, oracle_info = fit_oracle(split, objectives, dict(settings["oracle"]), int(settings["cv_folds"]),
                                     settings["cv_rows"], seed, out_root / "oracle", progress)
    for t, m in oracle_info["cv"].items():
        say(progress, f"oracle {t}: {m['n_folds']}-fold CV MAE {m['mae']:.4g}, R2 {m['r2']:.3f}")
    judge = Judge(split, oracle, objectives)

    configs = _configs(base, str(split.csv_path.resolve()), settings)
    cache_dir = out_root / "models"
    runs_dir = out_root / ("runs" if fitness == "surrogate" else "runs-oracle-fitness")
    if settings["surrogate"] != (QUICK if quick else FULL)["surrogate"]:  # another surrogate: keep its runs apart
        runs_dir = runs_dir.with_name(f"{runs_dir.name}-surrogate-{configs['learned'].surrogate_hash()[:8]}")
    release_runs = lock_runs(runs_dir)
    tick = time.perf_counter()
    campaigns, first = _campaigns(configs, arms, oracle if fitness == "oracle" else None, runs_dir, cache_dir, progress)
    prepare_s = time.perf_counter() - tick

    raw: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    best_known = train_best(campaigns["train_best"], split) if "train_best" in arms else None
    for i in range(n_seeds):
        for arm in arms:
            if arm == "deap" and i >= deap_seeds:
                continue
            r = _run_arm(arm, campaigns[arm], seed, i, n_seeds, budget, pop_size, runs_dir / arm / f"seed{seed}-{i}",
                         best_known)
            raw[arm].append(_scored(r, judge, objectives, arm))
            metrics = raw[arm][-1]["metrics"]
            say(progress, f"seed {i} {arm:>22}: oracle HV {metrics['hv_oracle']:.4f}  surrogate HV "
                f"{metrics['hv_surrogate']:.4f}  IGD {metrics['igd']:.4f}  designs {metrics['n_designs']}  "
                f"rediscovered {metrics['rediscovered']}  evals {metrics['n_evaluations']:,}  {metrics['search_s']:.0f} s")
    results = _summaries(raw, arms, n_seeds)
    verdict = _verdict(results)

    release_runs()
    parallel = None
    if settings["parallel_n_gen"]:
        say(progress, "parallel seeds: n_jobs 1 vs 2")
        cfg = bench_config(base, str(split.csv_path.resolve()), operators="learned", pop_size=pop_size,
                           n_gen=int(settings["parallel_n_gen"]), surrogate=settings["surrogate"],
                           generators=settings["generators"])
        parallel = parallel_speedup(cfg, seed, out_root, cache_dir, Path("."))
    zdt1 = zdt1_regression(int(settings["zdt1_seeds"])) if settings["zdt1_seeds"] else None
    speed = {arm: results[arm]["summary"]["evals_per_second"]["median"] for arm in arms if arm != "train_best"}
    return {
        "benchmark": "search",
        "quick": bool(quick),
        "settings": {**settings, "seed": seed, "budget": budget, "arms": list(arms), "config": str(config_path),
                     "max_designs": MAX_DESIGNS, "hv_reference_point": 1.1,
                     "campaign_search": configs["learned"].search.model_dump(mode="json"),
                     "campaign_generators": configs["learned"].generators.model_dump(mode="json"),
                     "campaign_surrogate": configs["learned"].surrogate.model_dump(mode="json"),
                     "normalization": {"lo": judge.normalizer.lo.tolist(), "hi": judge.normalizer.hi.tolist()},
                     "objectives": [{"name": o.name, "direction": o.direction} for o in objectives]},
        "split": split.info,
        "oracle": oracle_info,
        "models": {"prepare_s": prepare_s, "timings": first.models.timings, "artifacts": first.models.artifacts()},
        "arms": results,
        "verdict": verdict,
        "targets": TARGETS,
        "reference_front": judge.reference_front.tolist(),
        "true_front": judge.true_front.tolist(),
        "speed": {"evals_per_second": speed},
        "parallel": parallel,
        "zdt1": zdt1,
        "deap": None if deap_seeds else "not run (deap_seeds = 0)",
        "overhead": "per-generation overhead vs population: see `evodesign bench overhead` (docs/benchmarks/overhead.json)",
        "seconds": time.perf_counter() - started,
        "environment": environment(),
    }
