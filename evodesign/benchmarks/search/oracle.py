"""The oracle protocol of ``evodesign bench search``: a held-out split and an independent oracle.

After Design-Bench (Trabucco et al., ICML 2022) and Off-MOO-Bench (Xue et al., ICML 2024):
the search may only learn from a *training split* of the data, and its final designs are
judged by an *oracle* it never saw.

* :func:`make_split` holds out, for the campaign's objectives, the true Pareto-optimal
  compounds of the full data (those the campaign's hard constraints allow, and the
  unconstrained ones) and every compound above the 80th percentile of a maximised
  objective (below the 20th of a minimised one). The rest is written to a CSV file, which
  becomes the campaign's ``[campaign] dataset``, so its surrogate and generators (cached by
  data hash) are trained on the split only.
* :class:`Oracle`: a different model family (scikit-learn's histogram gradient boosting on
  the same Magpie + fraction features) trained on *all* the data, with its own k-fold
  cross-validated accuracy. Analytic objectives (supply-risk HHI) are exact.

Example:
    >>> split = make_split(config, load_dataset("transport"), "runs/output/bench-search")  # doctest: +SKIP
    >>> oracle = Oracle(split.space, config.objectives, random_state=0).fit(split.full)   # doctest: +SKIP
    >>> values = oracle.values(["Bi2Te3", "SnSe"])                                        # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.config import CampaignConfig
    from evodesign.datasets import MaterialsDataset
    from evodesign.objectives import Objective
    from evodesign.representation import CompositionSpace

__all__ = ["Oracle", "OracleEvaluator", "OraclePredictor", "OracleSplit", "feasible_known", "make_split", "nondominated", "objective_values"]

#: percentile above which (below which, for minimised objectives) compounds are held out
HOLD_OUT_PERCENTILE = 80.0


def objective_values(
    objectives: Sequence[Objective], data: MaterialsDataset, space: CompositionSpace
) -> NDArray[np.float64]:
    """True natural values of every objective, `(n_data, n_obj)`; NaN where undefined
    (an element without HHI data)."""
    from evodesign.campaign.assembly import analytic_functions

    X = space.to_vectors(data.compositions)
    # on the data's own fractions, not on decoded formulas: a known compound's HHI is that
    # of its composition even where no formula of the space reproduces it
    analytic = analytic_functions([o.name for o in objectives if o.analytic], space)
    columns = []
    for o in objectives:
        if o.analytic:
            columns.append(analytic[o.name](X))
        else:
            columns.append(data.frame[o.name].to_numpy(dtype=np.float64))
    return np.column_stack(columns)


def to_minimize(objectives: Sequence[Objective], values: NDArray[np.float64]) -> NDArray[np.float64]:
    """pymoo's F `(n, n_obj)` of natural values `(n, n_obj)` (means; kappa is not applied)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(objectives))
    return np.column_stack([o.to_minimize(values[:, j]) for j, o in enumerate(objectives)])


def nondominated(F: NDArray[np.float64]) -> NDArray[np.int64]:
    """Indices of the non-dominated rows of a finite `(n, n_obj)` F (minimised), sorted."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    if len(F) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(NonDominatedSorting().do(np.asarray(F, dtype=np.float64), only_non_dominated_front=True))


def feasible_known(config: CampaignConfig, space: CompositionSpace, data: MaterialsDataset) -> NDArray[np.bool_]:
    """`(n_data,)`: which known compounds the campaign's hard constraints allow (they fit the
    space exactly, no denied element, SMACT validity as configured, HHI defined).

    Novelty and surrogate trust are left out: they depend on the split and the model.
    """
    from evodesign.representation import KnownDesigns
    from evodesign.chemistry import SmactValidity
    from evodesign.properties import SupplyRisk

    X = space.to_vectors(data.compositions)
    counts = space.decode(X)
    ok = np.zeros(len(X), dtype=bool)
    ok[KnownDesigns.from_vectors(space, X).rows] = True
    present = counts > 0
    ok &= present.sum(axis=1) <= config.space.max_elements
    ok &= counts.sum(axis=1) <= config.space.max_atoms
    deny = [space.elements.index(s) for s in config.space.deny if s in space.elements]
    if deny:
        ok &= ~present[:, deny].any(axis=1)
    if config.space.allow:
        allowed = np.isin(np.asarray(space.elements), list(config.space.allow))
        ok &= ~present[:, ~allowed].any(axis=1)
    mode = config.constraints.charge_balance
    if mode != "off":
        ok &= SmactValidity(space.elements)(counts, include_alloys=mode == "cdvae")
    if any(o.name.startswith("hhi_") for o in config.objectives) and config.constraints.hhi_missing == "infeasible":
        ok &= SupplyRisk(space.elements).n_missing(counts) == 0
    return ok


@dataclass
class OracleSplit:
    """The training split of a data set and what was held out of it.

    Attributes:
        full: the whole data set (what the oracle learns from).
        space: the composition space over the full data's elements.
        values: `(n_data, n_obj)` true natural objective values of the full data.
        feasible: `(n_data,)` the campaign's hard constraints hold (see :func:`feasible_known`).
        train: `(n_data,)` boolean mask of the training split.
        pareto: `(n_pareto,)` indices of the true Pareto-optimal feasible compounds (the
            rediscovery targets; all held out).
        thresholds: per objective, the value beyond which compounds were held out.
        csv_path: the training split as a CSV file (``formula`` + the surrogate targets).
    """

    full: MaterialsDataset
    space: CompositionSpace
    values: NDArray[np.float64]
    feasible: NDArray[np.bool_]
    train: NDArray[np.bool_]
    pareto: NDArray[np.int64]
    thresholds: dict[str, float]
    csv_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def formulas(self) -> NDArray[np.str_]:
        return np.asarray(self.full.formulas)

    @property
    def train_formulas(self) -> set[str]:
        return set(self.formulas[self.train].tolist())

    @property
    def pareto_formulas(self) -> set[str]:
        return set(self.formulas[self.pareto].tolist())

    @property
    def known_formulas(self) -> set[str]:
        return set(self.formulas.tolist())


def make_split(
    config: CampaignConfig, data: MaterialsDataset, folder: str | Path, percentile: float = HOLD_OUT_PERCENTILE
) -> OracleSplit:
    """Hold out the true Pareto set and the top of each objective; write the rest as CSV.

    Args:
        config: the campaign (its objectives, constraints and space limits).
        data: the full data set.
        folder: where the CSV goes (named by a hash of its content, so reruns reuse it and
            the campaign's model cache keys stay stable).
        percentile: hold out values above this percentile of maximised objectives (below
            ``100 - percentile`` of minimised ones).

    Returns:
        The :class:`OracleSplit`.
    """
    from evodesign.campaign.assembly import build_objectives, build_space

    objectives = build_objectives(config)
    space = build_space(config, data)
    values = objective_values(objectives, data, space)
    F = to_minimize(objectives, values)
    finite = np.isfinite(F).all(axis=1)
    feasible = feasible_known(config, space, data) & finite
    held = np.zeros(len(data), dtype=bool)
    thresholds = {}
    for j, o in enumerate(objectives):
        column = values[:, j]
        ok = np.isfinite(column)
        if o.direction == "max" and o.target is None:
            cut = float(np.percentile(column[ok], percentile))
            held |= ok & (column > cut)
        else:
            cut = float(np.percentile(column[ok], 100.0 - percentile))
            held |= ok & (column < cut)
        thresholds[o.name] = cut
    rows_f = np.flatnonzero(feasible)
    pareto = rows_f[nondominated(F[rows_f])]
    rows_all = np.flatnonzero(finite)
    pareto_any = rows_all[nondominated(F[rows_all])]
    held[pareto] = True
    held[pareto_any] = True
    train = ~held
    targets = list(config.surrogate_targets)
    frame = pd.DataFrame({"formula": np.asarray(data.formulas)[train]})
    for t in targets:
        frame[t] = data.frame[t].to_numpy(dtype=np.float64)[train]
    text = frame.to_csv(index=False, float_format="%.10g")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"train-split-{digest}.csv"
    if not csv_path.exists():
        tmp = csv_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(csv_path)
    info = {
        "n_data": int(len(data)),
        "n_train": int(train.sum()),
        "n_held_out": int(held.sum()),
        "n_feasible": int(feasible.sum()),
        "n_pareto_feasible": int(len(pareto)),
        "n_pareto_unconstrained": int(len(pareto_any)),
        "percentile": percentile,
        "thresholds": thresholds,
        "csv": str(csv_path),
    }
    return OracleSplit(data, space, values, feasible, train, pareto, thresholds, csv_path, info)


class Oracle:
    """Independent scorer of designs: gradient boosting on all data, exact analytic objectives.

    One :class:`sklearn.ensemble.HistGradientBoostingRegressor` per surrogate objective on
    :class:`~evodesign.surrogates.property_model.CompositionFeatures` (Magpie statistics +
    fractions) -- another model family than the campaign's deep ensemble, trained on the
    held-out compounds too. Analytic objectives (HHI) are computed exactly.

    Args:
        space: composition space over the full data's elements.
        objectives: the campaign's objectives.
        max_iter: boosting iterations per target.
        learning_rate: boosting learning rate.
        max_leaf_nodes: leaves per tree.
        random_state: seed (an int) of the boosting's validation split.
    """

    def __init__(
        self,
        space: CompositionSpace,
        objectives: Sequence[Objective],
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        random_state: int = 0,
    ) -> None:
        self.space = space
        self.objectives = tuple(objectives)
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    @property
    def targets(self) -> list[str]:
        return [o.name for o in self.objectives if not o.analytic]

    def _estimator(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            loss="absolute_error",
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=10,
            l2_regularization=1e-3,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _features(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        from evodesign.surrogates.property_model import CompositionFeatures

        if not hasattr(self, "_featurizer"):
            self._featurizer = CompositionFeatures(self.space.elements)
        return self._featurizer.transform(X)

    def fit(self, data: MaterialsDataset) -> Oracle:
        """Fit one regressor per surrogate target on every compound of ``data``."""
        from threadpoolctl import threadpool_limits

        start = time.perf_counter()
        X = self._features(self.space.to_vectors(data.compositions))
        self.models_ = {}
        # OpenMP threads of the boosting spin against each other on few shared cores
        with threadpool_limits(1):
            for t in self.targets:
                y = data.frame[t].to_numpy(dtype=np.float64)
                ok = np.isfinite(y)
                self.models_[t] = self._estimator().fit(X[ok], y[ok])
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def cross_validate(
        self, data: MaterialsDataset, n_folds: int = 5, max_rows: int | None = None
    ) -> dict[str, dict[str, float]]:
        """k-fold cross-validated MAE, RMSE and R2 per target (folds shuffled by ``random_state``).

        Args:
            data: the data set.
            n_folds: folds.
            max_rows: cross-validate on a seeded subsample of this many compounds (cheaper;
                a pessimistic estimate, since each fold's model sees fewer compounds than
                the oracle).
        """
        from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
        from sklearn.model_selection import KFold
        from threadpoolctl import threadpool_limits

        rows = np.arange(len(data))
        if max_rows is not None and max_rows < len(data):
            rng = np.random.default_rng(np.random.SeedSequence(self.random_state, spawn_key=(7,)))
            rows = np.sort(rng.choice(len(data), size=max_rows, replace=False))
        compositions = data.compositions
        X = self._features(self.space.to_vectors([compositions[i] for i in rows]))
        out: dict[str, dict[str, float]] = {}
        for t in self.targets:
            y = data.frame[t].to_numpy(dtype=np.float64)[rows]
            ok = np.flatnonzero(np.isfinite(y))
            pred = np.full(len(y), np.nan)
            folds = KFold(n_folds, shuffle=True, random_state=self.random_state)
            for tr, te in folds.split(ok):
                with threadpool_limits(1):
                    model = self._estimator().fit(X[ok[tr]], y[ok[tr]])
                    pred[ok[te]] = model.predict(X[ok[te]])
            out[t] = {
                "mae": float(mean_absolute_error(y[ok], pred[ok])),
                "rmse": float(np.sqrt(mean_squared_error(y[ok], pred[ok]))),
                "r2": float(r2_score(y[ok], pred[ok])),
                "n": int(len(ok)),
                "n_folds": int(n_folds),
                "subsample": max_rows is not None and max_rows < len(data),
            }
        return out

    def values(self, formulas: Sequence[str]) -> NDArray[np.float64]:
        """Oracle natural objective values, `(n,)` formulas -> `(n, n_obj)`; HHI NaN where
        an element has no data."""
        from evodesign.campaign.assembly import analytic_functions

        if not hasattr(self, "models_"):
            raise DataError("this Oracle is not fitted yet; call fit(data) first")
        n = len(formulas)
        out = np.full((n, len(self.objectives)), np.nan)
        if n == 0:
            return out
        X = self.space.to_vectors(list(formulas))
        predicted = self.predict_targets(X)
        analytic = analytic_functions([o.name for o in self.objectives if o.analytic], self.space)
        for j, o in enumerate(self.objectives):
            if o.analytic:
                out[:, j] = analytic[o.name](X)
            else:
                out[:, j] = predicted[:, self.targets.index(o.name)]
        return out

    def predict_targets(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Predictions `(n, len(targets))` of `(n, n_var)` fractions over this oracle's space."""
        from threadpoolctl import threadpool_limits

        if not hasattr(self, "models_"):
            raise DataError("this Oracle is not fitted yet; call fit(data) first")
        out = np.zeros((len(X), len(self.targets)))
        if len(X) and self.targets:
            features = self._features(np.asarray(X, dtype=np.float64))
            with threadpool_limits(1):
                for j, t in enumerate(self.targets):
                    out[:, j] = self.models_[t].predict(features)
        return out


class OraclePredictor:
    """The oracle as a campaign's surrogate (std 0): the "perfect surrogate" diagnostic.

    ``evodesign bench search --fitness oracle`` searches with the oracle itself as the
    fitness, so the arms differ only in how well their variation explores, not in how
    their designs fool a surrogate. The campaign's space may hold fewer elements than the
    oracle's (the training split lacks some); columns are mapped by element symbol.

    Args:
        oracle: a fitted :class:`Oracle`.
        space: the campaign's composition space.
    """

    def __init__(self, oracle: Oracle, space: CompositionSpace) -> None:
        missing = sorted(set(space.elements) - set(oracle.space.elements))
        if missing:
            raise DataError(f"the oracle's space lacks the campaign's elements {missing}")
        self.oracle = oracle
        self.targets = tuple(oracle.targets)
        index = {e: i for i, e in enumerate(oracle.space.elements)}
        self._columns = np.array([index[e] for e in space.elements], dtype=np.int64)

    def predict(self, X: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Oracle mean `(n, n_targets)` and a zero std of `(n, n_var)` campaign fractions."""
        X = np.asarray(X, dtype=np.float64)
        full = np.zeros((len(X), len(self.oracle.space.elements)))
        full[:, self._columns] = X
        mean = self.oracle.predict_targets(full)
        return mean, np.zeros_like(mean)


class OracleEvaluator:
    """The oracle as a closed loop's "lab" (``evodesign loop --evaluator oracle``): the
    oracle's prediction of every surrogate target for a table of designs (``formula``).

    A stand-in for measurements, to try a loop and to benchmark it: its values are a model's
    (gradient boosting on the whole data set), not the truth.

    Args:
        oracle: a fitted :class:`Oracle`.
    """

    def __init__(self, oracle: Oracle) -> None:
        self.oracle = oracle

    def __call__(self, designs: pd.DataFrame) -> pd.DataFrame:
        """`n` designs (a ``formula`` column) -> `n` rows, one column per target."""
        if "formula" not in designs.columns:
            raise DataError(f"the oracle reads a 'formula' column; got columns {list(designs.columns)}")
        X = self.oracle.space.to_vectors(list(designs["formula"]))
        return pd.DataFrame(self.oracle.predict_targets(X), columns=list(self.oracle.targets))
