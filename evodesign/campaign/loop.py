"""The closed loop: propose a batch, measure it, update the surrogate, repeat.

A loop's folder ``ROOT`` holds everything it has done, so that a loop killed at any point
resumes without losing or repeating a measurement:

* ``loop.json``: what the loop is (the campaign's hash, the evaluator); a resume with
  another campaign is refused;
* ``round-NNN/search/``: the round's search, a full run folder (checkpointed: a kill in the
  search resumes it);
* ``round-NNN/to_measure.csv`` (+ ``designs.npz`` for images): the proposed batch, with the
  surrogate's prediction and std of each target; its presence means the proposal is done;
* ``round-NNN/measured.csv``: a lab's measurements (``evaluator = "lab"``);
* ``measurements.csv`` (+ ``.npz``): every measured design, its round and values (NaN: a
  failed measurement, kept and counted);
* ``surrogate-NNN.safetensors/.json``: the surrogate after round NNN's update;
* ``generators-NNN.safetensors/.json``: the generators round NNN+1 starts from: with
  ``[generators] adapt_every``, as round NNN's search fine-tuned them; with ``[loop] adapt
  = "measured"``, fine-tuned after round NNN on the measured designs (:func:`_adapt_on_measured`);
* ``rounds.csv``: one row per finished round (:func:`round_row`).

Each round (:func:`run_loop`):

1. **search** -- NSGA-II (the campaign's operators) on the current surrogate through an
   optimistic acquisition, :class:`OptimisticPredictor`: mean + ``kappa`` std in each
   objective's better direction (an upper confidence bound; ``kappa = 0``: the mean);
2. **batch** -- ``batch`` designs of the search's final population, feasible first, by
   non-dominated rank of the acquisition values, the last front thinned to a diverse subset
   by farthest-point selection in normalised objective space (:func:`select_batch`);
   designs already measured or in the data set are never proposed again;
3. **measure** -- the evaluator: a callable ``evaluate(designs) -> DataFrame`` run in
   parallel through joblib (:func:`evodesign.campaign.evaluation.evaluate_batch`; images
   for a microstructure space, a table with ``formula`` for compositions), or ``"lab"``:
   the loop writes the request and stops; ``resume`` reads ``measured.csv``;
4. **update** -- the surrogate continues training (warm start, at most ``[loop]
   update_epochs`` epochs) on the data set's rows plus every finite measurement so far;
5. **adapt** (``[loop] adapt = "measured"``, before the next round's search) -- the
   generators are fine-tuned on the data set's designs plus every design measured so far,
   ranked by their measured values (true values, not the search's surrogate ranking).

Seeds: round ``r``'s search uses the child seed ``(seed, r)`` of the campaign seed; the
fine-tuning after round ``r`` the child ``(seed, r, ADAPT_STREAM)``.
"""

from __future__ import annotations

import copy
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evodesign.campaign import lab
from evodesign.campaign.config import hashing
from evodesign.campaign.checkpoint import atomic_write_bytes, atomic_write_text, read_checkpoint
from evodesign.campaign.evaluation import evaluate_batch
from evodesign.exceptions import DataError, UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.models import CampaignModels
    from evodesign.campaign.runner import Campaign

__all__ = ["LoopResult", "MeasuredPredictor", "OptimisticPredictor", "run_loop", "select_batch"]

LOOP_JSON = "loop.json"
VECTORS = "vectors.npz"
GENERATORS = "generators"
SEARCH = "search"
Evaluate = Callable[[Any], pd.DataFrame]


@dataclass
class LoopResult:
    """Where a loop stands.

    Attributes:
        root: the loop's folder.
        rounds: ``rounds.csv`` (one row per finished round).
        measurements: every measured design (``measurements.csv``).
        waiting: the round whose lab measurements are awaited (None: not waiting).
        message: what to do next (the lab's instructions when waiting).
    """

    root: Path
    rounds: pd.DataFrame
    measurements: pd.DataFrame
    waiting: int | None = None
    message: str = ""


class OptimisticPredictor:
    """A surrogate seen optimistically: mean + ``kappa`` std towards each target's better side.

    Args:
        model: the surrogate (``predict(X) -> (mean, std)``, ``targets``).
        kappa: the weight of the std.
        signs: per target, +1 (maximised), -1 (minimised) or 0 (not an objective: the mean).
    """

    exact = False

    def __init__(self, model: Any, kappa: float, signs: dict[str, int]) -> None:
        self.model = model
        self.targets = tuple(model.targets)
        self.kappa = float(kappa)
        self._signs = np.array([signs.get(t, 0) for t in self.targets], dtype=np.float64)

    def predict(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """`(n, n_targets)` optimistic values and the model's `(n, n_targets)` std."""
        mean, std = self.model.predict(X)
        return mean + self.kappa * self._signs * std, std


class MeasuredPredictor:
    """Measured values as a predictor (std 0), looked up by the design's features: the
    loop's hypervolume under measured values goes through the campaign's own problem."""

    exact = True

    def __init__(self, targets: list[str], features: NDArray, values: NDArray[np.float64]) -> None:
        self.targets = tuple(targets)
        self._rows = {np.asarray(f, dtype=np.float64).tobytes(): v for f, v in zip(features, values)}

    def predict(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        X = np.asarray(X, dtype=np.float64)
        nan = np.full(len(self.targets), np.nan)
        mean = np.array([self._rows.get(row.tobytes(), nan) for row in X]).reshape(len(X), -1)
        return mean, np.zeros_like(mean)


def select_batch(
    F: NDArray[np.float64], cv: NDArray[np.float64], batch: int, allowed: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Rows of a final population to measure: feasible first, by non-dominated rank, the last
    front needed thinned by farthest-point selection (diverse in normalised objectives).

    Args:
        F: `(n, n_obj)` objective values to minimise (the acquisition's).
        cv: `(n,)` constraint violation (0: feasible).
        batch: rows wanted.
        allowed: `(n,)` rows that may be proposed (not measured, not known, not duplicates).

    Returns:
        Up to ``batch`` row indices, in the order chosen.
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    chosen: list[int] = []
    rows = np.flatnonzero(allowed & np.isfinite(F).all(axis=1))
    feasible, infeasible = rows[cv[rows] <= 0], rows[cv[rows] > 0]
    lo, hi = (F[rows].min(axis=0), F[rows].max(axis=0)) if len(rows) else (0.0, 1.0)
    Fn = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    groups = [feasible[front] for front in NonDominatedSorting().do(F[feasible])] if len(feasible) else []
    groups += [infeasible[np.argsort(cv[infeasible], kind="stable")]]
    for group in groups:
        room = batch - len(chosen)
        if room <= 0:
            break
        if len(group) <= room:
            chosen += [int(i) for i in group]
            continue
        chosen += _farthest_points(Fn, group, chosen, room)
    return np.asarray(chosen, dtype=np.int64)


def _farthest_points(Fn: NDArray[np.float64], group: NDArray[np.int64], chosen: list[int], k: int) -> list[int]:
    """``k`` rows of ``group``, each the farthest (in ``Fn``) from those chosen before it;
    the first one is the group's best in the first objective when nothing is chosen yet."""
    picked: list[int] = []
    if chosen:
        dist = np.min(np.linalg.norm(Fn[group][:, None] - Fn[chosen][None], axis=2), axis=1)
    else:
        first = int(np.argmin(Fn[group, 0]))
        picked.append(int(group[first]))
        dist = np.linalg.norm(Fn[group] - Fn[group[first]], axis=1)
    while len(picked) < k:
        i = int(np.argmax(dist))
        picked.append(int(group[i]))
        dist = np.minimum(dist, np.linalg.norm(Fn[group] - Fn[group[i]], axis=1))
        dist[i] = -1.0
    return picked


# ---------------------------------------------------------------------------- the loop
def run_loop(
    campaign: Campaign,
    *,
    evaluator: str | Evaluate = "lab",
    rounds: int | None = None,
    batch: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    n_jobs: int = 1,
    backend: str | None = None,
    config_path: str | Path | None = None,
) -> LoopResult:
    """Run (or resume) the closed loop of ``campaign`` (see the module docs).

    Args:
        campaign: the campaign (its ``[loop]`` table, surrogate and search).
        evaluator: ``"lab"`` (write the request and stop until ``measured.csv`` is there) or
            ``evaluate(designs) -> DataFrame`` with one numeric column per surrogate target
            (NaN: a failed measurement).
        rounds: rounds in all (default ``[loop] rounds``).
        batch: designs per round (default ``[loop] batch``).
        out: the loop's folder (default ``out_root/<name>/loop-seed<seed>``).
        resume: continue the loop in ``out``; without it an existing folder is refused.
        n_jobs: parallel evaluations (joblib workers).
        backend: joblib backend of the evaluations (None: loky when ``n_jobs != 1``;
            ``"dask"`` with a running ``dask.distributed.Client``).
        config_path: the campaign file, named in the lab's instructions.

    Returns:
        The :class:`LoopResult`.
    """
    config = campaign.config
    settings = config.loop
    rounds = settings.rounds if rounds is None else int(rounds)
    batch = settings.batch if batch is None else int(batch)
    if rounds < 1 or batch < 1:
        raise UsageError(f"rounds and batch must be at least 1, got {rounds} and {batch}")
    targets = list(config.surrogate_targets)
    if not targets or config.surrogate.model == "solver":
        raise UsageError(
            f"{config.where('surrogate', 'model')}: a loop learns a surrogate from its measurements; "
            "use a trained model (\"cnn\" for microstructures, \"auto\", \"ensemble\" or \"forest\" for compositions), "
            "not \"solver\" and not analytic objectives only"
        )
    if settings.adapt == "measured" and config.generators.adapt_every:
        raise UsageError(
            f"{config.where('loop', 'adapt')} = \"measured\" fine-tunes the generators between rounds; "
            f"{config.where('generators', 'adapt_every')} = {config.generators.adapt_every} fine-tunes them inside "
            "each search: choose one (adapt_every = 0, or adapt = \"none\")"
        )
    seed = config.campaign.seed
    root = Path(out) if out is not None else campaign.out_root / config.campaign.name / f"loop-seed{seed}"
    _claim(root, config, evaluator, resume)
    models = campaign.prepare()
    say = campaign._say
    signs = {o.name: (1 if o.direction == "max" else -1) for o in config.objectives if o.name in targets}
    for r in range(1, rounds + 1):
        done = lab.read_rounds(root)
        if r in set(done.get("round", pd.Series(dtype=int)).astype(int)):
            continue
        surrogate = _surrogate(root, r, models)
        tick = time.perf_counter()
        request = lab.round_dir(root, r) / lab.TO_MEASURE
        if settings.adapt == "measured" and r > 1 and not request.exists():
            _adapt_on_measured(campaign, models, root, r - 1, targets)
        if not request.exists():
            say(f"loop round {r}/{rounds}: searching the surrogate (kappa = {settings.kappa:g})")
            _propose(campaign, models, surrogate, root, r, batch, signs, targets)
        search_s = time.perf_counter() - tick
        proposal = lab.read_table(request)  # "NaN" is sodium nitride, not a missing cell
        ids = proposal["id"].tolist()
        measured, images = lab.load_measurements(root)
        if not (len(measured) and (measured["round"] == r).any()):
            values = _measure(evaluator, root, r, proposal, targets, n_jobs, backend)
            if values is None:
                message = lab.request_message(root, r, targets, config_path)
                return LoopResult(root, lab.read_rounds(root), measured, waiting=r, message=message)
            lab.append_measurements(
                root, r, ids, proposal[_design_columns(proposal)], values[targets], images=_request_images(root, r)
            )
        evaluate_s = time.perf_counter() - tick - search_s
        measured, _ = lab.load_measurements(root)
        X_measured = _measured_vectors(root, measured)
        tick = time.perf_counter()
        _update(root, r, config, surrogate, models, X_measured, measured, settings.update_epochs)
        update_s = time.perf_counter() - tick
        row = round_row(campaign, models, r, proposal, measured, X_measured, targets, signs)
        row.update(search_s=round(search_s, 2), evaluate_s=round(evaluate_s, 2), update_s=round(update_s, 2))
        lab.append_round_row(root, row)
        say(
            f"loop round {r}/{rounds}: {row['n_measured']} measured ({row['n_failed']} failed), "
            f"hypervolume {row['hypervolume']:.4f}"
        )
    measured, _ = lab.load_measurements(root)
    return LoopResult(root, lab.read_rounds(root), measured, message=f"{rounds} round(s) done in {root}")


def _claim(root: Path, config: Any, evaluator: str | Evaluate, resume: bool) -> None:
    """Refuse an existing loop folder without ``resume``, or one of another campaign (rounds
    and batch size may differ: :func:`~evodesign.campaign.config.hashing.loop_hash`)."""
    marker = root / LOOP_JSON
    kind = evaluator if isinstance(evaluator, str) else "callable"
    if root.exists() and any(root.iterdir()) and not resume:
        raise UsageError(f"{root} already holds a loop; resume it (--resume) or choose another --out")
    ours = hashing.loop_hash(config)
    if marker.exists():
        saved = json.loads(marker.read_text())
        if ours != saved.get("loop_hash", saved.get("config_hash")) and saved.get("config_hash") != config.hash():
            raise UsageError(
                f"{marker}: this loop was started with another campaign (config hash {saved.get('config_hash', '')[:12]} "
                f"vs {config.hash()[:12]}); resume it with its own config.toml ([loop] rounds and batch may change)"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, json.dumps({"config_hash": config.hash(), "loop_hash": ours, "evaluator": kind}, indent=2) + "\n")


def _surrogate_path(root: Path, r: int) -> Path:
    return root / f"surrogate-{r:03d}"


def _surrogate(root: Path, r: int, models: CampaignModels) -> Any:
    """The surrogate round ``r`` searches: the campaign's for round 1, else round r-1's update."""
    if r == 1:
        return models.surrogate
    from operators.model_files import model_complete

    path = _surrogate_path(root, r - 1)
    if not model_complete(path):
        raise DataError(f"{path}.json is missing: round {r - 1}'s surrogate update was not saved")
    return type(models.surrogate).load(path, targets=list(models.surrogate.targets))


def _propose(
    campaign: Campaign,
    models: CampaignModels,
    surrogate: Any,
    root: Path,
    r: int,
    batch: int,
    signs: dict[str, int],
    targets: list[str],
) -> None:
    """Search round ``r``'s acquisition and write its request (``to_measure.csv``)."""
    from evodesign.representation import KnownDesigns
    from evodesign.search.duplicates import duplicate_mask

    config = campaign.config
    acquisition = OptimisticPredictor(surrogate, config.loop.kappa, signs)
    # What the loop measures must be new: the round's search treats the data set and every
    # design measured so far as known, and novelty as a constraint (whatever [constraints]
    # novel says: measuring a known design again teaches the surrogate nothing).
    measured, _ = lab.load_measurements(root)
    known = models.known
    if len(measured):
        known = KnownDesigns.from_vectors(models.space, np.concatenate([models.vectors, _measured_vectors(root, measured)]))
    if not config.constraints.novel:
        config = config.model_copy(update={"constraints": config.constraints.model_copy(update={"novel": True})})
    searcher = type(campaign)(  # the Campaign class, without importing the module that imports this one
        config, out_root=campaign.out_root, cache_dir=campaign.cache_dir, base_dir=campaign.base_dir,
        progress=campaign.progress,
        models=replace(models, surrogate=acquisition, known=known, generators_path=_generators_path(root, r, models)),
    )
    folder = lab.round_dir(root, r) / SEARCH
    seed = int(np.random.SeedSequence([config.campaign.seed, r]).generate_state(1)[0])
    searcher.run(seed, out=folder, resume=(folder / "checkpoint.bin").exists(), verify=False)
    _, state = read_checkpoint(folder / "checkpoint.bin")
    _keep_adapted_generators(root, r, models, state.arrays)
    pop = state.population()
    X = np.asarray(pop.get("X"), dtype=np.float64)
    F = np.asarray(pop.get("F"), dtype=np.float64)
    G = pop.get("G")
    cv = np.zeros(len(X)) if G is None or np.size(G) == 0 else np.clip(np.asarray(G, dtype=np.float64), 0, None).sum(axis=1)
    space = models.space
    allowed = ~duplicate_mask(X)  # the first of repeated rows only
    allowed &= ~known.contains(space.ids(space.decode(X)))  # nor a data-set or measured design
    rows = select_batch(F, cv, batch, allowed)
    if len(rows) == 0:
        raise DataError(f"round {r}: the search left no new design to measure (all measured or known)")
    designs = space.decode(X[rows])
    table = pd.DataFrame(space.table(designs))
    mean, std = surrogate.predict(space.features(designs))
    for j, t in enumerate(targets):
        table[f"predicted_{t}"] = mean[:, j]
        table[f"std_{t}"] = std[:, j]
    ids = [f"r{r:03d}-{i + 1:03d}" for i in range(len(rows))]
    images_out = designs if isinstance(designs, np.ndarray) and designs.ndim == 3 else None
    # the vectors first: the request (written last) is what says the proposal is complete
    atomic_write_bytes(lab.round_dir(root, r) / VECTORS, _npz(ids=np.array(ids), X=X[rows]))
    lab.write_request(root, r, ids, table, targets, images=images_out)


def _npz(**arrays: NDArray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _generators_path(root: Path, r: int, models: CampaignModels) -> Path | None:
    """The generators round ``r`` starts from: the last earlier round's fine-tuned ones
    (``[generators] adapt_every``), else the campaign's cached ones."""
    for k in range(r - 1, 0, -1):
        sidecar = root / f"{GENERATORS}-{k:03d}.json"
        if sidecar.exists():
            return sidecar
    return models.generators_path


def _keep_adapted_generators(root: Path, r: int, models: CampaignModels, arrays: dict[str, NDArray]) -> None:
    """Save round ``r``'s fine-tuned generators (from its search's checkpoint) as
    ``generators-NNN`` for the next round: generators learn over the whole loop, not only
    within one round's search. Nothing when the search did not fine-tune them."""
    from operators import load_generative_model, save_generative_model
    from operators.adaptation import load_state_arrays
    from operators.artifacts import read_sidecar
    from operators.model_files import model_complete

    from evodesign.search.adaptation import PREFIX

    weights = {
        k[len(PREFIX):]: v for k, v in arrays.items() if k.startswith((PREFIX + "vae.", PREFIX + "gan."))
    }
    path = root / f"{GENERATORS}-{r:03d}"
    start = _generators_path(root, r, models)
    if not weights or start is None or model_complete(path):
        return
    adapted = load_state_arrays(load_generative_model(start), weights)
    save_generative_model(adapted, path, metadata=read_sidecar(start).get("metadata", {}))


def _adapt_on_measured(campaign: Campaign, models: CampaignModels, root: Path, r: int, targets: list[str]) -> None:
    """Fine-tune the generators after round ``r`` and save them as ``generators-NNN``.

    Rows: the generators' own training designs (the data set) plus every finite measurement
    of rounds 1..r. The measured designs are ranked under their measured values as the
    search's adaptation ranks its archive (:func:`~evodesign.search.adaptation.archive_ranks`:
    feasible by front, then infeasible); the data rows, known but not measured by the loop,
    all get the rank after the worst measured one. Weights and epochs: ``[generators]
    adapt_weighting``, ``adapt_k``, ``adapt_epochs``; seed: ``(seed, r, ADAPT_STREAM)``.
    Nothing when ``generators-NNN`` is saved already (a resumed loop keeps its weights).
    """
    from operators import load_generative_model, save_generative_model
    from operators.adaptation import fine_tune
    from operators.artifacts import read_sidecar
    from operators.model_files import model_complete

    from evodesign.campaign import space_parts
    from evodesign.search.adaptation import ADAPT_STREAM, archive_ranks, rank_based_weights
    from evodesign.search.duplicates import duplicate_mask

    path = root / f"{GENERATORS}-{r:03d}"
    start = _generators_path(root, r, models)
    if model_complete(path) or start is None:
        return
    config, space = campaign.config, models.space
    measured, _ = lab.load_measurements(root)
    X_measured = _measured_vectors(root, measured)
    Y = measured[targets].to_numpy(dtype=np.float64)
    ok = np.isfinite(Y).all(axis=1) & (measured["round"].to_numpy(dtype=int) <= r)
    campaign._say(f"loop: fine-tuning the generators on the data set and {ok.sum()} measured designs")
    F, CV = np.zeros((0, 1)), np.zeros(0)
    if ok.any():
        F, CV = _measured_objectives(campaign, models, X_measured[ok], Y[ok], targets)
    ranks = archive_ranks(F, CV)
    X_data = space_parts.part(space_parts.generator_data, space.kind)(config, models.known, space, models.vectors)
    X_data = X_data[~duplicate_mask(X_data, X_measured[ok])]  # a design once, as measured
    ranks = np.concatenate([ranks, np.full(len(X_data), ranks.max(initial=-1) + 1)])
    g = config.generators
    weights = rank_based_weights(ranks, g.adapt_weighting, g.adapt_k)
    rng = np.random.default_rng(np.random.SeedSequence([config.campaign.seed, r, ADAPT_STREAM]))
    model = fine_tune(load_generative_model(start), np.concatenate([X_measured[ok], X_data]), weights,
                      epochs=g.adapt_epochs, random_state=rng)
    save_generative_model(model, path, metadata=read_sidecar(start).get("metadata", {}))


def _measured_vectors(root: Path, measured: pd.DataFrame) -> NDArray[np.float64]:
    """`(n, n_var)` the space's vectors of the measured designs, in ``measured``'s row order
    (each round's proposal keeps its vectors in ``round-NNN/vectors.npz``)."""
    if not len(measured):
        return np.zeros((0, 0))
    parts = []
    for r in pd.unique(measured["round"].astype(int)):
        with np.load(lab.round_dir(root, int(r)) / VECTORS, allow_pickle=False) as saved:
            by_id = dict(zip(saved["ids"].astype(str), saved["X"]))
        ids = measured.loc[measured["round"] == r, "id"].astype(str)
        parts.append(np.stack([by_id[i] for i in ids]))
    return np.concatenate(parts).astype(np.float64)


def _request_images(root: Path, r: int) -> NDArray[np.uint8] | None:
    path = lab.round_dir(root, r) / lab.DESIGNS_NPZ
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        return saved["images"]


def _measure(
    evaluator: str | Evaluate, root: Path, r: int, proposal: pd.DataFrame, targets: list[str],
    n_jobs: int, backend: str | None,
) -> pd.DataFrame | None:
    """Round ``r``'s measured values in the request's order, or None while a lab's are awaited."""
    ids = proposal["id"].tolist()
    if evaluator == "lab":
        path = lab.round_dir(root, r) / lab.MEASURED
        if not path.exists():
            return None
        return lab.read_measurements(path, ids, targets).reset_index(drop=True)
    if isinstance(evaluator, str):
        raise UsageError(f"evaluator {evaluator!r}: give 'lab' or a callable evaluate(designs) -> DataFrame")
    images = _request_images(root, r)
    designs = images if images is not None else proposal[_design_columns(proposal)]
    return evaluate_batch(evaluator, designs, targets, n_jobs=n_jobs, backend=backend).reset_index(drop=True)


def _update(
    root: Path, r: int, config: Any, surrogate: Any, models: CampaignModels, X_measured: NDArray[np.float64],
    measured: pd.DataFrame, epochs: int,
) -> Any:
    """Round ``r``'s surrogate: the previous one trained on (warm start, at most ``epochs``)
    with the data set's training rows plus every finite measurement; saved as
    ``surrogate-NNN`` (loaded when a resumed loop finds it there)."""
    from operators.model_files import model_complete
    from operators.training import torch_threads

    from evodesign.campaign.models import training_rows

    path = _surrogate_path(root, r)
    if model_complete(path):
        return type(surrogate).load(path, targets=list(surrogate.targets))
    targets = list(surrogate.targets)
    Y_data = models.data.frame[targets].to_numpy(dtype=np.float64)
    rows = training_rows(config, Y_data)
    Y_new = measured[targets].to_numpy(dtype=np.float64)
    ok = np.isfinite(Y_new).all(axis=1)
    X = np.concatenate([models.vectors[rows], X_measured[ok]])
    Y = np.concatenate([Y_data[rows], Y_new[ok]])
    updated = copy.copy(surrogate)  # the campaign's own model object stays as it is
    params = surrogate.estimator_.get_params()
    # deep ensembles continue from their weights for at most `epochs`; "auto" keeps its
    # selection and updates its winners so; a forest cannot continue and is refit
    warm = "warm_start" in params
    key = "update_epochs" if "update_epochs" in params else "max_epochs"
    update = {key: int(epochs)} if key in params else {}
    with torch_threads(1):
        # the vectors as the campaign's training used them: a data row is not decoded (a
        # library image thinner than min_feature keeps its own label)
        updated.fit(X, Y, warm_start=warm, params=update if warm else None)
    updated.save(path)
    return updated


def _design_columns(proposal: pd.DataFrame) -> list[str]:
    """The design's own columns of a request (not the id, predictions or stds)."""
    return [c for c in proposal.columns if c != "id" and not c.startswith(("predicted_", "std_"))]


def round_row(
    campaign: Campaign, models: CampaignModels, r: int, proposal: pd.DataFrame, measured: pd.DataFrame,
    X_measured: NDArray[np.float64], targets: list[str], signs: dict[str, int],
) -> dict[str, Any]:
    """``rounds.csv``'s row of round ``r``: measured and failed counts, the best measured value
    of each target so far, the hypervolume of the feasible measured designs (the campaign's
    normalisation), and the surrogate's error on this round's batch before its update."""
    this = measured[measured["round"] == r]
    values = this[targets].to_numpy(dtype=np.float64)
    row: dict[str, Any] = {"round": r, "n_measured": len(this), "n_failed": int((~np.isfinite(values).all(axis=1)).sum())}
    every = measured[targets].to_numpy(dtype=np.float64)
    for j, t in enumerate(targets):
        column = every[:, j][np.isfinite(every[:, j])]
        best = (column.min() if signs.get(t, 1) < 0 else column.max()) if len(column) else np.nan
        row[f"best_{t}"] = float(best)
    predicted = proposal.set_index("id").loc[this["id"].astype(str)]
    for j, t in enumerate(targets):
        error = np.abs(predicted[f"predicted_{t}"].to_numpy() - values[:, j])
        row[f"mae_{t}"] = float(np.nanmean(error)) if np.isfinite(error).any() else float("nan")
    row["hypervolume"] = _measured_hypervolume(campaign, models, X_measured, every, targets)
    return row


def _measured_objectives(
    campaign: Campaign, models: CampaignModels, X: NDArray[np.float64], Y: NDArray[np.float64], targets: list[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """`(n, n_obj)` objectives to minimise and `(n,)` constraint violations of `(n, n_var)`
    measured designs under their `(n, n_targets)` finite measured values (the campaign's
    problem, a :class:`MeasuredPredictor` in place of the surrogate)."""
    from evodesign.campaign import assembly

    space = models.space
    lookup = replace(models, surrogate=MeasuredPredictor(targets, space.features(space.decode(X)), Y))
    out = assembly.build_problem(campaign.config, lookup).evaluate(X, return_as_dictionary=True)
    G = out.get("G")
    cv = np.zeros(len(X))
    if G is not None and np.size(G):
        cv = np.clip(np.asarray(G, dtype=np.float64), 0, None).sum(axis=1)
    return np.asarray(out["F"], dtype=np.float64).reshape(len(X), -1), cv


def _measured_hypervolume(
    campaign: Campaign, models: CampaignModels, X: NDArray[np.float64], Y: NDArray[np.float64], targets: list[str]
) -> float:
    """Hypervolume of every feasible measured design, under measured values (the campaign's
    problem and normalisation)."""
    ok = np.isfinite(Y).all(axis=1)
    if not ok.any():
        return 0.0
    F, cv = _measured_objectives(campaign, models, X[ok], Y[ok], targets)
    F = F[(cv <= 0) & np.isfinite(F).all(axis=1)]
    return campaign._normalizer(models).hypervolume(F) if len(F) else 0.0
