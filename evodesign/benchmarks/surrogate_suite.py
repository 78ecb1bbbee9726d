"""``evodesign bench surrogate --suite``: per-target model selection across data sets (issue 16).

For every task (a data set and a target) and every seeded 80/20 split by reduced formula:
the candidates (by default the deep ensemble, random forest and gradient boosting; also
the attention network and the forest predicting the median of its trees; each calibrated as
a campaign fits it) and the baseline random forest (the mean of its trees, every training
row, no calibration: the model a user fits in five lines of scikit-learn) are fitted on the
training rows and scored on the test rows (MAE, RMSE, R^2, Spearman, coverage of the 90% interval, fit seconds);
"blend" is the mean of the candidates' predictions (what AutoSurrogate predicts when its CV
picks the blend; scored here only in the splits where it was picked); with ``weighted``,
"weighted" is the weighted mean that AutoSurrogate's greedy ensemble selection chose on the
training rows' out-of-fold predictions, scored on every split;
:class:`~evodesign.surrogates.AutoSurrogate`'s cross-validation (GroupKFold by formula on
the training rows only) picks a candidate, and the "auto" row is that candidate's test
score: AutoSurrogate.fit refits the same candidate on the same rows (with its own seed), so
this saves one refit per split without looking at the test rows. The ratio auto / baseline
MAE per split, its spread, and the geometric mean over tasks are the issue's targets.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evodesign.benchmarks.surrogate import _metrics, split_by_formula
from evodesign.exceptions import DataError

__all__ = ["DEFAULT_TASKS", "QUICK", "format_suite_table", "run_surrogate_suite", "suite_section", "task_arrays"]

#: (data set, target): the transport targets of the default campaign, then the wheel data sets
DEFAULT_TASKS: tuple[tuple[str, str], ...] = (
    ("expt_gap", "band_gap"),
    ("bulk_modulus", "K_VRH"),
    ("transport", "log10_PF_p"),
    ("transport", "S_p"),
)

#: settings of ``--quick``: tiny models and data, for tests and smoke runs
QUICK: dict[str, Any] = {
    "max_rows": 200,
    "n_splits": 2,
    "cv_folds": 2,
    "candidate_params": {
        "ensemble": {"n_members": 2, "hidden_layer_sizes": (16,), "max_epochs": 5, "patience": 5, "batch_size": 64},
        "forest": {"n_estimators": 5},
        "forest_median": {"n_estimators": 5},
        "boosting": {"max_iter": 10, "learning_rate": 0.3},
        "attention": {"n_members": 2, "d_model": 8, "n_layers": 1, "n_heads": 2, "max_epochs": 2, "patience": 2},
    },
}

#: what the issue asks of the selected model (MAE ratios to the baseline forest, coverage)
TARGETS = {"ratio_per_task": 0.9, "ratio_geomean": 0.85, "coverage90": (0.85, 0.95)}


def _load(dataset: str, target: str, cache_dir: str | None) -> tuple[Any, str]:
    from evodesign.benchmarks.composition_data import WHEEL_DATASETS, load_wheel_dataset
    from evodesign.datasets import load_dataset

    if dataset in WHEEL_DATASETS:
        data, spec = load_wheel_dataset(dataset, cache_dir)
        licence = spec.licence
    else:
        data = load_dataset(dataset)
        licence = "built-in data set (see `evodesign datasets`)"
    if target not in data.targets:
        raise DataError(f"unknown target {target!r} for data set {dataset!r}; valid: {list(data.targets)}")
    return data, licence


def task_arrays(
    dataset: str, target: str, cache_dir: str | None = None, max_rows: int | None = None, seed: int = 0
) -> tuple[Any, str, Any, Any, np.ndarray, np.ndarray]:
    """A task's rows as the suite scores them: the rows with a finite ``target`` (at most
    ``max_rows``, a seeded sample), :class:`PropertyModel`'s features (Magpie statistics, then
    the element fractions in the order of the space's elements) and the target.

    Returns:
        ``(data, licence, frame, space, X, y)``: the loaded data set, its licence, the rows
        kept, their composition space, `(n, n_features)` features and `(n,)` target values.
    """
    from evodesign.representation import CompositionSpace
    from evodesign.surrogates.property_model import CompositionFeatures

    data, licence = _load(dataset, target, cache_dir)
    frame = data.frame[np.isfinite(data.frame[target].to_numpy(dtype=np.float64))]
    if max_rows is not None and max_rows < len(frame):
        frame = frame.sample(n=max_rows, random_state=seed)
    frame = frame.reset_index(drop=True)
    space = CompositionSpace(data.elements)
    X = CompositionFeatures(space.elements).transform(space.to_vectors(list(frame["composition"])))
    return data, licence, frame, space, X, frame[target].to_numpy(dtype=np.float64)


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def run_surrogate_suite(
    tasks: Sequence[tuple[str, str]] = DEFAULT_TASKS,
    n_splits: int = 3,
    seed: int = 0,
    candidates: Sequence[str] = ("ensemble", "forest", "boosting"),
    candidate_params: dict[str, dict[str, Any]] | None = None,
    cv_folds: int = 5,
    cv_rows: int | None = 10_000,
    weighted: bool = False,
    max_rows: int | None = None,
    threads: int = 1,
    cache_dir: str | None = None,
    json_path: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the suite; see the module docstring.

    Args:
        tasks: ``(data set, target)`` pairs; data sets are built-in names or keys of
            :data:`~evodesign.benchmarks.composition_data.WHEEL_DATASETS`.
        n_splits: seeded splits per task (seeds ``seed, seed + 1, ...``).
        seed: first split seed; it also seeds the models.
        candidates / candidate_params: as :class:`~evodesign.surrogates.AutoSurrogate`;
            ``"attention"`` gets ``elements`` from each task's composition space (the order
            of the fraction columns the features end with).
        cv_folds / cv_rows: the selection's folds and row cap.
        weighted: the selection also scores greedy ensemble selection (``"weighted"``, see
            :class:`~evodesign.surrogates.AutoSurrogate`); its test metrics, with the weights
            the selection chose on the training rows, are reported on every split.
        max_rows: subsample every data set first (smoke tests); None = all rows.
        threads: torch and OpenMP threads per fit (on a shared machine more threads can
            be many times slower).
        cache_dir: where the data wheels are kept (default under ``EVODESIGN_CACHE_DIR``).
        json_path: if given, the result so far is written here after every task (a long
            run that is stopped keeps its finished tasks).
        progress: print a line per fit.

    Returns:
        A JSON-ready dict (``tasks``: one entry per task with its splits and summary;
        ``geomean_auto_over_rf``; ``verdict``).
    """
    import sklearn
    import torch

    import evodesign
    from evodesign.surrogates import RandomForestSurrogate
    from evodesign.surrogates.selection import CANDIDATES, AutoSurrogate, combine_predictions

    # refused before minutes of data loading and fitting
    unknown = [name for name in candidates if name not in CANDIDATES]
    if unknown or not candidates:
        what = f"unknown surrogate candidate(s) {unknown}" if unknown else "no surrogate candidates"
        raise DataError(f"{what}; valid: {', '.join(CANDIDATES)}")
    # the networks' threads are torch's, set below for the whole suite
    thread_params = {"ensemble": {}, "attention": {}, "forest": {"n_jobs": threads},
                     "forest_median": {"n_jobs": threads}, "boosting": {"n_threads": threads}}
    params = {name: {**thread_params[name], **(candidate_params or {}).get(name, {})} for name in thread_params}
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    result: dict[str, Any] = {
        "benchmark": "surrogate-suite",
        "n_splits": n_splits, "seed": seed, "candidates": list(candidates), "weighted": weighted, "cv_folds": cv_folds,
        "cv_rows": cv_rows, "max_rows": max_rows, "threads": threads,
        "candidate_params": {k: {p: list(v) if isinstance(v, tuple) else v for p, v in d.items()}
                             for k, d in params.items()},
        "split": "80/20 by reduced formula",
        "baseline": "rf: RandomForestSurrogate(calibrate=False), every training row",
        "targets": {"ratio_per_task": TARGETS["ratio_per_task"], "ratio_geomean": TARGETS["ratio_geomean"],
                    "coverage90": list(TARGETS["coverage90"])},
        "tasks": [],
        "environment": {"evodesign": evodesign.__version__, "python": platform.python_version(),
                        "torch": torch.__version__, "scikit-learn": sklearn.__version__},
    }
    try:
        for dataset, target in tasks:
            data, licence, frame, space, X, y = task_arrays(dataset, target, cache_dir, max_rows, seed)
            # the attention reads the fraction columns the features end with, in this order
            task_params = {**params, "attention": {**params["attention"], "elements": tuple(space.elements)}}
            formulas = frame["formula"].to_numpy()
            task: dict[str, Any] = {"dataset": dataset, "target": target, "n_rows": len(frame),
                                    "n_features": int(X.shape[1]), "source": data.source, "licence": licence,
                                    "splits": []}
            for s in range(n_splits):
                split_seed = seed + s
                train, test = split_by_formula(formulas, 0.2, split_seed)
                models: dict[str, Any] = {}
                predictions = {}
                auto = AutoSurrogate(candidates=candidates, candidate_params=task_params, n_splits=cv_folds, cv_rows=cv_rows,
                                     target_names=[target], weighted=weighted, random_state=split_seed)
                fitted = {name: auto.candidate(name, split_seed) for name in candidates}
                fitted["rf"] = RandomForestSurrogate(**{**params["forest"], "calibrate": False,
                                                        "random_state": split_seed})
                for name, model in fitted.items():
                    start = time.perf_counter()
                    model.fit(X[train], y[train])
                    seconds = time.perf_counter() - start
                    mean, std = predictions[name] = model.predict(X[test], return_std=True)
                    models[name] = {**_metrics(y[test], mean, None if name == "rf" else std),
                                    "fit_seconds": seconds}
                    if progress:
                        print(f"  {dataset}/{target} split {s} {name:9s} MAE {models[name]['mae']:.4g} "
                              f"fit {seconds:.0f}s", flush=True)
                start = time.perf_counter()
                selected, cv_scores = auto.cross_validate(X[train], y[train], groups=formulas[train])
                cv_seconds = time.perf_counter() - start
                choice = selected[target]
                # AutoSurrogate's combinations of the candidates' test predictions, as it predicts
                combined = {"blend": {n: 1.0 for n in candidates}} if choice == "blend" else {}
                if "weighted" in cv_scores[target]:
                    combined["weighted"] = {n: w for n, w in cv_scores[target]["weighted"]["weights"].items() if w > 0}
                for name, w in combined.items():
                    mean, std = combine_predictions([predictions[n][0] for n in w], [predictions[n][1] for n in w],
                                                    list(w.values()), cv_scores[target][name]["std_factor"])
                    models[name] = {**_metrics(y[test], mean, std),
                                    "fit_seconds": sum(models[n]["fit_seconds"] for n in w)}
                if "weighted" in combined:
                    models["weighted"]["weights"] = cv_scores[target]["weighted"]["weights"]
                models["auto"] = {**models[choice], "selected": choice, "cv_seconds": cv_seconds}
                ratio = models["auto"]["mae"] / models["rf"]["mae"]
                if progress:
                    print(f"  {dataset}/{target} split {s} auto -> {choice}: MAE {models['auto']['mae']:.4g}, "
                          f"{ratio:.3f}x the forest (CV {cv_seconds:.0f}s)", flush=True)
                task["splits"].append({"seed": split_seed, "n_train": int(len(train)), "n_test": int(len(test)),
                                       "models": models, "cv_scores": cv_scores[target],
                                       "auto_over_rf": ratio})
            task["summary"] = _summary(task["splits"])
            result["tasks"].append(task)
            _finish(result)
            if json_path is not None:
                Path(json_path).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        torch.set_num_threads(torch_threads)
    return result


def _summary(splits: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std over splits of every metric of every model, and of the auto / rf ratio."""
    out: dict[str, Any] = {}
    names = dict.fromkeys(name for sp in splits for name in sp["models"])  # "blend" only where picked
    for name in names:
        rows = [sp["models"][name] for sp in splits if name in sp["models"]]
        metrics = [k for k, v in rows[0].items() if isinstance(v, float)]
        out[name] = {m: _spread([r[m] for r in rows]) for m in metrics}
    out["selected"] = [sp["models"]["auto"]["selected"] for sp in splits]
    out["auto_over_rf"] = {**_spread([sp["auto_over_rf"] for sp in splits]),
                           "per_split": [sp["auto_over_rf"] for sp in splits]}
    return out


def _finish(result: dict[str, Any]) -> None:
    """Geometric mean of the ratios over tasks and the verdict against the issue's targets."""
    ratios = [t["summary"]["auto_over_rf"]["mean"] for t in result["tasks"]]
    coverages = [t["summary"]["auto"]["coverage90"]["mean"] for t in result["tasks"]]
    lo, hi = TARGETS["coverage90"]
    result["geomean_auto_over_rf"] = float(math.exp(np.mean(np.log(ratios))))
    result["verdict"] = {
        "every_task_ratio_le_0.9": bool(all(r <= TARGETS["ratio_per_task"] for r in ratios)),
        "geomean_le_0.85": bool(result["geomean_auto_over_rf"] <= TARGETS["ratio_geomean"]),
        "coverage90_in_0.85_0.95": bool(all(lo <= c <= hi for c in coverages)),
    }


def format_suite_table(result: dict[str, Any]):  # -> rich.table.Table
    """A rich table: per task and model the mean +/- std over splits."""
    from rich.table import Table

    table = Table(title=f"Surrogates, {result['n_splits']} splits by formula; auto = CV choice "
                        f"(geomean auto/rf MAE {result.get('geomean_auto_over_rf', float('nan')):.3f})")
    for col in ("task", "model", "MAE", "RMSE", "R2", "Spearman", "cov90", "fit s"):
        table.add_column(col, justify="left" if col in ("task", "model") else "right", no_wrap=True)
    for task in result["tasks"]:
        label = f"{task['dataset']}/{task['target']}"
        summary = task["summary"]
        for name in [*result["candidates"], "rf", "auto"]:
            s = summary[name]

            def cell(metric: str, fmt: str = ".4g", s: dict = s) -> str:
                if metric not in s:
                    return "-"
                return f"{s[metric]['mean']:{fmt}} +/- {s[metric]['std']:.2g}"

            table.add_row(label, name, cell("mae"), cell("rmse"), cell("r2", ".3f"), cell("spearman", ".3f"),
                          cell("coverage90", ".3f"), f"{s['fit_seconds']['mean']:.0f}")
        ratio = summary["auto_over_rf"]
        table.add_row(label, "auto/rf", f"{ratio['mean']:.3f} +/- {ratio['std']:.2g}",
                      "selected: " + ",".join(summary["selected"]), "", "", "", "")
    return table


def suite_section(r: dict[str, Any], heading: str) -> list[str]:
    """``evodesign bench surrogate --suite``: each candidate, the CV's choice ("auto") and the
    baseline forest ("rf") per data set and target, mean +/- std over the seeded splits."""
    lines = [
        heading,
        "",
        f"`evodesign bench surrogate --suite` ({r['n_splits']} seeded split(s), {r['split']}; CV "
        f"{r['cv_folds']} folds on at most {r['cv_rows']} rows; baseline {r['baseline']}). "
        f"Geometric mean of auto / rf MAE: {r['geomean_auto_over_rf']:.3f}. Targets: per task <= "
        f"{r['targets']['ratio_per_task']}, geomean <= {r['targets']['ratio_geomean']}, coverage90 in "
        f"{r['targets']['coverage90']}; met: "
        + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in r["verdict"].items())
        + ".",
        "",
    ]
    for task in r["tasks"]:
        summary = task["summary"]
        ratio = summary["auto_over_rf"]
        lines += [
            f"{task['dataset']} / {task['target']} ({task['n_rows']:,} rows; selected per split: "
            f"{', '.join(summary['selected'])}; auto / rf MAE {ratio['mean']:.3f} +/- {ratio['std']:.3f}). "
            f"Source: {task['source']}",
            "",
            "| model | MAE | RMSE | R2 | Spearman | coverage90 | fit s |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, m in summary.items():
            if not isinstance(m, dict) or "mae" not in m:
                continue

            def cell(key: str, digits: int = 3) -> str:
                value = m.get(key)
                return "" if value is None else f"{value['mean']:.{digits}f} +/- {value['std']:.{digits}f}"

            lines.append(
                f"| {name} | {cell('mae')} | {cell('rmse')} | {cell('r2')} | {cell('spearman')} | "
                f"{cell('coverage90')} | {cell('fit_seconds', 0)} |"
            )
        lines.append("")
    return lines
