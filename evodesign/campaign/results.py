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
  that generation's evaluations, seconds; with ``[search] operators = "adaptive"`` each
  operator's share of the generation's offspring (``share_latent``, ``share_gan``,
  ``share_sbx_pm``, ``share_sample``);
* ``pareto.png`` (the front over the known materials in grey) and ``convergence.png``;
  ``operators.png`` (the shares per generation) for adaptive runs;
* ``checkpoint.bin`` (runs only; see :mod:`evodesign.campaign.checkpoint`).

Everything here works from plain data -- the space, the objectives, arrays and pymoo
populations, the config for what it records -- never from a campaign object, so the run's
life cycle (:mod:`evodesign.campaign.runner`) imports this module and not the reverse.

Hypervolume is computed on objectives normalised by the range the known materials of the
data set span (0 = the best known value, 1 = the worst), with the reference point 1.1 in
every objective, so values are comparable across generations, seeds and arms.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evodesign.campaign import space_parts
from evodesign.campaign.checkpoint import CHECKPOINT, atomic_write_text
from evodesign.campaign.data import data_designs, data_labels, data_vectors
from evodesign.search.survival import chemical_system_ids, system_occurrence
from operators.provenance import parent_keys, vector_key

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.config import CampaignConfig
    from evodesign.datasets import MaterialsDataset
    from evodesign.objectives import Objective
    from evodesign.problem import DesignProblem
    from evodesign.representation import DesignSpace, KnownDesigns

__all__ = [
    "CHECKPOINT", "CampaignResult", "Normalizer", "cap_per_system", "load_run", "pareto_tables", "write_run",
]

PACKAGES = ("evodesign", "numpy", "torch", "pymoo", "pymatgen", "smact", "matminer", "deap", "joblib", "pandas")
HISTORY_COLUMNS = (
    "gen", "n_eval", "hypervolume", "n_nondominated", "n_systems", "feasible_fraction", "failures", "seconds",
)


@dataclass
class CampaignResult:
    """What a run or screen leaves behind.

    Attributes:
        run_dir: the output folder.
        designs: the Pareto set, one row per formula: a ``composition`` column of pymatgen
            Compositions, objective means and stds, constraint values, novelty, nearest known
            formula, operator and parents (the same table as ``pareto.csv``).
        history: one row per generation (``history.csv``).
        manifest: versions, seeds, artifact hashes, timings (``manifest.json``).
    """

    run_dir: Path
    designs: pd.DataFrame
    history: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"CampaignResult({self.run_dir}, {len(self.designs)} designs)"


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
    def from_data(
        cls,
        objectives: list[Objective],
        data: MaterialsDataset,
        space: DesignSpace,
        vectors: NDArray[np.float64] | None = None,
    ) -> Normalizer:
        """Ranges from a data set: true values for surrogate targets, computed analytic ones.

        Every row of the data set counts, also those outside the space (a five-element
        compound is still a known material and a fair reference).

        Args:
            objectives: the objectives (F's columns).
            data: the data set.
            space: the space its analytic properties are computed in.
            vectors: `(len(data), n_var)` the space's vectors of the data's rows (the
                campaign's ``models.vectors``); None: computed here.
        """
        from evodesign.representation.registry import analytic_properties

        columns = {}
        vectors = data_vectors(space, data) if vectors is None else vectors
        for o in objectives:
            if o.analytic:
                # of the rows' own designs (for formulas their exact fractions: a row
                # outside the space has no design)
                v = analytic_properties.get(space.kind, o.name)(space)(data_designs(space, data, vectors))
            else:
                v = data.frame[o.name].to_numpy(dtype=np.float64)
            columns[o.name] = v
        known = pd.DataFrame(columns)
        known.insert(0, "formula", data_labels(data))
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


def _niche_counts(space: DesignSpace, X: NDArray[np.float64]) -> dict[str, int]:
    """``{"n_systems": ...}`` where the space kind has niches (chemical systems), else ``{}``."""
    if space_parts.part(space_parts.niches, space.kind) is None:
        return {}
    return {"n_systems": n_systems(X)}


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
    """One ``history.csv`` row after ``algorithm.next()``; with the adaptive operator
    portfolio also each arm's share of the generation's offspring (``share_<arm>``, NaN for
    the initial population)."""
    n_eval = problem.n_evaluated - before[0]
    front = feasible_front(algorithm.pop)
    shares = getattr(algorithm.mating, "offspring_shares", None)
    return {
        "gen": int(algorithm.n_gen - 1),  # pymoo's n_gen is one ahead after next()
        "n_eval": int(problem.n_evaluated),
        "hypervolume": normalizer.hypervolume(algorithm.pop.get("F")[front]),
        "n_nondominated": int(len(front)),
        **_niche_counts(problem.space, algorithm.pop.get("X")[front]),
        "feasible_fraction": (problem.n_feasible - before[2]) / n_eval if n_eval else float("nan"),
        "failures": int(problem.n_failed - before[1]),
        "seconds": float(seconds),
        **(shares() if shares is not None else {}),
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
        **_niche_counts(problem.space, pop.get("X")[front]),
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
def update_archive(archive: dict[str, str], algorithm: Any, space: DesignSpace) -> None:
    """Record the label (formula) of every individual seen, by vector key (parents are
    named by key)."""
    pops = [algorithm.pop]
    if getattr(algorithm, "off", None) is not None:
        pops.append(algorithm.off)
    for pop in pops:
        X = pop.get("X")
        keys = [vector_key(x) for x in X]
        new = [i for i, k in enumerate(keys) if k not in archive]
        if new:
            labels = space.labels(space.decode(X[new]))
            archive.update({keys[i]: f for i, f in zip(new, labels)})


def population(X: NDArray[np.float64], out: dict[str, NDArray], operator: str) -> Any:
    """A pymoo Population of evaluated rows (for screens)."""
    from pymoo.core.population import Population

    pop = Population.new("X", X)
    for key, value in out.items():
        pop.set(key, value)
    pop.set("operator", np.array([operator] * len(pop), dtype=object), "parents", np.array([""] * len(pop), dtype=object))
    return pop


# ---------------------------------------------------------------------- pareto table
def pareto_table(
    space: DesignSpace,
    objectives: list[Objective],
    pop: Any,
    *,
    constraint_labels: list[str],
    known: KnownDesigns,
    archive: dict[str, str] | None = None,
    max_per_system: int | None = None,
) -> pd.DataFrame:
    """The ``pareto.csv`` table: the reported designs of :func:`pareto_tables`."""
    return pareto_tables(
        space, objectives, pop, constraint_labels=constraint_labels, known=known, archive=archive,
        max_per_system=max_per_system,
    )[0]


def pareto_tables(
    space: DesignSpace,
    objectives: list[Objective],
    pop: Any,
    *,
    constraint_labels: list[str],
    known: KnownDesigns,
    archive: dict[str, str] | None = None,
    max_per_system: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``pareto.csv`` and ``pareto_all.csv`` tables of a population.

    Args:
        space: the design space (decoding, and the columns of :meth:`space.table`).
        objectives: the objectives (the population's ``values`` columns, in order).
        pop: the final pymoo population (X, F, G, ``values``, ``values_std``, provenance).
        constraint_labels: the `n_constr` labels of G's columns (``problem.constraint_labels``).
        known: the known designs (the ``novel``, ``nearest_known`` and
            ``nearest_distance`` columns).
        archive: labels by vector key, for the parents column.
        max_per_system: ``[search] max_per_system``.

    Returns:
        ``(reported, full)``: ``full`` holds every feasible non-dominated design, ``reported``
        at most ``max_per_system`` of them per chemical system (:func:`cap_per_system`;
        all of them when the cap is 0 or None). Both sorted by the first objective, best
        first.
    """
    archive = archive or {}
    sub = pop[feasible_front(pop)]
    empty = len(sub) == 0
    X = np.zeros((0, space.n_var)) if empty else sub.get("X")
    designs = space.decode(X)
    table = pd.DataFrame(_design_columns(space, designs))
    n_obj = len(objectives)
    values = np.zeros((0, n_obj)) if empty else sub.get("values")
    values_std = np.zeros((0, n_obj)) if empty else sub.get("values_std")
    for j, o in enumerate(objectives):
        table[o.name] = values[:, j]
        if not o.analytic:
            table[f"{o.name}_std"] = values_std[:, j]
    G = np.zeros((0, len(constraint_labels))) if empty else sub.get("G")
    for j, label in enumerate(constraint_labels):
        table[f"g_{label}"] = G[:, j]
    table["novel"] = [] if empty else ~known.contains(space.ids(designs))
    nearest = space_parts.part(space_parts.nearest_designs, space.kind)
    if empty or nearest is None or len(known) == 0:
        table["nearest_known"], table["nearest_distance"] = [""] * len(table), [np.nan] * len(table)
    else:
        index, distance = nearest(space, designs, known.designs)
        table["nearest_known"] = [known.labels[i] if i >= 0 else "" for i in index]
        table["nearest_distance"] = distance
    operators = [] if empty else sub.get("operator")
    parents = [] if empty else sub.get("parents")
    table["operator"] = [str(o) if o is not None else "" for o in operators]
    table["parents"] = [
        ";".join(archive.get(k, k) for k in parent_keys(p if isinstance(p, str) else None)) for p in parents
    ]
    F = np.zeros((0, n_obj)) if empty else sub.get("F")
    # no niches (no chemical_system column): nothing to cap
    systems = table[_SYSTEM].to_numpy(dtype=object) if _SYSTEM in table else None
    reported = cap_per_system(systems, F, max_per_system if systems is not None else 0)
    first = objectives[0]
    ascending = first.direction == "min" or first.target is not None
    order = table[first.name].sort_values(ascending=ascending, kind="stable").index.to_numpy()
    full = table.loc[order].reset_index(drop=True)
    return table.loc[order[reported[order]]].reset_index(drop=True), full


_SYSTEM = "chemical_system"


def _design_columns(space: DesignSpace, designs: Any) -> dict[str, Any]:
    """The design columns of a results table: the space's :meth:`table` columns with the
    kind's :data:`~evodesign.campaign.space_parts.design_columns` after the label (for
    compositions the pymatgen ``composition``, the in-memory table's currency that
    ``load_run`` rebuilds, and the ``chemical_system``; for microstructures each row's
    ``image``)."""
    columns = space.table(designs)
    label, rest = next(iter(columns)), list(columns)[1:]
    extra = space_parts.part(space_parts.design_columns, space.kind)
    return {
        label: columns[label],
        **(extra(space, designs) if extra is not None else {}),
        **{name: columns[name] for name in rest},
    }


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
    config: CampaignConfig,
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
        "campaign": config.campaign.name,
        "kind": "run",
        "status": status,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "config_hash": config.hash(),
        "seed": seed,
        "run_index": index,
        "n_runs": n_runs,
        "seed_sequence": {"entropy": int(ss.entropy), "spawn_key": list(ss.spawn_key)},
        "pymoo_seed": pymoo_seed,
        "artifacts": artifacts,
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
    }


def write_manifest(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "manifest.json", json.dumps(data, indent=2, default=str) + "\n")


def write_run(
    run_dir: Path,
    config: CampaignConfig,
    objectives: list[Objective],
    designs: pd.DataFrame,
    history: list[dict[str, Any]],
    manifest_data: dict[str, Any],
    normalizer: Normalizer,
    all_designs: pd.DataFrame | None = None,
) -> CampaignResult:
    """Write pareto.csv, pareto_all.csv, history.csv, manifest.json and the plots (with
    ``operators.png`` where the history has operator shares); return the result.

    Args:
        config: the campaign (the plots' title and hard windows).
        objectives: its objectives (the plots' axes).
        designs: the reported designs (``pareto.csv``; :func:`pareto_tables`' first table).
        all_designs: the whole feasible front (``pareto_all.csv``); default ``designs``.
    """
    from evodesign.campaign.plots import draw_run_plots

    if all_designs is None:
        all_designs = designs
    history_frame = pd.DataFrame(history)
    atomic_write_text(run_dir / "pareto.csv", _csv(designs))
    atomic_write_text(run_dir / "pareto_all.csv", _csv(all_designs))
    atomic_write_text(run_dir / "history.csv", history_frame.to_csv(index=False))
    manifest_data.update(system_summary(designs, all_designs))
    write_manifest(run_dir, manifest_data)
    write_files = space_parts.part(space_parts.run_files, config.space.kind)
    if write_files is not None:  # the kind's own files (designs.npz, gallery.png, ...)
        write_files(run_dir, config, objectives, designs)
    draw_run_plots(run_dir, config, objectives, designs, history_frame, normalizer.known)
    return CampaignResult(run_dir=run_dir, designs=designs, history=history_frame, manifest=manifest_data)


def _csv(table: pd.DataFrame) -> str:
    """A results table as CSV text, less its in-memory columns (objects, arrays)."""
    return table.drop(columns=[c for c in space_parts.IN_MEMORY_COLUMNS if c in table]).to_csv(index=False)


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

    from evodesign.exceptions import DataError

    run_dir = Path(run_dir)
    missing = [name for name in ("pareto.csv", "history.csv", "manifest.json", "config.toml") if not (run_dir / name).exists()]
    if missing:
        raise DataError(f"{run_dir} is not a finished run folder: missing {', '.join(missing)}")
    designs = pd.read_csv(run_dir / "pareto.csv", keep_default_na=False, na_values=[""])
    if "formula" in designs:
        designs.insert(1, "composition", [Composition(f) for f in designs["formula"]])
    if (run_dir / "designs.npz").exists():  # designs saved as arrays: images
        with np.load(run_dir / "designs.npz") as saved:
            if "images" in saved and len(saved["images"]) == len(designs):
                designs.insert(1, "image", list(saved["images"]))
    history = pd.read_csv(run_dir / "history.csv")
    manifest_data = json.loads((run_dir / "manifest.json").read_text())
    return CampaignResult(run_dir=run_dir, designs=designs, history=history, manifest=manifest_data)
