"""``run_loop_benchmark``: every arm of ``evodesign bench loop`` in each space, every seed.

Steps per space: prepare the space (:mod:`~evodesign.benchmarks.loop.spaces`: data, lab,
models trained once); for every seed ``i`` (campaign seed ``SeedSequence(seed,
spawn_key=(i,))``, the same for every arm, so that the loops of one seed start from the
same population) run each loop arm through :func:`~evodesign.campaign.loop.run_loop` with
the lab as its evaluator (the loop folders are resumed when the benchmark is run again),
then random acquisition; score every arm (:mod:`~evodesign.benchmarks.loop.metrics`);
summarise over seeds with paired tests.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evodesign.benchmarks.loop.metrics import MeasuredScorer, Trace, acceleration, enhancement, reverse_acceleration
from evodesign.benchmarks.loop.protocol import ARM_LABELS, LOOP_ARMS, TARGETS, settings
from evodesign.benchmarks.loop.spaces import (
    SpaceSetup,
    composition_setup,
    microstructure_setup,
    random_designs,
    reduced_formula,
)
from evodesign.benchmarks.search.statistics import summarize, wilcoxon_paired

__all__ = ["measured_arrays", "run_loop_benchmark"]


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[bench loop] {message}", flush=True)


def measured_arrays(root: Path, measured: pd.DataFrame, targets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`(n, n_var)` vectors and `(n, n_targets)` values of a loop's measured designs, in
    ``measurements.csv``'s order (the vectors from each round's ``vectors.npz``)."""
    from evodesign.campaign.lab import round_dir
    from evodesign.campaign.loop import VECTORS

    if not len(measured):
        return np.zeros((0, 0)), np.zeros((0, len(targets)))
    parts = []
    for r in pd.unique(measured["round"].astype(int)):
        with np.load(round_dir(root, int(r)) / VECTORS, allow_pickle=False) as saved:
            by_id = dict(zip(saved["ids"].astype(str), saved["X"]))
        ids = measured.loc[measured["round"] == r, "id"].astype(str)
        parts.append(np.stack([by_id[i] for i in ids]))
    return np.concatenate(parts).astype(np.float64), measured[targets].to_numpy(dtype=np.float64)


def _adapted_rounds(root: Path, rounds: int) -> int:
    """Rounds whose search fine-tuned the generators at least once (``adapt_s`` > 0), or
    after which the loop fine-tuned them on the measured designs (``generators-NNN``)."""
    from evodesign.campaign.lab import round_dir
    from evodesign.campaign.loop import GENERATORS

    count = 0
    for r in range(1, rounds + 1):
        path = round_dir(root, r) / "search" / "history.csv"
        adapted = (root / f"{GENERATORS}-{r:03d}.json").exists()
        if path.exists():
            history = pd.read_csv(path)
            adapted |= "adapt_s" in history.columns and float(history["adapt_s"].fillna(0).sum()) > 0
        count += int(adapted)
    return count


def _top_found(trace: Trace, top: set[str] | None, counts: list[int]) -> list[list[int]] | None:
    """``[k, distinct held-out top compounds among the first k measured]`` per ``k``."""
    if top is None:
        return None
    hits = np.array([reduced_formula(label) in top for label in trace.labels], dtype=bool)
    seen: set[str] = set()
    cumulative = []
    for label, hit in zip(trace.labels, hits):
        if hit:
            seen.add(reduced_formula(label))
        cumulative.append(len(seen))
    return [[int(k), int(cumulative[k - 1]) if k else 0] for k in counts if k <= len(cumulative)]


def _run_loop_arm(setup: SpaceSetup, arm: str, campaign_seed: int, s: dict[str, Any], folder: Path,
                  cache_dir: Path, scorer: MeasuredScorer) -> tuple[Trace, dict[str, Any]]:
    from evodesign.campaign import Campaign
    from evodesign.campaign.lab import load_measurements, read_rounds
    from evodesign.campaign.loop import run_loop
    from evodesign.exceptions import DataError

    config = setup.config(arm, campaign_seed, s)
    campaign = Campaign(config, out_root=folder.parent / "runs", cache_dir=cache_dir, progress=False,
                        models=setup.models)
    tick = time.perf_counter()
    stopped = None
    try:
        run_loop(campaign, evaluator=setup.evaluator, out=folder, resume=True)
    except DataError as error:  # a search with nothing new to propose ends the loop early
        stopped = str(error)
    seconds = time.perf_counter() - tick
    measured, _ = load_measurements(folder)
    X, Y = measured_arrays(folder, measured, setup.targets)
    trace = scorer.trace(X, Y)
    rounds = read_rounds(folder)
    ends = np.cumsum(rounds["n_measured"].to_numpy(dtype=int)).tolist()
    # the loop's own rounds.csv HV is the same quantity: a check of the scoring
    logged = rounds["hypervolume"].to_numpy(dtype=np.float64)
    ours = np.array([trace.hv(k) for k in ends])
    timing = {c: float(rounds[c].sum()) for c in ("search_s", "evaluate_s", "update_s") if c in rounds.columns}
    facts = {
        "n_measured": int(len(trace)),
        "n_failed": int((~np.isfinite(Y).all(axis=1)).sum()) if len(Y) else 0,
        "n_feasible": int(trace.feasible.sum()),
        "rounds_logged_hv_max_abs_diff": float(np.max(np.abs(logged - ours))) if len(ends) else None,
        "adapted_rounds": _adapted_rounds(folder, int(config.loop.rounds)),
        "n_rounds": int(len(rounds)),
        "seconds_this_call": seconds,
        "stopped_early": stopped,
        **timing,
    }
    return trace, facts


def _seed_runs(setup: SpaceSetup, s: dict[str, Any], seed: int, n_seeds: int, random_factor: int, out: Path,
               cache_dir: Path, progress: bool, arms: list[str]) -> tuple[dict[str, list[Trace]], dict[str, list[dict[str, Any]]]]:
    """Every arm of ``arms``, every seed: the traces and each run's facts."""
    from evodesign.campaign.evaluation import evaluate_batch

    scorer = MeasuredScorer(setup.config("adaptive", 0, s), setup.models, setup.targets)
    budget = int(s["batch"]) * int(s["rounds"])
    traces: dict[str, list[Trace]] = {arm: [] for arm in arms}
    facts: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    for i in range(n_seeds):
        campaign_seed = int(np.random.SeedSequence(seed, spawn_key=(i,)).generate_state(1)[0])
        for arm in [a for a in LOOP_ARMS if a in arms]:
            folder = out / setup.name / arm / f"seed{seed}-{i}"
            trace, run = _run_loop_arm(setup, arm, campaign_seed, s, folder, cache_dir, scorer)
            traces[arm].append(trace)
            facts[arm].append(run)
            _say(progress, f"{setup.name} seed {i} {arm:>9}: HV {trace.hv(budget):.4f} after {len(trace)} measured "
                 f"({run['n_feasible']} feasible, {run['adapted_rounds']} rounds adapted), "
                 f"{run['seconds_this_call']:.0f} s")
        if "random" not in arms:
            continue
        tick = time.perf_counter()
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i, 7)))
        X = random_designs(setup, random_factor * budget, rng)
        Y = evaluate_batch(setup.evaluator, setup.lab_designs(X), setup.targets).to_numpy(dtype=np.float64)
        trace = scorer.trace(X, Y)
        traces["random"].append(trace)
        facts["random"].append({"n_measured": int(len(trace)), "n_feasible": int(trace.feasible.sum()),
                                "seconds_this_call": time.perf_counter() - tick})
        _say(progress, f"{setup.name} seed {i}    random: HV {trace.hv(budget):.4f} at the budget, "
             f"{trace.hv(len(trace)):.4f} after {len(trace)}")
    return traces, facts


def _summary(values: list[float | None]) -> dict[str, Any]:
    return summarize([np.nan if v is None else v for v in values])


def _factors(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed factors and their median (lower bounds counted as their value)."""
    return {**_summary([x["value"] for x in items]), "n_lower_bounds": int(sum(x.get("lower_bound", False) for x in items)),
            "per_seed": items}


def _reverse(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed reverse factors and their median (upper bounds counted as their value)."""
    return {**_summary([x["value"] for x in items]), "n_upper_bounds": int(sum(x["upper_bound"] for x in items)),
            "per_seed": items}


def _one_sided(a: list[float], b: list[float]) -> float | None:
    """One-sided Wilcoxon signed-rank p of ``a > b`` (paired seeds)."""
    from scipy.stats import wilcoxon

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2 or np.all(d == 0):
        return None
    return float(wilcoxon(d, alternative="greater").pvalue)


def _space_result(setup: SpaceSetup, s: dict[str, Any], traces: dict[str, list[Trace]],
                  facts: dict[str, list[dict[str, Any]]], random_factor: int) -> dict[str, Any]:
    """Curves, summaries, factors and tests of one space."""
    B, R = int(s["batch"]), int(s["rounds"])
    budget = B * R
    n_seeds = len(next(iter(traces.values())))
    chosen = list(traces)
    arms: dict[str, Any] = {}
    for arm in chosen:
        counts = list(range(B, budget + 1, B))
        if arm == "random":  # beyond the budget too, up to what was drawn
            longest = max((len(t) for t in traces[arm]), default=0)
            counts += [int(k) for k in np.unique(np.geomspace(budget, max(longest, budget), 12).astype(int)) if k > budget]
        final = [t.hv(budget) for t in traces[arm]]
        arms[arm] = {
            "label": ARM_LABELS[arm],
            "final_hv": final,
            "summary": _summary(final),
            "curves": [t.curve([k for k in counts if k <= len(t)]) for t in traces[arm]],
            "runs": facts[arm],
        }
        found = [_top_found(t, setup.top, counts) for t in traces[arm]]
        if setup.top is not None:
            arms[arm]["top_found"] = found
            arms[arm]["top_found_at_budget"] = _summary([f[min(R, len(f)) - 1][1] if f else 0 for f in found])
    factors: dict[str, Any] = {}
    for arm in [a for a in LOOP_ARMS if a in chosen and "random" in chosen]:
        batch = budget if arm == "one_shot" else B
        factors[f"{arm}_vs_random"] = {
            "acceleration_factor": _factors([acceleration(traces[arm][i], traces["random"][i], budget, batch)
                                             for i in range(n_seeds)]),
            "enhancement_factor": _factors([enhancement(traces[arm][i], traces["random"][i], budget)
                                            for i in range(n_seeds)]),
        }
    for arm in [a for a in ("adaptive", "fixed", "adaptive_measured") if a in chosen and "classical" in chosen]:
        factors[f"{arm}_vs_classical"] = {
            "acceleration_factor": _factors([acceleration(traces[arm][i], traces["classical"][i], budget, B, B)
                                             for i in range(n_seeds)]),
            "enhancement_factor": _factors([enhancement(traces[arm][i], traces["classical"][i], budget)
                                            for i in range(n_seeds)]),
            # read the other way round: still a number when the SBX/PM loop plateaus below this one
            "reverse_acceleration_factor": _reverse([reverse_acceleration(traces[arm][i], traces["classical"][i],
                                                                          budget, B) for i in range(n_seeds)]),
        }
    final = {arm: arms[arm]["final_hv"] for arm in chosen}
    pairs = [("adaptive", "fixed"), ("adaptive", "classical"), ("adaptive_measured", "fixed"),
             ("adaptive_measured", "adaptive")]
    tests = {f"{a}_vs_{b}": {**wilcoxon_paired(final[a], final[b]), "p_one_sided_greater": _one_sided(final[a], final[b])}
             for a, b in pairs if a in final and b in final}
    protocol_arms = {"adaptive", "fixed", "classical", "random"} <= set(chosen)
    return {
        "settings": s,
        "budget": budget,
        "random_budget": random_factor * budget,
        "setup": setup.info,
        "arms": arms,
        "factors": factors,
        "tests": tests,
        # the targets need the protocol's arms
        "verdict": _verdict(arms, factors, tests) if protocol_arms else None,
    }


def _verdict(arms: dict[str, Any], factors: dict[str, Any], tests: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for the adaptive loop in one space, each reached or not."""
    med = {arm: arms[arm]["summary"]["median"] for arm in arms}
    af_random = factors["adaptive_vs_random"]["acceleration_factor"]["median"]
    af_classical = factors["adaptive_vs_classical"]["acceleration_factor"]["median"]
    ratio = med["adaptive"] / med["classical"] if med["classical"] else None
    p = tests["adaptive_vs_fixed"]["p_one_sided_greater"]
    adapted = [r["adapted_rounds"] for r in arms["adaptive"]["runs"]]
    return {
        "af_vs_random": af_random,
        "af_vs_random_reached": bool(af_random is not None and af_random >= TARGETS["af_vs_random"]),
        "hv_ratio_vs_classical": ratio,
        "af_vs_classical": af_classical,
        "vs_classical_reached": bool((ratio is not None and ratio >= TARGETS["hv_ratio_vs_classical"])
                                     or (af_classical is not None and af_classical >= TARGETS["af_vs_classical"])),
        "adaptive_vs_fixed_p_one_sided": p,
        "adaptive_vs_fixed_median_diff": (med["adaptive"] - med["fixed"])
        if med["adaptive"] is not None and med["fixed"] is not None else None,
        "adaptive_better_than_fixed": bool(p is not None and p < TARGETS["adaptive_vs_fixed_p"]),
        "adaptation_active": bool(adapted and min(adapted) > 0),
        "adapted_rounds_per_seed": adapted,
    }


def run_loop_benchmark(
    *,
    quick: bool = False,
    seed: int = 0,
    out: str | Path = "runs/output/bench-loop",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Run the benchmark (see :mod:`evodesign.benchmarks.loop`) and return a JSON-ready result.

    Args:
        quick: the quick settings (tests, smoke runs).
        seed: the benchmark's seed (seed ``i`` of every arm: ``SeedSequence(seed, spawn_key=(i,))``).
        out: loop folders, the composition split and oracle scores; a rerun resumes the
            loops found there.
        cache_dir: trained models (default ``out/models``).
        progress: print what runs.
        **overrides: see :func:`~evodesign.benchmarks.loop.protocol.settings` (``arms``:
            which arms run, e.g. ``["adaptive_measured", "random"]``; default the protocol's).

    Returns:
        ``settings``, ``protocol`` (``"full"``, ``"quick"`` or ``"reduced"`` with what was
        reduced), per space ``spaces[name]`` (arms with HV curves and summaries, factors,
        tests, verdict), ``targets``, ``environment`` and ``wall_s``.
    """
    s = settings(quick, overrides)
    out = Path(out)
    cache = Path(cache_dir) if cache_dir is not None else out / "models"
    started = time.perf_counter()
    spaces: dict[str, Any] = {}
    for name in s["spaces"]:
        tick = time.perf_counter()
        _say(progress, f"{name}: preparing the data, the lab and the models")
        if name == "microstructure":
            setup = microstructure_setup(s[name], out / name, cache, progress)
        else:
            setup = composition_setup(s[name], seed, out / name, cache, progress)
        prepare_s = time.perf_counter() - tick
        traces, facts = _seed_runs(setup, s[name], seed, int(s["n_seeds"]), int(s["random_factor"]), out, cache,
                                   progress, list(s["arms"]))
        spaces[name] = _space_result(setup, s[name], traces, facts, int(s["random_factor"]))
        spaces[name]["prepare_s"] = prepare_s
        spaces[name]["seconds"] = time.perf_counter() - tick
    protocol = "quick" if quick else ("reduced" if s["reduced"] else "full")
    return {
        "benchmark": "loop",
        "quick": bool(quick),
        "protocol": protocol,
        "reduced": s["reduced"],
        "seed": seed,
        "settings": {k: v for k, v in s.items() if k not in ("microstructure", "composition", "reduced")},
        "arm_labels": {arm: ARM_LABELS[arm] for arm in s["arms"]},
        "spaces": spaces,
        "targets": dict(TARGETS),
        "hv": "hypervolume of the feasible measured designs under the lab's values; the campaign's normalisation "
        "(each objective over the data set's range), reference point 1.1; a loop read per round, random per evaluation",
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "wall_s": time.perf_counter() - started,
    }
