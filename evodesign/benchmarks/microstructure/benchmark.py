"""``run_microstructure_benchmark``: every arm, every seed, the scores and the comparison.

Steps: build the campaign (``runs/microstructure.toml`` at the benchmark's size) and its
models (the library, the space, the solver); train the generative model once on the
library images that fit the space (fixed seed, the image codec's default architecture;
cached under ``out`` by its settings, its training time kept with it); run every arm for
every seed (seed ``i``: pymoo seed from ``SeedSequence(seed, spawn_key=(i,))``, the same
for every arm, so (a), (b) start from the same library images); score the fronts
(:mod:`~evodesign.benchmarks.microstructure.metrics`); compare (a) with the best of (b),
(c), (d).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from evodesign.benchmarks.microstructure.arms import config_objectives, library_front, run_arm
from evodesign.benchmarks.microstructure.budget import Front
from evodesign.benchmarks.microstructure.metrics import (
    autocorrelation,
    best_design,
    evals_to_reach,
    front_scores,
    hv_ceiling,
    stats,
)
from evodesign.benchmarks.microstructure.protocol import (
    ARM_LABELS,
    ARMS,
    COMPETITORS,
    TARGET_EVAL_SHARE,
    TARGET_RATIO,
    bench_config,
    settings,
)

__all__ = ["run_microstructure_benchmark"]

_METRICS = (
    "oracle_hv",
    "n_evaluations",
    "feasible_fraction",
    "n_front",
    "s2_gap",
    "vf_std",
    "vf_mean",
    "hs_ratio_median",
    "hs_ratio_max",
    "n_above_hs",
    "search_s",
)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[bench microstructure] {message}", flush=True)


def _generative_model(
    config: Any, library: Any, s: dict[str, Any], out: Path, progress: bool
) -> tuple[Any, str, dict]:
    """Train (or load from ``out``) the VAE + latent GAN on every library image (not only
    those that fit the space: the repair snaps what it decodes, and the model learns the
    morphologies from all the data); returns the model, its sidecar path and its training
    facts."""
    from operators import fit_generative_model, load_generative_model, save_generative_model

    images = np.asarray(library.images, dtype=np.uint8)
    X = images.reshape(len(images), -1).astype(np.float64)
    key = json.dumps(
        {
            "size": s["size"],
            "n_images": s["n_images"],
            "library_seed": config.data.seed,
            "vae": s["vae_options"],
            "gan": s["gan_options"],
            "seed": s["model_seed"],
            "data": hashlib.sha256(np.packbits(X.astype(np.uint8), axis=1).tobytes()).hexdigest(),
        },
        sort_keys=True,
        default=list,
    )
    path = out / f"generators-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    facts_path = path.with_name(path.name + "-facts.json")
    if facts_path.exists() and path.with_suffix(".json").exists():
        _say(progress, f"generative model: loaded {path}")
        return (
            load_generative_model(path),
            str(path.with_suffix(".json")),
            json.loads(facts_path.read_text()),
        )
    _say(progress, f"generative model: training on {len(X):,} library images ({s['size']} px)")
    start = time.perf_counter()
    model, summary = fit_generative_model(
        X,
        vae_options={"codec": "image", **s["vae_options"]},
        gan_options=dict(s["gan_options"]),
        random_state=np.random.default_rng(np.random.SeedSequence(int(s["model_seed"]))),
        progress=progress,
    )
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    save_generative_model(model, path, metadata={"benchmark": "microstructure"}, overwrite=True)
    facts = {
        "training_s": seconds,
        "n_images": int(len(X)),
        "latent_dim": int(model.latent_dim),
        "vae": summary.get("vae"),
        "gan": summary.get("gan"),
    }
    facts_path.write_text(json.dumps(facts, indent=2, default=float))
    _say(progress, f"generative model: trained in {seconds:.0f} s")
    return model, str(path.with_suffix(".json")), facts


def _reconstruction(
    model: Any, space: Any, X: np.ndarray, rng: np.random.Generator, n: int = 500
) -> dict:
    """Pixel accuracy of the model's reconstructions (encoder mean, decoded, repaired) of
    known designs (library images that fit the space, seen in training) and the share
    reconstructed exactly: a diagnosis of what (a), (d), (f) can reach."""
    rows = X[rng.choice(len(X), size=min(n, len(X)), replace=False)]
    rec = space.repair(model.decode(model.encode(rows, refine=False)))
    return {
        "n_images": int(len(rows)),
        "pixel_accuracy": float((rec == rows).mean()),
        "exact_share": float((rec == rows).all(axis=1).mean()),
    }


def run_microstructure_benchmark(
    config_path: str | Path = "runs/microstructure.toml",
    *,
    quick: bool = False,
    seed: int = 0,
    out: str | Path = "runs/output/bench-microstructure",
    arms: list[str] | None = None,
    progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Run the benchmark (see :mod:`evodesign.benchmarks.microstructure`).

    Args:
        config_path: the campaign benchmarked.
        quick: the quick settings (tests, smoke runs).
        seed: the benchmark's seed.
        out: the cached generative model goes here.
        arms: a subset of :data:`ARMS` (default all; ``learned`` always runs).
        progress: print what runs.
        **overrides: settings of :data:`FULL` / :data:`QUICK` (None: the default).

    Returns:
        The JSON-ready result.
    """
    from evodesign.campaign import Campaign
    from evodesign.datasets.microstructures import build_library

    s = settings(quick, overrides)
    chosen = [a for a in ARMS if a in set(arms or ARMS) | {"learned"}]
    bad = sorted(set(arms or ()) - set(ARMS))
    if bad:
        raise ValueError(f"unknown arms {bad}; choose from {list(ARMS)}")
    out = Path(out)
    started = time.perf_counter()
    base = Campaign.from_toml(config_path, out_root=out, progress=False).config
    config = bench_config(base, s)
    campaign = Campaign(config, out_root=out, progress=progress)
    models = campaign.prepare("run")
    conductivity = tuple(float(k) for k in config.physics.conductivity)
    library = build_library(
        int(s["n_images"]), int(s["size"]), int(config.data.seed), conductivity, progress=progress
    )
    objectives = config_objectives(config)
    model, model_path, facts = _generative_model(config, library, s, out, progress)
    facts["reconstruction"] = _reconstruction(
        model,
        models.space,
        np.asarray(models.known.vectors),
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(98,))),
    )
    r_max = int(s["r_max"])
    lib_auto = autocorrelation(np.asarray(library.images, dtype=np.uint8), r_max)

    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in chosen}
    best_images: dict[str, np.ndarray] = {}
    best_hv: dict[str, float] = {}
    library_run = library_front(config, models, library) if "library" in chosen else None
    for i in range(int(s["n_seeds"])):
        pymoo_seed = int(
            np.random.SeedSequence(seed, spawn_key=(i,)).generate_state(1, dtype=np.uint32)[0]
        )
        for arm in chosen:
            if arm == "library":
                result = library_run
            else:
                _say(progress, f"seed {i}: {ARM_LABELS[arm]}")
                result = run_arm(arm, config, models, model, model_path, library, s, pymoo_seed)
            assert result is not None
            scores = front_scores(
                objectives,
                result["front_values"],
                result["front_images"],
                conductivity,
                lib_auto,
                r_max,
            )
            front = Front(objectives, conductivity)
            front.values = result["front_values"]
            hv = front.hypervolume()
            runs[arm].append(
                {
                    "seed_index": i,
                    "oracle_hv": hv,
                    "curve": result["curve"],
                    "n_evaluations": result["n_evaluations"],
                    "feasible_fraction": result["feasible_fraction"],
                    "search_s": result["search_s"],
                    **scores,
                }
            )
            if scores["best"] is not None and hv >= best_hv.get(
                arm, -1.0
            ):  # the best seed's best design
                best_hv[arm] = hv
                best_images[arm] = result["front_images"][
                    best_design(objectives, result["front_values"], conductivity)
                ]
            _say(
                progress,
                f"seed {i}: {arm} oracle HV {hv:.4f}, {result['n_evaluations']} solves, "
                f"{scores['n_front']} on the front, {result['search_s']:.0f} s",
            )

    summary = {
        arm: {m: stats([r[m] for r in rows]) for m in _METRICS} for arm, rows in runs.items()
    }
    result = {
        "benchmark": "microstructure",
        "quick": quick,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
        "budget_per_arm_and_seed": int(s["pop_size"]) * int(s["n_gen"]),
        "seed": seed,
        "config": str(config_path),
        "conductivity": list(conductivity),
        "normalisation": "k -> (k - k_matrix) / (k_filler - k_matrix), filler fraction as is; "
        "reference point: k_matrix for a maximised k, filler fraction 1",
        "arm_labels": {arm: ARM_LABELS[arm] for arm in chosen},
        "generative_model": facts,
        "library": {
            "n_images": int(len(library.images)),
            "n_feasible": int(library_run["n_feasible_library"]) if library_run else None,
            "vf_mean": float(np.mean(library.volume_fraction)),
            "vf_std": float(np.std(library.volume_fraction)),
        },
        "arms": {
            arm: {
                "oracle_hv": [r["oracle_hv"] for r in rows],
                "summary": summary[arm],
                "runs": rows,
            }
            for arm, rows in runs.items()
        },
        "comparison": _comparison(runs, int(s["pop_size"]) * int(s["n_gen"])),
        "hv_ceiling": _ceiling(objectives, conductivity),
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "wall_s": time.perf_counter() - started,
    }
    result["_best_images"] = best_images  # for the figures; dropped before the JSON
    return result


def _ceiling(objectives: list[Any], conductivity: tuple[float, float]) -> dict[str, Any] | None:
    """The physical ceiling of the oracle HV (:func:`hv_ceiling`) for the default campaign's
    objectives (max k_xx, max k_yy, min volume_fraction); None for other objectives."""
    directions = {o.name: o.direction for o in objectives}
    if directions != {"k_xx": "max", "k_yy": "max", "volume_fraction": "min"}:
        return None
    return {
        **hv_ceiling(conductivity),
        "bound": "2D G-closure (Lurie-Cherkaev) upper bound; "
        "isotropic_hs: both conductivities on the Hashin-Shtrikman upper bound",
    }


def _comparison(runs: dict[str, list[dict[str, Any]]], budget: int) -> dict[str, Any]:
    """(a) against the best of (b), (c), (d): per seed and in median oracle HV."""
    others = [a for a in COMPETITORS if a in runs]
    if not others:
        return {"competitors": []}
    medians = {a: float(np.median([r["oracle_hv"] for r in runs[a]])) for a in others}
    best_arm = max(medians, key=medians.get)
    learned = [r["oracle_hv"] for r in runs["learned"]]
    per_seed_best = [max(runs[a][i]["oracle_hv"] for a in others) for i in range(len(learned))]
    ratio = float(np.median(learned) / medians[best_arm]) if medians[best_arm] > 0 else float("inf")
    # evaluations (a) needed to reach, on each seed, the best competitor's final HV there
    shares = []
    for i, target in enumerate(per_seed_best):
        n = evals_to_reach(runs["learned"][i]["curve"], target)
        shares.append(n / budget if n is not None else None)
    reached = [x for x in shares if x is not None]
    median_share = (
        float(np.median([x if x is not None else np.inf for x in shares]))
        if shares
        else float("nan")
    )
    return {
        "competitors": others,
        "median_oracle_hv": {"learned": float(np.median(learned)), **medians},
        "best_competitor": best_arm,
        "ratio_median_hv": ratio,
        "per_seed_ratio_to_best": [
            lv / b if b > 0 else float("inf") for lv, b in zip(learned, per_seed_best)
        ],
        "seeds_won": int(sum(lv > b for lv, b in zip(learned, per_seed_best))),
        "n_seeds": len(learned),
        "eval_share_to_reach_best": shares,
        "median_eval_share_to_reach_best": median_share,
        "n_seeds_reached": len(reached),
        "target": f"ratio >= {TARGET_RATIO} or median share <= {TARGET_EVAL_SHARE:.3f}",
        "target_met": bool(ratio >= TARGET_RATIO or median_share <= TARGET_EVAL_SHARE),
    }
