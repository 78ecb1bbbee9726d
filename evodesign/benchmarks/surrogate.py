"""``evodesign bench surrogate``: deep ensemble vs random forest on one fixed split.

Both models see the same features (Magpie statistics + element fractions) and the same
seeded 80/20 split by reduced formula (polymorphs were already merged by the data set, so
no formula is on both sides). Per target and model the JSON holds MAE, RMSE, R^2,
Spearman's rho, the 90% interval coverage (ensemble) and the fit time.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from evodesign.exceptions import DataError

__all__ = ["format_surrogate_table", "run_surrogate_benchmark", "split_by_formula"]


def split_by_formula(
    formulas: Sequence[str], test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of row indices so that each reduced formula falls on one side only.

    Returns:
        ``(train_rows, test_rows)``, sorted int arrays.
    """
    formulas = np.asarray(formulas)
    unique = np.unique(formulas)
    rng = np.random.default_rng(seed)
    test_formulas = rng.choice(unique, size=int(round(test_fraction * len(unique))), replace=False)
    is_test = np.isin(formulas, test_formulas)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray | None) -> dict[str, float]:
    out = {
        "mae": float(mean_absolute_error(y, mean)),
        "rmse": float(np.sqrt(mean_squared_error(y, mean))),
        "r2": float(r2_score(y, mean)),
        "spearman": float(spearmanr(y, mean).statistic),
    }
    if std is not None:
        z = norm.ppf(0.95)
        out["coverage90"] = float(np.mean(np.abs(y - mean) <= z * std))
        out["mean_std"] = float(np.mean(std))
    return out


def _throughput(features: Any, model: Any, X: np.ndarray, n: int = 20_000) -> float:
    """Compositions scored per second (features + mean + std), best of 3 on n rows."""
    X = np.resize(X, (n, X.shape[1]))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        model.predict(features.transform(X), return_std=True)
        best = min(best, time.perf_counter() - start)
    return n / best


def run_surrogate_benchmark(
    dataset: str = "transport",
    targets: Sequence[str] = ("log10_PF_p", "S_p"),
    seed: int = 0,
    test_fraction: float = 0.2,
    max_rows: int | None = None,
    ensemble_params: dict[str, Any] | None = None,
    forest_params: dict[str, Any] | None = None,
    joint: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the deep ensemble and the random forest per target and score them.

    Args:
        dataset: a built-in data set name (see ``evodesign datasets``).
        targets: target columns of that data set.
        seed: drives the split and both models.
        test_fraction: share of formulas held out.
        max_rows: subsample the data set first (for smoke tests); None = all rows.
        ensemble_params / forest_params: overrides of the models' hyperparameters.
        joint: one ensemble for all targets (as a campaign trains it; rows missing a
            target are masked out of its loss) instead of one per target. The forest is
            fitted per target either way.
        progress: print one line per fitted model.

    Returns:
        A JSON-ready dict: ``{"results": {target: {"ensemble": {...}, "rf": {...}}}, ...}``.
    """
    import sklearn
    import torch

    import evodesign
    from evodesign.datasets import load_dataset
    from evodesign.representation import CompositionSpace
    from evodesign.surrogates import CompositionFeatures, DeepEnsembleRegressor, RandomForestSurrogate

    data = load_dataset(dataset)
    missing = [t for t in targets if t not in data.targets]
    if missing:
        raise DataError(
            f"unknown target(s) {missing} for data set {dataset!r}; valid: {list(data.targets)}"
        )
    frame = data.frame
    if max_rows is not None and max_rows < len(frame):
        frame = frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    space = CompositionSpace(data.elements)
    X = space.to_vectors(list(frame["composition"]))
    features = CompositionFeatures(space.elements)
    t0 = time.perf_counter()
    F = features.transform(X)
    featurize_seconds = time.perf_counter() - t0
    train, test = split_by_formula(frame["formula"].to_numpy(), test_fraction, seed)

    results: dict[str, Any] = {}
    shared = None
    if joint:
        Y = frame[list(targets)].to_numpy(dtype=np.float64)
        rows = train[np.isfinite(Y[train]).any(axis=1)]
        start = time.perf_counter()
        shared = DeepEnsembleRegressor(random_state=seed, **(ensemble_params or {})).fit(F[rows], Y[rows])
        shared_seconds = time.perf_counter() - start
        if progress:
            print(f"  joint ensemble for {list(targets)}: fit {shared_seconds:.1f}s")
    for k, target in enumerate(targets):
        y = frame[target].to_numpy(dtype=np.float64)
        tr, te = train[np.isfinite(y[train])], test[np.isfinite(y[test])]
        results[target] = {}
        models = {
            "ensemble": shared if joint else DeepEnsembleRegressor(random_state=seed, **(ensemble_params or {})),
            # the baseline: trained on every training row, with the raw spread of the trees
            # (calibrate=False), so that it stays comparable with the forest figures in
            # docs/benchmarks/NOTES.md; forest_params can override both
            "rf": RandomForestSurrogate(random_state=seed, **{"calibrate": False, **(forest_params or {})}),
        }
        for name, model in models.items():
            start = time.perf_counter()
            if joint and name == "ensemble":
                mean, std = (a[:, k] for a in model.predict(F[te], return_std=True))
                fit_seconds = shared_seconds
            else:
                model.fit(F[tr], y[tr])
                fit_seconds = time.perf_counter() - start
                mean, std = model.predict(F[te], return_std=True)
            row = _metrics(y[te], mean, std if name == "ensemble" else None)
            row["fit_seconds"] = fit_seconds
            if name == "ensemble":
                row["n_epochs"] = int(model.n_epochs_)
                row["std_scale"] = float(model.std_scale_[k if joint else 0])
                row["predict_per_second"] = _throughput(features, model, X[te])
            results[target][name] = row
            if progress:
                print(f"  {target:>12s}  {name:8s}  MAE {row['mae']:.4g}  fit {fit_seconds:.1f}s")
        results[target]["mae_ratio"] = (
            results[target]["ensemble"]["mae"] / results[target]["rf"]["mae"]
        )
    return {
        "benchmark": "surrogate",
        "dataset": dataset,
        "targets": list(targets),
        "seed": seed,
        "split": "80/20 by reduced formula" if test_fraction == 0.2 else f"{test_fraction} test",
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "n_features": int(F.shape[1]),
        "features": features.to_dict()["kind"],
        "featurize_seconds": featurize_seconds,
        "ensemble_params": {k: v for k, v in models["ensemble"].get_params().items() if k != "random_state"},
        "joint": bool(joint),
        "results": results,
        "environment": {
            "evodesign": evodesign.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "torch_threads": torch.get_num_threads(),
        },
    }


def format_surrogate_table(result: dict[str, Any]):  # -> rich.table.Table
    """A rich table of the benchmark result (one row per target and model)."""
    from rich.table import Table

    table = Table(
        title=f"Surrogates on {result['dataset']} ({result['n_train']} train / "
        f"{result['n_test']} test formulas, seed {result['seed']})"
    )
    for col in ("target", "model", "MAE", "RMSE", "R2", "Spearman", "cov90", "fit s"):
        justify = "left" if col in ("target", "model") else "right"
        table.add_column(col, justify=justify, no_wrap=True)
    for target, rows in result["results"].items():
        for model in ("ensemble", "rf"):
            r = rows[model]
            cov = f"{r['coverage90']:.3f}" if "coverage90" in r else "-"
            table.add_row(
                target, model, f"{r['mae']:.4g}", f"{r['rmse']:.4g}", f"{r['r2']:.3f}",
                f"{r['spearman']:.3f}", cov, f"{r['fit_seconds']:.1f}",
            )
        table.add_row(target, "ratio", f"{rows['mae_ratio']:.3f}", "", "", "", "", "")
    return table
