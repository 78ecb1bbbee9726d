"""How ``evodesign bench search`` scores the designs of an arm: the oracle and its judge.

The final designs of an arm and seed are its feasible non-dominated set under the surrogate,
at most :data:`~evodesign.benchmarks.search.protocol.MAX_DESIGNS`, thinned by crowding
distance (:func:`thin`). The :class:`Judge` scores them with the oracle: hypervolume
(objectives normalised by the full data's range, reference point 1.1), IGD and GD against
the oracle-scored Pareto front of the full data's feasible compounds, strict validity,
uniqueness, novelty (vs the training split and vs all data), rediscovered held-out Pareto
compounds (exact reduced formula) and the optimism gap (HV under the surrogate / HV under
the oracle).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.benchmarks.search.oracle import Oracle, nondominated, to_minimize
from evodesign.benchmarks.search.protocol import MAX_DESIGNS
from evodesign.campaign.checkpoint import atomic_write_text

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.benchmarks.search.oracle import OracleSplit

__all__ = ["Judge", "crowding_distance", "fit_oracle", "say", "thin"]


def say(progress: bool, message: str) -> None:
    """Print a progress line when ``progress`` is on."""
    if progress:
        print(message, flush=True)


def fit_oracle(split: OracleSplit, objectives: list, options: dict[str, Any], cv_folds: int, cv_rows: int | None,
               seed: int, folder: Path, progress: bool) -> tuple[Oracle, dict[str, Any]]:
    """Fit the oracle on the full data, with its cross-validation scores (cached in ``folder``).

    Returns:
        The fitted :class:`Oracle` and the JSON-ready ``{"model", "options", "cv_rows", "cv",
        "seconds"}`` of the result's ``oracle`` entry.
    """
    key = hashlib.sha256(
        repr((sorted(split.formulas.tolist()), [o.name for o in objectives], sorted(options.items()), cv_folds, cv_rows, seed)).encode()
    ).hexdigest()[:12]
    # Only the cross-validation scores are cached (JSON): a pickled model would be a file
    # evodesign reads that could run code. The oracle itself is refitted, deterministically.
    path = folder / f"oracle-{key}.json"
    oracle = Oracle(split.space, objectives, random_state=seed, **options)
    start = time.perf_counter()
    if path.exists():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            info = None
        if isinstance(info, dict) and "cv" in info:
            say(progress, f"oracle: cross-validation scores from {path}; fitting on {len(split.full):,} compounds")
            oracle.fit(split.full)
            return oracle, info
    say(progress, f"oracle: {cv_folds}-fold cross-validation and fit on {len(split.full):,} compounds")
    cv = oracle.cross_validate(split.full, n_folds=cv_folds, max_rows=cv_rows)
    oracle.fit(split.full)
    info = {
        "model": "HistGradientBoostingRegressor(loss='absolute_error') on Magpie statistics + fractions, trained on all data; HHI exact",
        "options": {"max_iter": oracle.max_iter, "learning_rate": oracle.learning_rate,
                    "max_leaf_nodes": oracle.max_leaf_nodes},
        "cv_rows": cv_rows,
        "cv": cv,
        "seconds": time.perf_counter() - start,
    }
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(info, indent=2, default=float) + "\n")
    return oracle, info



class Judge:
    """Scores designs with the oracle against the full data (see the module docstring)."""

    def __init__(self, split: OracleSplit, oracle: Oracle, objectives: list) -> None:
        from evodesign.campaign.results import Normalizer
        from evodesign.chemistry import SmactValidity

        self.split, self.oracle, self.objectives = split, oracle, objectives
        self.normalizer = Normalizer.from_data(objectives, split.full, split.space)
        rows = np.flatnonzero(split.feasible)
        F = self.normalizer(to_minimize(objectives, oracle.values(split.formulas[rows].tolist())))
        ok = np.isfinite(F).all(axis=1)
        F = F[ok]
        self.reference_front = F[nondominated(F)]
        Ft = self.normalizer(to_minimize(objectives, split.values[split.pareto]))
        self.true_front = Ft
        self.train = split.train_formulas
        self.known = split.known_formulas
        self.pareto = split.pareto_formulas
        self.validity = SmactValidity(split.space.elements)
        self._cache: dict[str, NDArray[np.float64]] = {}

    def values(self, formulas: Sequence[str]) -> NDArray[np.float64]:
        """Oracle natural values `(n, n_obj)`, cached by formula."""
        todo = sorted({f for f in formulas if f not in self._cache})
        if todo:
            for f, v in zip(todo, self.oracle.values(todo)):
                self._cache[f] = v
        return np.array([self._cache[f] for f in formulas]).reshape(len(formulas), len(self.objectives))

    def F(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        return to_minimize(self.objectives, values)

    def hv(self, formulas: Sequence[str]) -> float:
        if len(formulas) == 0:
            return 0.0
        F = self.F(self.values(formulas))
        return self.normalizer.hypervolume(F[np.isfinite(F).all(axis=1)])

    def score(self, formulas: Sequence[str], surrogate_values: NDArray[np.float64]) -> dict[str, Any]:
        """Every final-design metric of one arm and seed."""
        from pymoo.indicators.gd import GD
        from pymoo.indicators.igd import IGD

        formulas = list(formulas)
        n = len(formulas)
        out: dict[str, Any] = {"n_designs": n}
        if n == 0:
            return {**out, "hv_oracle": 0.0, "hv_surrogate": 0.0, "optimism_gap": float("nan"), "igd": float("nan"),
                    "gd": float("nan"), "strict_validity": float("nan"), "uniqueness": float("nan"),
                    "novelty_train": float("nan"), "novelty_all": float("nan"), "rediscovered": 0, "rediscovered_formulas": []}
        F = self.F(self.values(formulas))
        finite = np.isfinite(F).all(axis=1)
        Fn = self.normalizer(F[finite])
        out["hv_oracle"] = self.normalizer.hypervolume(F[finite])
        Fs = self.F(np.asarray(surrogate_values, dtype=np.float64))
        out["hv_surrogate"] = self.normalizer.hypervolume(Fs[np.isfinite(Fs).all(axis=1)])
        out["optimism_gap"] = out["hv_surrogate"] / out["hv_oracle"] if out["hv_oracle"] > 0 else float("nan")
        out["igd"] = float(IGD(self.reference_front)(Fn)) if len(Fn) else float("nan")
        out["gd"] = float(GD(self.reference_front)(Fn)) if len(Fn) else float("nan")
        counts = self.split.space.decode(self.split.space.to_vectors(formulas))
        out["strict_validity"] = float(self.validity(counts).mean())
        out["uniqueness"] = len(set(formulas)) / n
        out["novelty_train"] = float(np.mean([f not in self.train for f in formulas]))
        out["novelty_all"] = float(np.mean([f not in self.known for f in formulas]))
        found = sorted(set(formulas) & self.pareto)
        out["rediscovered"] = len(found)
        out["rediscovered_formulas"] = found
        return out


def thin(values: NDArray[np.float64], objectives: list, k: int = MAX_DESIGNS) -> NDArray[np.int64]:
    """Indices of at most ``k`` designs: non-dominated rank under the surrogate first, then
    crowding distance (NSGA-II's survival), `(n, n_obj)` natural values -> sorted indices."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    n = len(values)
    if n <= k:
        return np.arange(n)
    F = to_minimize(objectives, values)
    chosen: list[int] = []
    for front in NonDominatedSorting().do(F):
        front = np.asarray(front)
        if len(chosen) + len(front) <= k:
            chosen.extend(front.tolist())
            continue
        chosen.extend(front[np.argsort(-crowding_distance(F[front]), kind="stable")][: k - len(chosen)].tolist())
        break
    return np.sort(np.asarray(chosen))


def crowding_distance(F: NDArray[np.float64]) -> NDArray[np.float64]:
    """NSGA-II crowding distance of the rows of `(n, n_obj)` F, `(n,)` (inf at the extremes)."""
    n, m = F.shape
    d = np.zeros(n)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        span = F[order[-1], j] - F[order[0], j]
        d[order[[0, -1]]] = np.inf
        if n > 2 and span > 0:
            d[order[1:-1]] += (F[order[2:], j] - F[order[:-2], j]) / span
    return d


