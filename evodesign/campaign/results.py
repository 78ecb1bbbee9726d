"""What a run writes, and how it is read back: tables, manifest, plots, progress lines.

A run folder ``runs/output/<campaign>/<run-id>/`` holds:

* ``config.toml`` -- the resolved campaign (every default written out);
* ``manifest.json`` -- package versions, the seed and its SeedSequence, pymoo's seed,
  model paths and sha256, timings, evaluation counts, status;
* ``pareto.csv`` -- the reported designs: the feasible non-dominated designs, at most
  ``[search] max_per_system`` per chemical system (the least crowded on the front first):
  formula, chemical system, each objective's value (surrogate mean) and std, every
  constraint value (``g_*``, feasible when <= 0), novelty, the nearest known formula and its
  L1 distance in fractions, the operator that made the design and its parents' formulas;
* ``pareto_all.csv`` -- the same table for every feasible non-dominated design;
* ``history.csv`` -- per generation: evaluations so far, hypervolume, size of the
  non-dominated set and the chemical systems it spans, feasible fraction and failures of
  that generation's evaluations, seconds;
* ``pareto.png`` (the front over the known materials in grey) and ``convergence.png``;
* ``checkpoint.bin`` (runs only; see :mod:`evodesign.campaign.checkpoint`).

Hypervolume is computed on objectives normalised by the range the known materials of the
data set span (0 = the best known value, 1 = the worst), with the reference point 1.1 in
every objective, so values are comparable across generations, seeds and arms.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evodesign.campaign.checkpoint import CHECKPOINT, atomic_write_text
from evodesign.search.survival import chemical_system_ids, chemical_system_names, system_occurrence
from operators.provenance import parent_keys, vector_key

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.config import CampaignConfig
    from evodesign.campaign.models import CampaignModels
    from evodesign.campaign.runner import Campaign, CampaignResult
    from evodesign.datasets import MaterialsDataset
    from evodesign.objectives import Objective
    from evodesign.problem import DesignProblem
    from evodesign.representation import CompositionSpace

__all__ = ["CHECKPOINT", "Normalizer", "cap_per_system", "load_run", "pareto_tables", "write_run"]

PACKAGES = ("evodesign", "numpy", "torch", "pymoo", "pymatgen", "smact", "matminer", "deap", "joblib", "pandas")
HISTORY_COLUMNS = (
    "gen", "n_eval", "hypervolume", "n_nondominated", "n_systems", "feasible_fraction", "failures", "seconds",
)


# ---------------------------------------------------------------------- normalisation / HV
@dataclass
class Normalizer:
    """Maps pymoo's F to [0, 1] by the known materials' range, for hypervolume.

    Attributes:
        lo, hi: `(n_obj,)` best and worst known value of each F column.
        known: a frame of the known materials' natural objective values (for plots).
    """

    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    known: pd.DataFrame

    @classmethod
    def from_models(cls, campaign: Campaign, models: CampaignModels) -> Normalizer:
        """Ranges from the campaign's data set (see :meth:`from_data`)."""
        return cls.from_data(campaign.objectives, models.data, models.space)

    @classmethod
    def from_data(cls, objectives: list[Objective], data: MaterialsDataset, space: CompositionSpace) -> Normalizer:
        """Ranges from a data set: true values for surrogate targets, computed HHI."""
        from evodesign.properties import SupplyRisk

        columns = {}
        fractions = space.to_vectors(data.compositions)
        for o in objectives:
            if o.analytic:
                v = SupplyRisk(space.elements, kind=o.name.split("_", 1)[1])(fractions)
            else:
                v = data.frame[o.name].to_numpy(dtype=np.float64)
            columns[o.name] = v
        known = pd.DataFrame(columns)
        known.insert(0, "formula", data.formulas)
        F = np.column_stack([o.to_minimize(known[o.name].to_numpy()) for o in objectives])
        finite = np.isfinite(F).all(axis=1)
        lo, hi = F[finite].min(axis=0), F[finite].max(axis=0)
        return cls(lo=lo, hi=np.where(hi > lo, hi, lo + 1.0), known=known[finite].reset_index(drop=True))

    def __call__(self, F: NDArray[np.float64]) -> NDArray[np.float64]:
        return (np.asarray(F, dtype=np.float64) - self.lo) / (self.hi - self.lo)

    def hypervolume(self, F: NDArray[np.float64]) -> float:
        """HV of `(n, n_obj)` F (feasible rows only, please) at reference point 1.1."""
        from pymoo.indicators.hv import HV

        if len(F) == 0:
            return 0.0
        return float(HV(ref_point=np.full(F.shape[1], 1.1))(self(F)))


def feasible_front(pop: Any) -> NDArray[np.int64]:
    """Indices of the feasible non-dominated individuals of a population."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F, G = pop.get("F"), pop.get("G")
    feasible = np.flatnonzero((G <= 0).all(axis=1) & np.isfinite(F).all(axis=1))
    if len(feasible) == 0:
        return feasible
    front = NonDominatedSorting().do(F[feasible], only_non_dominated_front=True)
    return feasible[np.sort(front)]


def n_systems(X: NDArray[np.float64]) -> int:
    """The number of distinct chemical systems (sets of elements) among `(n, n_var)` rows."""
    return int(len(np.unique(chemical_system_ids(X)))) if len(X) else 0


def cap_per_system(
    systems: NDArray[Any], F: NDArray[np.float64], max_per_system: int | None
) -> NDArray[np.bool_]:
    """Which designs of a front are reported: at most ``max_per_system`` per chemical system.

    Within a system the designs least crowded on the front come first (pymoo's crowding
    distance over all `n` designs, the extremes of each objective first), ties by row order,
    as the survival of :class:`~evodesign.search.survival.SystemNicheSurvival` prefers them.

    Args:
        systems: `(n,)` system labels or ids (any sortable values).
        F: `(n, n_obj)` objectives (pymoo's, minimised).
        max_per_system: the cap; ``None`` or 0 keeps every design.

    Returns:
        `(n,)` boolean mask of the reported designs.
    """
    from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function

    n = len(F)
    if not max_per_system or n == 0:
        return np.ones(n, dtype=bool)
    _, ids = np.unique(np.asarray(systems), return_inverse=True)
    crowding = get_crowding_function("cd").do(np.asarray(F, dtype=np.float64))
    order = np.lexsort((np.arange(n), -crowding))
    keep = np.zeros(n, dtype=bool)
    keep[order] = system_occurrence(ids.reshape(-1), order) < max_per_system
    return keep


# ---------------------------------------------------------------------- history / progress
def history_row(
    algorithm: Any, problem: DesignProblem, before: tuple[int, int, int], normalizer: Normalizer, seconds: float
) -> dict[str, Any]:
    """One ``history.csv`` row after ``algorithm.next()``."""
    n_eval = problem.n_evaluated - before[0]
    front = feasible_front(algorithm.pop)
    return {
        "gen": int(algorithm.n_gen - 1),  # pymoo's n_gen is one ahead after next()
        "n_eval": int(problem.n_evaluated),
        "hypervolume": normalizer.hypervolume(algorithm.pop.get("F")[front]),
        "n_nondominated": int(len(front)),
        "n_systems": n_systems(algorithm.pop.get("X")[front]),
        "feasible_fraction": (problem.n_feasible - before[2]) / n_eval if n_eval else float("nan"),
        "failures": int(problem.n_failed - before[1]),
        "seconds": float(seconds),
    }


def screen_history_row(pop: Any, problem: DesignProblem, normalizer: Normalizer, seconds: float, n_drawn: int) -> dict[str, Any]:
    """The single ``history.csv`` row of a screen."""
    front = feasible_front(pop)
    n = problem.n_evaluated
    return {
        "gen": 1,
        "n_eval": int(n),
        "hypervolume": normalizer.hypervolume(pop.get("F")[front]),
        "n_nondominated": int(len(front)),
        "n_systems": n_systems(pop.get("X")[front]),
        "feasible_fraction": problem.n_feasible / n if n else float("nan"),
        "failures": int(problem.n_failed),
        "seconds": float(seconds),
        "n_drawn": int(n_drawn),
    }


def progress_line(row: dict[str, Any], n_gen: int, elapsed: float, done: int) -> str:
    """``gen 5/40  evals 1,000  HV 0.4123  feasible 63%  failures 0  ETA 0:45``."""
    remaining = max(n_gen - done, 0)
    eta = elapsed / max(done, 1) * remaining
    minutes, secs = divmod(int(round(eta)), 60)
    feasible = row["feasible_fraction"]
    feasible_text = "  n/a" if not np.isfinite(feasible) else f"{100 * feasible:4.0f}%"
    return (
        f"gen {row['gen']:>4}/{n_gen:<4} evals {row['n_eval']:>8,}  HV {row['hypervolume']:.4f}  "
        f"front {row['n_nondominated']:>4}  feasible {feasible_text}  failures {row['failures']:>4}  "
        f"ETA {minutes}:{secs:02d}"
    )


# ---------------------------------------------------------------------- provenance
def update_archive(archive: dict[str, str], algorithm: Any, space: CompositionSpace) -> None:
    """Record the formula of every individual seen, by vector key (parents are named by key)."""
    pops = [algorithm.pop]
    if getattr(algorithm, "off", None) is not None:
        pops.append(algorithm.off)
    for pop in pops:
        X = pop.get("X")
        keys = [vector_key(x) for x in X]
        new = [i for i, k in enumerate(keys) if k not in archive]
        if new:
            formulas = space.formulas(space.decode(X[new]))
            archive.update({keys[i]: f for i, f in zip(new, formulas)})


def population(X: NDArray[np.float64], out: dict[str, NDArray], operator: str) -> Any:
    """A pymoo Population of evaluated rows (for screens)."""
    from pymoo.core.population import Population

    pop = Population.new("X", X)
    for key, value in out.items():
        pop.set(key, value)
    pop.set("operator", np.array([operator] * len(pop), dtype=object), "parents", np.array([""] * len(pop), dtype=object))
    return pop


# ---------------------------------------------------------------------- pareto table
def pareto_table(campaign: Campaign, problem: DesignProblem, pop: Any, archive: dict[str, str]) -> pd.DataFrame:
    """The ``pareto.csv`` table: the reported designs of :func:`pareto_tables`."""
    return pareto_tables(campaign, problem, pop, archive)[0]


def pareto_tables(
    campaign: Campaign, problem: DesignProblem, pop: Any, archive: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``pareto.csv`` and ``pareto_all.csv`` tables of a population.

    Args:
        campaign: the campaign (its models and ``[search] max_per_system``).
        problem: the problem (constraint labels).
        pop: the final population.
        archive: formulas by vector key, for the parents column.

    Returns:
        ``(reported, full)``: ``full`` holds every feasible non-dominated design, ``reported``
        at most ``max_per_system`` of them per chemical system (:func:`cap_per_system`;
        all of them when the cap is 0). Both sorted by the first objective, best first.
    """
    from evodesign.constraints import nearest_known

    models = campaign.models
    space = models.space
    idx = feasible_front(pop)
    sub = pop[idx]
    X = sub.get("X") if len(sub) else np.zeros((0, space.n_var))
    counts = space.decode(X) if len(X) else np.zeros((0, space.n_var), dtype=np.int64)
    table = pd.DataFrame({"formula": space.formulas(counts) if len(counts) else []})
    table["composition"] = space.to_compositions(space.fractions(counts)) if len(counts) else []
    table["n_elements"] = (counts > 0).sum(axis=1)
    table["n_atoms"] = counts.sum(axis=1)
    # after the composition, where load_run puts it back
    table.insert(2, "chemical_system", chemical_system_names(counts, space.elements) if len(counts) else [])
    values = sub.get("values") if len(sub) else np.zeros((0, len(campaign.objectives)))
    values_std = sub.get("values_std") if len(sub) else np.zeros((0, len(campaign.objectives)))
    for j, o in enumerate(campaign.objectives):
        table[o.name] = values[:, j]
        if not o.analytic:
            table[f"{o.name}_std"] = values_std[:, j]
    problem_labels = problem.constraint_labels
    G = sub.get("G") if len(sub) else np.zeros((0, len(problem_labels)))
    for j, label in enumerate(problem_labels):
        table[f"g_{label}"] = G[:, j]
    known_ids = space.row_ids(models.known_counts)
    table["novel"] = ~np.isin(space.row_ids(counts), known_ids) if len(counts) else []
    if len(counts):
        index, distance = nearest_known(space, counts, models.known_counts)
        table["nearest_known"] = space.formulas(models.known_counts[index])
        table["nearest_distance"] = distance
    else:
        table["nearest_known"], table["nearest_distance"] = [], []
    operators = sub.get("operator") if len(sub) else []
    parents = sub.get("parents") if len(sub) else []
    table["operator"] = [str(o) if o is not None else "" for o in operators]
    table["parents"] = [
        ";".join(archive.get(k, k) for k in parent_keys(p if isinstance(p, str) else None)) for p in parents
    ]
    cap = campaign.config.search.max_per_system
    F = sub.get("F") if len(sub) else np.zeros((0, len(campaign.objectives)))
    reported = cap_per_system(table["chemical_system"].to_numpy(dtype=object), F, cap)
    first = campaign.objectives[0]
    ascending = first.direction == "min" or first.target is not None
    order = table[first.name].sort_values(ascending=ascending, kind="stable").index.to_numpy()
    full = table.loc[order].reset_index(drop=True)
    return table.loc[order[reported[order]]].reset_index(drop=True), full


# ---------------------------------------------------------------------- files
def resolved_config(config: CampaignConfig, base_dir: Path = Path(".")) -> CampaignConfig:
    """The config as a run folder records it: a relative CSV data set path made absolute."""
    dataset = Path(config.campaign.dataset)
    if dataset.suffix.lower() == ".csv" and not dataset.is_absolute():
        section = config.campaign.model_copy(update={"dataset": str((base_dir / dataset).resolve())})
        config = config.model_copy(update={"campaign": section})
    return config


def write_config(run_dir: Path, config: CampaignConfig, base_dir: Path = Path(".")) -> None:
    """Write the resolved config (:func:`resolved_config`) as ``config.toml``."""
    atomic_write_text(run_dir / "config.toml", resolved_config(config, base_dir).to_toml())


def write_data_report(run_dir: Path, data: Any) -> None:
    """Write what the data loader dropped and merged (``data_report.json``): the full list
    behind a loader warning, for users of the command line."""
    report = {"dataset": data.name, "source": data.source, **data.report}
    atomic_write_text(run_dir / "data_report.json", json.dumps(report, indent=2, default=str) + "\n")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def manifest(
    campaign: Campaign,
    seed: int,
    index: int,
    n_runs: int,
    ss: np.random.SeedSequence,
    pymoo_seed: int | None,
    artifacts: dict[str, Any],
    status: str,
) -> dict[str, Any]:
    """The manifest of a run (completed by the runner with counts and timings)."""
    return {
        "campaign": campaign.config.campaign.name,
        "kind": "run",
        "status": status,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "config_hash": campaign.config.hash(),
        "seed": seed,
        "run_index": index,
        "n_runs": n_runs,
        "seed_sequence": {"entropy": int(ss.entropy), "spawn_key": list(ss.spawn_key)},
        "pymoo_seed": pymoo_seed,
        "artifacts": artifacts,
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "cpu_count": __import__("os").cpu_count()},
    }


def write_manifest(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "manifest.json", json.dumps(data, indent=2, default=str) + "\n")


def write_run(
    run_dir: Path,
    campaign: Campaign,
    designs: pd.DataFrame,
    history: list[dict[str, Any]],
    manifest_data: dict[str, Any],
    normalizer: Normalizer,
    all_designs: pd.DataFrame | None = None,
) -> CampaignResult:
    """Write pareto.csv, pareto_all.csv, history.csv, manifest.json and both plots; return
    the result.

    Args:
        designs: the reported designs (``pareto.csv``; :func:`pareto_tables`' first table).
        all_designs: the whole feasible front (``pareto_all.csv``); default ``designs``.
    """
    from evodesign.campaign.plots import draw_run_plots
    from evodesign.campaign.runner import CampaignResult

    if all_designs is None:
        all_designs = designs
    history_frame = pd.DataFrame(history)
    atomic_write_text(run_dir / "pareto.csv", designs.drop(columns=["composition"]).to_csv(index=False))
    atomic_write_text(run_dir / "pareto_all.csv", all_designs.drop(columns=["composition"]).to_csv(index=False))
    atomic_write_text(run_dir / "history.csv", history_frame.to_csv(index=False))
    manifest_data.update(system_summary(designs, all_designs))
    write_manifest(run_dir, manifest_data)
    draw_run_plots(run_dir, campaign.config, campaign.objectives, designs, history_frame, normalizer.known)
    return CampaignResult(run_dir=run_dir, designs=designs, history=history_frame, manifest=manifest_data)


def system_summary(designs: pd.DataFrame, all_designs: pd.DataFrame | None = None) -> dict[str, Any]:
    """Chemical systems on the front, for the manifest and the final line of a run.

    Args:
        designs: the reported designs (with a ``chemical_system`` column).
        all_designs: the whole feasible front; default ``designs``.

    Returns:
        ``n_designs``, ``n_systems`` (distinct chemical systems among the reported designs),
        ``max_system_share`` (the largest fraction of them one system holds, 0 when there
        are none), ``largest_system`` and ``n_designs_all`` (the whole front).
    """
    all_designs = designs if all_designs is None else all_designs
    counts = designs["chemical_system"].value_counts() if "chemical_system" in designs else pd.Series(dtype=int)
    return {
        "n_designs": int(len(designs)),
        "n_systems": int(len(counts)),
        "max_system_share": float(counts.iloc[0] / len(designs)) if len(counts) else 0.0,
        "largest_system": str(counts.index[0]) if len(counts) else "",
        "n_designs_all": int(len(all_designs)),
    }


def system_line(summary: dict[str, Any]) -> str:
    """``200 designs on the front (of 412), 131 chemical systems, largest Co-Li-N-Ni 1%``."""
    text = f"{summary['n_designs']} designs on the front"
    if summary.get("n_designs_all", summary["n_designs"]) != summary["n_designs"]:
        text += f" (of {summary['n_designs_all']})"
    if summary["n_systems"]:
        text += (
            f", {summary['n_systems']} chemical systems, largest {summary['largest_system']} "
            f"{100 * summary['max_system_share']:.0f}%"
        )
    return text


def load_run(run_dir: str | Path) -> CampaignResult:
    """Read a finished run folder back (designs get their pymatgen Compositions again)."""
    from pymatgen.core import Composition

    from evodesign.campaign.runner import CampaignResult
    from evodesign.exceptions import DataError

    run_dir = Path(run_dir)
    missing = [name for name in ("pareto.csv", "history.csv", "manifest.json", "config.toml") if not (run_dir / name).exists()]
    if missing:
        raise DataError(f"{run_dir} is not a finished run folder: missing {', '.join(missing)}")
    designs = pd.read_csv(run_dir / "pareto.csv", keep_default_na=False, na_values=[""])
    designs.insert(1, "composition", [Composition(f) for f in designs["formula"]])
    history = pd.read_csv(run_dir / "history.csv")
    manifest_data = json.loads((run_dir / "manifest.json").read_text())
    return CampaignResult(run_dir=run_dir, designs=designs, history=history, manifest=manifest_data)
