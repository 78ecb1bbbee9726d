"""The trained models a campaign needs, trained on first use and cached by data + config hash.

A campaign needs two artifacts, both written as safetensors + JSON sidecar under the cache
folder (:func:`default_cache_dir`: one per user, shared by every run and every ``--out``)
and reused by every later run:

* ``surrogate-<config>-<data>``: a :class:`~evodesign.surrogates.PropertyModel`
  predicting the campaign's surrogate objectives; ``<config>`` hashes the data set name,
  the space and the ``[surrogate]`` table (``CampaignConfig.surrogate_hash``), ``<data>``
  the training vectors and targets themselves (an edited CSV gets a new model);
* ``generators-<config>-<data>``: the VAE + latent GAN of the learned operators
  (as :func:`evodesign.generators.train_generators` makes them), keyed likewise by the
  ``[generators]`` table and the training compositions.

Runs, checkpoints and workers refer to these files by path and sha256, never copy them.

A cache entry cannot get stuck (:func:`cached_model`):

* **one atomic unit**: the weights are written first and the JSON sidecar last, each through
  a temporary file and a rename; the sidecar is the commit marker. An entry exists only
  when both files do; weights without a sidecar (a kill between the writes, a partial copy),
  a sidecar without weights and leftover temporary files count as absent and are replaced.
* **one trainer at a time**: a lock file per entry (``NAME.lock``, via ``filelock``) is
  held while the entry is trained and written. A second run that needs the same model waits
  for the lock and then loads what the first one wrote instead of training it again. The
  lock is an operating-system lock (``flock``) on the open file, released by the kernel when
  its process ends however it ends (kill -9 included), so a lock left by a killed run never
  blocks a later one; the ``.lock`` file that may stay behind is harmless.
* **never a broken model**: a surrogate whose predictions on its own training data are not
  finite is refused before it is written (:meth:`PropertyModel.fit`).
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from filelock import FileLock, Timeout
from operators.model_files import model_complete, model_paths, remove_model_files, sha256_file

from evodesign.campaign import space_parts
from evodesign.campaign.assembly import build_space
from evodesign.campaign.data import data_options, data_vectors
from evodesign.representation import KnownDesigns
from evodesign.datasets import list_datasets, load_csv, load_dataset
from evodesign.exceptions import ArtifactError, DataError
from operators.progress import labelled
from operators.training import torch_threads

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.config import CampaignConfig
    from evodesign.datasets import ImageDataset, MaterialsDataset
    from evodesign.representation import DesignSpace
    from evodesign.surrogates import ImagePropertyModel, PropertyModel

__all__ = [
    "CACHE_ENV",
    "CampaignModels",
    "cached_model",
    "default_cache_dir",
    "file_sha256",
    "prepare_models",
    "load_campaign_data",
    "resolve_dataset",
    "surrogate_model",
    "training_rows",
]

#: quantile of the surrogate's std on known compounds used by ``max_std = "auto"``
AUTO_STD_QUANTILE = 0.9
#: environment variable naming the model cache folder (see :func:`default_cache_dir`)
CACHE_ENV = "EVODESIGN_CACHE_DIR"

T = TypeVar("T")
#: filelock >= 4 would fall back to a "soft" lock file on a file system without OS locks,
#: and a soft lock outlives a killed process; failing loudly beats blocking every later run
_LOCK_OPTIONS = (
    {"fallback_to_soft": False}
    if "fallback_to_soft" in inspect.signature(FileLock.__init__).parameters
    else {}
)


def default_cache_dir(config: CampaignConfig | None = None, base_dir: str | Path = ".") -> Path:
    """The folder of cached trained models: one per user, shared by every run and ``--out``.

    In order of precedence:

    1. ``[campaign] cache_dir`` of the config, relative to the config file's folder
       (``base_dir``); for a campaign that keeps its models apart.
    2. the ``EVODESIGN_CACHE_DIR`` environment variable (e.g. a shared or scratch disk).
    3. the per-user cache folder of the platform + ``models``
       (``platformdirs.user_cache_dir("evodesign")``: ``~/.cache/evodesign/models`` on
       Linux, ``~/Library/Caches/evodesign/models`` on macOS,
       ``%LOCALAPPDATA%\\evodesign\\Cache\\models`` on Windows).

    Entries are keyed by the data and settings hashes, so one folder serves any number of
    campaigns. Nothing is created here.

    Args:
        config: the campaign (None: ignore step 1).
        base_dir: the config file's folder.

    Returns:
        The folder (``~`` expanded).
    """
    if config is not None and config.campaign.cache_dir:
        path = Path(os.path.expandvars(config.campaign.cache_dir)).expanduser()
        return path if path.is_absolute() else Path(base_dir) / path
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("evodesign", appauthor=False)) / "models"


def resolve_dataset(
    name: str,
    base_dir: str | Path = ".",
    formula_column: str | None = None,
    options: dict[str, Any] | None = None,
) -> MaterialsDataset:
    """A built-in data set by name, or a CSV file (relative paths from ``base_dir``).

    Args:
        name: a built-in data set name or the path of a ``.csv`` file.
        base_dir: folder a relative CSV path is read from (the config file's folder).
        formula_column: the CSV's formula column (None: ``"formula"``); ignored for a
            built-in data set.
        options: the built-in data set's loader options (a generated one's size, ...;
            :func:`evodesign.campaign.data.data_options`).
    """
    if name in list_datasets():
        return load_dataset(name, **(options or {}))
    path = Path(name)
    if path.suffix.lower() == ".csv":
        return load_csv(
            path if path.is_absolute() else Path(base_dir) / path,
            formula_column=formula_column or "formula",
        )
    return load_dataset(name)  # raises with the list of built-in names


def cached_model(
    path: str | Path,
    load: Callable[[], T],
    train: Callable[[], T],
    *,
    what: str = "model",
    progress: bool = False,
    timeout: float | None = None,
) -> tuple[T, str]:
    """Load the cache entry at ``path``, or train and write it: one process at a time.

    An entry is ``PATH.safetensors`` + ``PATH.json`` (sidecar written last). A complete
    entry is loaded at once, without locking. Otherwise the entry's lock ``PATH.lock`` is
    taken (waiting while another process holds it), the entry is checked again -- another
    process may have written it meanwhile, and then it is loaded -- and only if it is still
    incomplete are its leftovers (orphaned weights, sidecar without weights, temp files)
    deleted and ``train`` called. The lock is the kernel's (``flock``): it dies with its
    process, so a killed run leaves no lock that blocks.

    Args:
        path: the entry, without suffix.
        load: loads the complete entry at ``path`` (raising on a corrupted one).
        train: trains the model and writes it to ``path``; returns it.
        what: the model's name in messages ("surrogate", "generators").
        progress: say when waiting for another process.
        timeout: most seconds to wait for another process (None: as long as it takes).

    Returns:
        ``(model, how)``: how is ``"loaded"``, ``"trained"``, or ``"waited"`` (loaded after
        another process trained it).

    Raises:
        ArtifactError: the wait timed out, or (from ``load``) a complete entry is corrupted.
    """
    path = Path(path)
    if model_complete(path):
        return load(), "loaded"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    lock = FileLock(lock_path, **_LOCK_OPTIONS)
    waited = False
    try:
        lock.acquire(timeout=0)
    except Timeout:
        waited = True
        _say(
            progress,
            f"{what}: another process is training {path.name} right now; waiting for it to "
            f"finish (lock {lock_path}), then loading its model",
        )
        try:
            lock.acquire(timeout=-1 if timeout is None else timeout)
        except Timeout as err:
            raise ArtifactError(
                f"{what}: waited {timeout:g} s for another process training {path} (lock "
                f"{lock_path}); try again when it has finished"
            ) from err
    try:
        if model_complete(path):
            return load(), "waited" if waited else "loaded"
        remove_model_files(path)  # orphaned weights, a lone sidecar, temp files of a kill
        return train(), "trained"
    finally:
        lock.release()


#: sha256 of a file's bytes (hex): the one operators' model files use
file_sha256 = sha256_file


@dataclass
class CampaignModels:
    """Data, representation and trained models of a campaign (see :func:`prepare_models`).

    Attributes:
        data: the data set.
        space: the design space (for compositions: the data set's elements, the config's
            limits).
        surrogate: the property model (None when every objective is analytic).
        surrogate_path: its sidecar path (None likewise).
        generators_path: the generators' sidecar path (None when not needed).
        vectors: `(n_data, n_var)` the space's vectors of every row of the data set (the
            surrogate's training inputs, the known materials' ranges of the normalisation).
        known: the data set's designs that fit the space
            (:meth:`KnownDesigns.from_vectors <evodesign.representation.KnownDesigns.from_vectors>`), computed once per run:
            the generators' training data, novelty, the ``nearest_known`` column and known
            sampling read it.
        timings: seconds spent loading or training each part.
    """

    data: MaterialsDataset | ImageDataset
    space: DesignSpace
    surrogate: PropertyModel | ImagePropertyModel | None
    surrogate_path: Path | None
    generators_path: Path | None
    vectors: NDArray[np.float64]
    known: KnownDesigns
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """True when the predictor computes its targets exactly (a physics solver: std 0)."""
        return bool(getattr(self.surrogate, "exact", False))

    @cached_property
    def known_std(self) -> NDArray[np.float64]:
        """`(n_data, n_targets)` surrogate std on every known compound of the data set."""
        if self.surrogate is None:
            return np.zeros((len(self.data), 0))
        if self.exact:  # std 0 by construction: no need to solve the whole data set
            return np.zeros((len(self.data), len(self.surrogate.targets)))
        with torch_threads(1):
            _, std = self.surrogate.predict(self.vectors)
        return std

    def auto_std_bounds(self) -> dict[str, float]:
        """Per-target std bound: the surrogate's 90th-percentile std on known compounds
        (none for an exact predictor: there is no uncertainty to bound)."""
        if self.surrogate is None or self.exact:
            return {}
        q = np.quantile(self.known_std, AUTO_STD_QUANTILE, axis=0)
        return {t: float(v) for t, v in zip(self.surrogate.targets, q)}

    def artifacts(self) -> dict[str, dict[str, str]]:
        """Path and sha256 of each model file (for manifests and checkpoint checks)."""
        out = {}
        for name, sidecar in (("surrogate", self.surrogate_path), ("generators", self.generators_path)):
            if sidecar is None:
                continue
            weights = sidecar.with_suffix(".safetensors")
            out[name] = {
                "path": str(sidecar),
                "sidecar_sha256": file_sha256(sidecar),
                "weights_sha256": file_sha256(weights) if weights.exists() else "",
            }
        estimator = getattr(self.surrogate, "estimator_", None)
        if "surrogate" in out and getattr(estimator, "selected_", None):  # [surrogate] model = "auto"
            out["surrogate"]["selected"] = dict(estimator.selected_)
            out["surrogate"]["cv_mae"] = {
                t: {name: round(float(s["mae"]), 6) for name, s in scores.items()}
                for t, scores in estimator.cv_scores_.items()
            }
        return out


def _refuse_empty_targets(config: CampaignConfig, data: MaterialsDataset) -> None:
    """Name a CSV column the config predicts that holds no value at all.

    The loader leaves such a column out of the inferred targets (it could be a notes
    column); a campaign that asks for it must hear that it is empty, not that it is not a
    target.
    """
    empty = set(data.report.get("empty_columns", ())) if data.report else set()
    asked = [o.name for o in config.objectives if not o.analytic and o.name in empty]
    if asked:
        raise DataError(
            f"{data.source}: target column(s) {asked} have no values (every cell is empty or "
            "a missing-value marker such as NaN); fill them in or remove those objectives"
        )


def _surrogate_estimator(
    config: CampaignConfig, seed: int, progress: bool = False, elements: Sequence[str] | None = None
) -> Any:
    """The unfitted estimator of ``[surrogate]`` with ``random_state=seed``; ``elements``: the
    space's vocabulary (the order of the fraction columns PropertyModel's features end with),
    read by the ``"attention"`` candidate of ``"auto"``."""
    from evodesign.surrogates import CNNEnsembleRegressor, DeepEnsembleRegressor, RandomForestSurrogate

    options = config.surrogate
    if options.model == "forest":
        return RandomForestSurrogate(n_estimators=options.n_estimators, random_state=seed)
    if options.model == "auto":
        from evodesign.surrogates import AutoSurrogate

        params: dict[str, dict[str, Any]] = {
            "ensemble": _ensemble_params(options, progress=False),
            "forest": {"n_estimators": options.n_estimators},
            "forest_median": {"n_estimators": options.n_estimators},
            # one OpenMP thread, as the networks get one torch thread: on a busy machine more
            # were measured many times slower (boosting.py)
            "boosting": {"n_threads": 1},
            # its own defaults (tuned on expt_gap), not the MLP's epochs and patience
            "attention": {"elements": tuple(elements or ())},
        }
        return AutoSurrogate(
            candidates=tuple(options.candidates),
            candidate_params={name: params[name] for name in options.candidates},
            n_splits=options.cv_folds,
            weighted=options.weighted,
            target_names=list(config.surrogate_targets),
            random_state=seed,
            verbose=progress,
        )
    if options.model == "cnn":
        return CNNEnsembleRegressor(
            n_members=options.n_members,
            channels=tuple(options.channels),
            max_epochs=options.max_epochs,
            patience=options.patience,
            random_state=seed,
        )
    return DeepEnsembleRegressor(**_ensemble_params(options, progress), random_state=seed)


def _ensemble_params(options: Any, progress: bool) -> dict[str, Any]:
    """The deep ensemble's hyperparameters from ``[surrogate]``."""
    return dict(
        n_members=options.n_members,
        hidden_layer_sizes=tuple(options.hidden),
        max_epochs=options.max_epochs,
        patience=options.patience,
        architecture=options.architecture,
        dropout=options.dropout,
        lr_schedule=options.lr_schedule,
        warmup_epochs=options.warmup_epochs,
        verbose=progress,
    )


def surrogate_model(config: CampaignConfig, space: DesignSpace, estimator: Any = None) -> Any:
    """An unfitted property model of the campaign's surrogate targets for ``space``: a
    :class:`~evodesign.surrogates.ImagePropertyModel` for ``[surrogate] model = "cnn"``, a
    :class:`~evodesign.surrogates.PropertyModel` of the space's elements otherwise."""
    from evodesign.surrogates import ImagePropertyModel, PropertyModel

    targets = list(config.surrogate_targets)
    if config.surrogate.model == "cnn":
        return ImagePropertyModel(space.size, targets, estimator=estimator)  # type: ignore[attr-defined]
    return PropertyModel(space.elements, targets, estimator=estimator)  # type: ignore[attr-defined]


def training_rows(config: CampaignConfig, Y: NDArray[np.float64]) -> NDArray[np.int64]:
    """Rows of the data set the surrogate trains on: those with every target finite, at
    most ``[surrogate] max_rows`` of them (a subset drawn from ``[surrogate] seed``, in
    data-set order)."""
    rows = np.flatnonzero(np.isfinite(Y).all(axis=1))
    cap = config.surrogate.max_rows
    if cap and len(rows) > cap:
        rng = np.random.default_rng(np.random.SeedSequence(config.surrogate.seed))
        rows = np.sort(rng.choice(rows, size=cap, replace=False))
    return rows


_WAITED = " (trained meanwhile by another run)"


def _say(progress: bool, message: str) -> None:
    if progress:
        print(labelled(message), flush=True)


def load_campaign_data(
    config: CampaignConfig, base_dir: str | Path = ".", progress: bool = False
) -> MaterialsDataset | ImageDataset:
    """The campaign's data set, checked against the campaign before anything is trained.

    Checks: the data set exists and loads (file, row and column named otherwise), every
    surrogate objective is a non-empty target column of it, and the space's element
    limits leave enough of its elements (:meth:`CampaignConfig.check_against`).

    Args:
        config: the campaign.
        base_dir: folder that a relative CSV path is read from (the config file's).
        progress: say what a generated data set's first build does (minutes) or that it
            was loaded from its cache.

    Returns:
        The data set.
    """
    options = data_options(config)
    if options:  # a generated data set: its build can take minutes, so it says so
        options = {**options, "progress": progress}
    data = resolve_dataset(config.campaign.dataset, base_dir, config.campaign.formula_column, options)
    _refuse_empty_targets(config, data)
    config.check_against(data.targets, data.elements)
    missing = [t for t in config.surrogate_targets if t not in data.frame.columns]
    if missing:
        raise ArtifactError(
            f"data set {config.campaign.dataset!r} has no target {missing}; it has "
            f"{[c for c in data.frame.columns if c not in ('formula', 'composition')]}"
        )
    return data


def prepare_models(
    config: CampaignConfig,
    cache_dir: str | Path | None = None,
    *,
    base_dir: str | Path = ".",
    need_generators: bool = True,
    progress: bool = True,
) -> CampaignModels:
    """Load (or train and cache) everything a campaign needs.

    Args:
        config: the campaign.
        cache_dir: folder of cached model files (created if missing); None:
            :func:`default_cache_dir` of ``config`` and ``base_dir``.
        base_dir: folder that a relative CSV path in ``[campaign] dataset`` is read from
            (the config file's folder).
        need_generators: also load/train the VAE + GAN (not needed by a classical run
            with random sampling or a screen of known/random compositions).
        progress: print what is trained or loaded.

    Returns:
        The :class:`CampaignModels`.
    """
    from evodesign.surrogates import ImagePropertyModel, PropertyModel, data_hash

    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(config, base_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data = load_campaign_data(config, base_dir, progress=progress)
    space = build_space(config, data)
    X_all = data_vectors(space, data)
    known = KnownDesigns.from_vectors(space, X_all)
    timings["data_s"] = time.perf_counter() - start

    if need_generators:
        # checked before the surrogate trains: minutes of training lost to a refusal
        training_data = space_parts.part(space_parts.generator_data, space.kind)
        training_options = space_parts.part(space_parts.generator_options, space.kind)
        if training_data is None or training_options is None:
            raise ArtifactError(
                f"{config.where('search', 'operators')}: campaigns in a {space.kind!r} space have no "
                "learned operators or generator sampling yet; use [search] operators = \"classical\" "
                "and sampling = \"known\""
            )
        Xg = training_data(config, known, space, X_all)
        if len(Xg) < 20:
            raise ArtifactError(
                f"only {len(Xg)} designs of {config.campaign.dataset!r} fit the space "
                "(and pass its validity filter); the generators need at least 20 (use "
                "[search] operators = \"classical\" and sampling = \"known\", or more data)"
            )

    surrogate, surrogate_path = None, None
    targets = list(config.surrogate_targets)
    if targets and config.surrogate.model == "solver":
        from evodesign.surrogates.solver import SolverPredictor

        surrogate = SolverPredictor(config.physics.conductivity)  # nothing to train or cache
    elif targets:
        start = time.perf_counter()
        Y = data.frame[targets].to_numpy(dtype=np.float64)
        rows = training_rows(config, Y)
        X, Y = X_all[rows], Y[rows]
        expected_hash = data_hash(X, Y)
        path = cache_dir / f"surrogate-{config.surrogate_hash()[:8]}-{expected_hash[:8]}"
        sidecar = model_paths(path)[1]

        def load_surrogate() -> PropertyModel | ImagePropertyModel:
            if config.surrogate.model == "cnn":
                return ImagePropertyModel.load(
                    path, size=space.size, targets=targets, data_hash=expected_hash  # type: ignore[attr-defined]
                )
            return PropertyModel.load(
                path, elements=space.elements, targets=targets, data_hash=expected_hash  # type: ignore[attr-defined]
            )

        def train_surrogate() -> PropertyModel | ImagePropertyModel:
            _say(
                progress,
                f"surrogate: training on {len(X):,} {config.campaign.dataset} designs "
                f"({', '.join(targets)}); cached for later runs at {sidecar}",
            )
            estimator = _surrogate_estimator(
                config, config.surrogate.seed, progress, elements=getattr(space, "elements", None)
            )
            # One torch thread: these MLPs are small, and on a 2-core machine where anything
            # else runs, two threads were measured 20x slower per epoch (30 s vs 1.5 s).
            with torch_threads(1):
                # fit refuses a model that predicts NaN/inf on its own data: never cached
                model = surrogate_model(config, space, estimator).fit(X, Y)
            model.save(path)
            return model

        surrogate, how = cached_model(
            path, load_surrogate, train_surrogate, what="surrogate", progress=progress
        )
        if how == "trained":
            _say(progress, f"surrogate: trained in {time.perf_counter() - start:.0f} s")
        else:
            _say(progress, f"surrogate: loaded {sidecar}{_WAITED if how == 'waited' else ''}")
        surrogate_path = sidecar
        timings["surrogate_s"] = time.perf_counter() - start

    generators_path = None
    if need_generators:
        from evodesign.generators import generator_metadata, load_generators
        from operators import fit_generative_model, save_generative_model

        start = time.perf_counter()
        options = config.generators
        metadata = generator_metadata(space, str(config.campaign.dataset), Xg, options.strict_valid)
        path = cache_dir / f"generators-{config.generator_hash()[:8]}-{metadata['data_hash'][:8]}"
        sidecar = model_paths(path)[1]

        def train() -> None:
            _say(
                progress,
                f"generators: training the VAE + latent GAN on {len(Xg):,} designs; "
                f"cached at {sidecar}",
            )
            vae_options, gan_options = training_options(config)
            model, _ = fit_generative_model(
                Xg,
                vae_options=vae_options,
                gan_options=gan_options,
                metadata=metadata,
                random_state=np.random.default_rng(np.random.SeedSequence(options.seed)),
                progress=progress,
            )
            save_generative_model(model, path, metadata=metadata)

        # loading refuses a model of another vocabulary or space, or a corrupted file
        _, how = cached_model(
            path, lambda: load_generators(sidecar, space), train, what="generators",
            progress=progress,
        )
        if how == "trained":
            _say(progress, f"generators: trained in {time.perf_counter() - start:.0f} s")
        else:
            _say(progress, f"generators: loaded {sidecar}{_WAITED if how == 'waited' else ''}")
        generators_path = sidecar
        timings["generators_s"] = time.perf_counter() - start

    return CampaignModels(
        data=data,
        space=space,
        surrogate=surrogate,
        surrogate_path=surrogate_path,
        generators_path=generators_path,
        vectors=X_all,
        known=known,
        timings=timings,
    )
