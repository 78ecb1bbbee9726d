"""Design campaigns: NSGA-II search (``run``) and generate-then-filter (``screen``).

Both constraint methods of the seed review share one :class:`~evodesign.problem.DesignProblem`:

* :meth:`Campaign.run` -- constraints *in the loop*: NSGA-II (pymoo) whose variation
  operators are the learned ones (latent-interpolation crossover + GAN mutation) or, for
  comparison, SBX + polynomial mutation; after every variation the children are snapped to
  their decoded integer formula (:class:`~evodesign.search.SpaceRepair`, SMACT-preferring
  when ``repair = true``) and duplicates are removed by formula hash
  (:class:`~evodesign.search.HashDuplicateElimination`), not by pymoo's O(N^2) distances;
* :meth:`Campaign.screen` -- *screening*: draw many candidates from the generators (or
  known/random compositions), decode, evaluate in batches, keep the feasible
  non-dominated ones.

This module holds a run's life cycle: claiming and taking its folder, checkpoints and
resume, the generation loop, the screen, and ``verify`` after a run. The parts it runs are
made by :mod:`evodesign.campaign.assembly`, the files it writes by
:mod:`evodesign.campaign.results`.

Example:
    >>> from evodesign.campaign import Campaign
    >>> result = Campaign.from_toml("runs/thermoelectric.toml").run(seed=0)  # doctest: +SKIP
    >>> result.designs.head()                                                # doctest: +SKIP

Seeds: run ``i`` of ``--seed S --seeds N`` draws everything from
``numpy.random.SeedSequence(S, spawn_key=(i,))`` -- the ``i``-th child that
``SeedSequence(S).spawn(N)`` gives -- so a run's front depends on ``(S, i)`` only, not on
``N``, ``n_jobs`` or the machine it ran on. pymoo's ``random_state`` is seeded from it, and
every operator draws from that ``random_state``.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from evodesign.campaign import assembly, results
from evodesign.campaign.checkpoint import (
    CHECKPOINT,
    LEGACY_CHECKPOINT,
    CheckpointError,
    SearchCheckpoint,
    read_checkpoint,
    remove_stale_temporaries,
    write_checkpoint,
)
from evodesign.campaign.config import CampaignConfig
from evodesign.campaign.data import data_options
from evodesign.campaign.models import CampaignModels, default_cache_dir, prepare_models, resolve_dataset
from evodesign.campaign.results import CampaignResult
from evodesign.exceptions import EvodesignError, UsageError
from evodesign.search.adaptation import GeneratorAdaptation, adaptation_timings
from evodesign.search.state import SearchStateError, capture_search_state, restore_search_state
from operators.progress import labelled
from operators.training import torch_threads

if TYPE_CHECKING:
    from evodesign.constraints import Constraint
    from evodesign.datasets import MaterialsDataset
    from evodesign.objectives import Objective
    from evodesign.problem import DesignProblem
    from evodesign.representation import DesignSpace

__all__ = ["Campaign", "CampaignResult", "RunExistsError", "child_seed", "cli_wording", "run_id"]

DEFAULT_OUT = Path("runs/output")
#: draws a screen makes at most to collect n_samples distinct formulas
SCREEN_ROUNDS = 20


class RunExistsError(EvodesignError, FileExistsError):
    """A run folder already holds results and neither resume nor overwrite was asked for.

    Attributes:
        run_dir: the folder.
        resumable: whether it holds a checkpoint that ``resume`` could continue.
    """

    def __init__(self, run_dir: str | Path, resumable: bool, plural: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.resumable = bool(resumable)
        ways = (["resume=True to continue it"] if resumable else []) + [
            "overwrite=True to replace it",
            "out=<folder> to write elsewhere",
        ]
        what = ("runs" if plural else "a run") if resumable else "results but no checkpoint to resume from"
        holds = "hold" if plural else "holds"
        super().__init__(f"{run_dir} already {holds} {what}; pass {', '.join(ways[:-1])} or {ways[-1]}")
        self.plural = plural

    def __reduce__(self) -> tuple[Any, ...]:  # joblib workers send errors back pickled
        return (RunExistsError, (self.run_dir, self.resumable, self.plural))


#: how the command line spells the arguments that the library's messages name
CLI_WORDS = {"resume=True": "--resume", "overwrite=True": "--overwrite", "out=<folder>": "--out FOLDER"}


def cli_wording(message: str) -> str:
    """A library message with Python arguments (``resume=True``) named as CLI flags."""
    for api, flag in CLI_WORDS.items():
        message = message.replace(api, flag)
    return message


def child_seed(seed: int, index: int = 0) -> np.random.SeedSequence:
    """The SeedSequence of run ``index`` of a campaign seeded with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(index,))


def run_id(seed: int, index: int = 0, n_runs: int = 1, kind: str = "run") -> str:
    """Folder name of a run: ``seed0``, or ``seed0-3`` for run 3 of several; ``screen-...``."""
    base = f"seed{seed}" if n_runs == 1 and index == 0 else f"seed{seed}-{index}"
    return base if kind == "run" else f"{kind}-{base}"


class Campaign:
    """A design campaign built from a :class:`~evodesign.campaign.config.CampaignConfig`.

    Args:
        config: the validated campaign.
        out_root: parent of the campaign's run folders (``runs/output`` by default);
            runs go to ``out_root/<name>/<run-id>/``.
        cache_dir: where trained models are cached (default: ``[campaign] cache_dir``,
            else ``$EVODESIGN_CACHE_DIR``, else the per-user cache folder; see
            :func:`~evodesign.campaign.models.default_cache_dir`). One cache serves every
            run and output root: models are keyed by data + settings hash.
        base_dir: folder that relative paths in the config are read from.
        progress: print progress (training, then one line per generation).
        models: already prepared models to reuse (e.g. one set for several arms of a
            benchmark, or with another predictor put in with ``dataclasses.replace``);
            None: :meth:`prepare` loads or trains them on first use.

    The parts of a search are made by :mod:`evodesign.campaign.assembly`; the methods
    :meth:`problem`, :meth:`algorithm`, :meth:`constraints` and :meth:`repair_check` give
    this campaign's.
    """

    def __init__(
        self,
        config: CampaignConfig,
        *,
        out_root: str | Path = DEFAULT_OUT,
        cache_dir: str | Path | None = None,
        base_dir: str | Path = ".",
        progress: bool = True,
        models: CampaignModels | None = None,
    ) -> None:
        self.config = config
        self.out_root = Path(out_root)
        self.base_dir = Path(base_dir)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(config, self.base_dir)
        self.progress = progress
        self._models = models

    @classmethod
    def from_toml(cls, path: str | Path, **kwargs: Any) -> Campaign:
        """Load and validate a campaign file (relative paths inside it are from its folder)."""
        kwargs.setdefault("base_dir", Path(path).parent)
        return cls(CampaignConfig.from_toml(path), **kwargs)

    def __repr__(self) -> str:
        return f"Campaign({self.config.campaign.name!r})"

    # ------------------------------------------------------------------ building blocks
    @property
    def objectives(self) -> list[Objective]:
        """The objectives (:func:`~evodesign.campaign.assembly.build_objectives`)."""
        return assembly.build_objectives(self.config)

    def _needs_generators(self, kind: str = "run") -> bool:
        if kind == "screen":
            return self.config.screen.source in ("gan", "prior")
        search = self.config.search
        return search.operators in ("learned", "adaptive") or search.sampling != "known"

    def prepare(self, kind: str = "run") -> CampaignModels:
        """Load or train (and cache) the surrogate and, if ``kind`` needs them, the generators."""
        need = self._needs_generators(kind)
        if self._models is None or (need and self._models.generators_path is None):
            self._models = prepare_models(
                self.config,
                self.cache_dir,
                base_dir=self.base_dir,
                need_generators=need,
                progress=self.progress,
            )
        return self._models

    def prepare_data(self) -> tuple[MaterialsDataset, DesignSpace]:
        """The data set and the design space only (no models): for reports."""
        data = resolve_dataset(
            self.config.campaign.dataset, self.base_dir, self.config.campaign.formula_column, data_options(self.config)
        )
        return data, assembly.build_space(self.config, data)

    @property
    def models(self) -> CampaignModels:
        """The prepared models (:meth:`prepare` on first use)."""
        return self.prepare()

    def constraints(self) -> list[Constraint]:
        """The constraint objects of the config, in a fixed order."""
        return assembly.build_constraints(self.config, self.models)

    def problem(self) -> DesignProblem:
        """The pymoo problem (objectives, constraints, surrogate attached)."""
        return assembly.build_problem(self.config, self.models)

    def repair_check(self) -> Any:
        """The SMACT check that repair prefers (cached by formula), or None."""
        return assembly.repair_check(self.config, self.models)

    def algorithm(self) -> Any:
        """The NSGA-II of the config (sampling, operators, repair, duplicate elimination)."""
        return assembly.build_algorithm(self.config, self.models)

    # ------------------------------------------------------------------ folders
    def run_dir(self, seed: int, index: int = 0, n_runs: int = 1, kind: str = "run") -> Path:
        return self.out_root / self.config.campaign.name / run_id(seed, index, n_runs, kind)

    @staticmethod
    def _claim(run_dir: Path, resume: bool, overwrite: bool) -> None:
        """Refuse to touch an existing run folder unless asked to resume or overwrite.

        Called before any model is loaded or trained, so a refusal costs nothing; nothing is
        created or deleted here (see :meth:`_take`). Messages name the Python arguments
        (``resume=True``); the CLI says ``--resume``.
        """
        if resume and overwrite:
            raise UsageError("choose one of resume=True and overwrite=True, not both")
        occupied = run_dir.exists() and any(run_dir.iterdir())
        resumable = (run_dir / CHECKPOINT).exists()
        if resume and not resumable:
            if (run_dir / LEGACY_CHECKPOINT).exists():
                raise CheckpointError(
                    f"{run_dir / LEGACY_CHECKPOINT} is a checkpoint of an older evodesign (a "
                    "pickle, which can run code when read); this version does not read it. "
                    "Start afresh with overwrite=True, or write elsewhere with out=<folder>"
                )
            what = "holds no checkpoint" if occupied else "does not exist"
            raise CheckpointError(
                f"nothing to resume: {run_dir} {what}. Start the run without resume=True"
                + (" (overwrite=True replaces what is there)" if occupied else "")
            )
        if occupied and not resume and not overwrite:
            raise RunExistsError(run_dir, resumable)

    @staticmethod
    def _take(run_dir: Path, overwrite: bool) -> None:
        """Create the run folder once the models are ready (emptied first if ``overwrite``).

        Done after training, so a failed or interrupted training leaves an existing run
        untouched and no empty folder behind.
        """
        if overwrite and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)

    # ------------------------------------------------------------------ NSGA-II
    def run(
        self,
        seed: int | None = None,
        *,
        index: int = 0,
        n_runs: int = 1,
        out: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
        threads: int | None = 1,
        on_generation: Callable[[int], None] | None = None,
        verify: bool | None = None,
    ) -> CampaignResult:
        """Run NSGA-II with in-loop constraints, writing the run folder as it goes.

        Args:
            seed: campaign seed (default: the config's ``[campaign] seed``).
            index / n_runs: this run's place among ``n_runs`` seeds (see the module docs).
            out: the run folder (default ``out_root/<name>/<run-id>``).
            resume: continue from the folder's checkpoint.
            overwrite: delete an existing run folder first.
            threads: torch threads during the search (1 makes fronts independent of the
                number of parallel workers; None leaves torch's setting alone).
            on_generation: called with the generation number after each checkpoint (for
                tests that interrupt a run, and for custom monitoring).
            verify: check crystal structures of the top designs at the end
                (:func:`evodesign.structures.verify_run`); None: ``[verify] after_run``.

        Returns:
            The :class:`CampaignResult`.
        """
        seed = self.config.campaign.seed if seed is None else int(seed)
        run_dir = Path(out) if out is not None else self.run_dir(seed, index, n_runs)
        self._claim(run_dir, resume, overwrite)
        checkpoint = run_dir / CHECKPOINT
        started = time.perf_counter()
        models = self.prepare()
        prepare_s = time.perf_counter() - started
        self._take(run_dir, overwrite)
        artifacts = models.artifacts()
        ss = child_seed(seed, index)
        pymoo_seed = int(ss.generate_state(1, dtype=np.uint32)[0])
        expect = {
            "campaign_hash": self.config.hash(),
            "seed": seed,
            "index": index,
            "artifacts": {k: v["weights_sha256"] for k, v in artifacts.items()},
        }
        with torch_threads(threads):
            problem = self.problem()
            algorithm = self.algorithm()
            algorithm.setup(problem, termination=("n_gen", self.config.search.n_gen), seed=pymoo_seed, verbose=False)
            adapter = GeneratorAdaptation.from_settings(self.config.generators, ss)  # None: adapt_every = 0
            history: list[dict[str, Any]] = []
            archive: dict[str, str] = {}
            if resume:
                header, state = self._read_checkpoint(checkpoint, expect)
                try:
                    restore_search_state(algorithm, state.arrays, state.meta)
                    if adapter is not None:  # the fine-tuned generators, if any yet
                        adapter.restore(algorithm, state.arrays)
                except (SearchStateError, ValueError) as error:
                    raise CheckpointError(f"{checkpoint} cannot be resumed: {error}") from error
                history, archive = state.history, state.archive
                self._say(f"resuming {run_dir} at generation {header['generation']}")
            results.write_config(run_dir, self.config, self.base_dir)
            results.write_data_report(run_dir, models.data)
            manifest = results.manifest(self.config, seed, index, n_runs, ss, pymoo_seed, artifacts, status="running")
            manifest["timings"] = {"prepare_s": prepare_s}
            results.write_manifest(run_dir, manifest)
            if history and not algorithm.has_next():
                self._say(f"{run_dir} had already finished; rewriting its outputs")
            normalizer = self._normalizer(models)
            n_gen = self.config.search.n_gen
            search_start = time.perf_counter()
            while algorithm.has_next():
                tick = time.perf_counter()
                before = (problem.n_evaluated, problem.n_failed, problem.n_feasible)
                algorithm.next()
                results.update_archive(archive, algorithm, models.space)
                row = results.history_row(algorithm, problem, before, normalizer, time.perf_counter() - tick)
                row["adapt_s"] = adapter.after_generation(algorithm, row["gen"]) if adapter is not None else 0.0
                history.append(row)
                self._say(results.progress_line(row, n_gen, time.perf_counter() - search_start, len(history)))
                if len(history) % self.config.search.checkpoint_every == 0 or not algorithm.has_next():
                    arrays, meta = capture_search_state(algorithm)
                    arrays.update(adapter.state_arrays() if adapter is not None else {})
                    write_checkpoint(
                        checkpoint,
                        {**expect, "generation": row["gen"]},
                        SearchCheckpoint(arrays, meta, history, archive),
                    )
                if on_generation is not None:
                    on_generation(row["gen"])
            designs, all_designs = self._pareto_tables(models, problem, algorithm.pop, archive)
            if len(history) < n_gen:
                # pymoo stops quietly when a generation yields no new formula at all
                manifest["stopped_early"] = (
                    f"after generation {len(history)} of {n_gen}: the operators produced no "
                    "formula that was not already in the population (undertrained generators, "
                    "or a space too small for the population)"
                )
                self._say("warning: stopped early " + manifest["stopped_early"])
            manifest.update(
                status="finished",
                n_evaluations=int(problem.n_evaluated),
                n_failed=int(problem.n_failed),
                n_generations=len(history),
            )
            manifest["timings"].update(search_s=time.perf_counter() - search_start, total_s=time.perf_counter() - started)
            manifest["timings"].update(adaptation_timings(history))  # adapt_s, adapt_share
            result = results.write_run(
                run_dir, self.config, problem.objectives, designs, history, manifest, normalizer, all_designs=all_designs
            )
        self._say(f"{results.system_line(result.manifest)} -> {run_dir}")
        if self.config.verify.after_run if verify is None else verify:
            result = self._verify(run_dir, result)
        return result

    def _normalizer(self, models: CampaignModels) -> results.Normalizer:
        return results.Normalizer.from_data(self.objectives, models.data, models.space, models.vectors)

    def _pareto_tables(
        self, models: CampaignModels, problem: DesignProblem, pop: Any, archive: dict[str, str]
    ) -> tuple[Any, Any]:
        return results.pareto_tables(
            models.space, list(problem.objectives), pop, constraint_labels=problem.constraint_labels,
            known=models.known, archive=archive, max_per_system=self.config.search.max_per_system,
        )

    def _verify(self, run_dir: Path, result: CampaignResult) -> CampaignResult:
        """``evodesign verify`` on the run's top designs (``[verify]``), results re-read."""
        settings = self.config.verify
        if settings.top == 0 or result.designs.empty:
            return result
        try:
            from evodesign.structures import verify_run
        except ImportError as error:
            self._say(
                f"warning: [verify] after_run needs the structures extra ({error}); install it "
                "with pip install 'evodesign[structures]' and run evodesign verify "
                f"{run_dir} later. The run itself is complete"
            )
            return result
        self._say(f"verify: crystal structures + CHGNet energies for the top {settings.top} designs")
        started = time.perf_counter()
        verify_run(run_dir, n_jobs=settings.n_jobs, progress=self._say)
        self._say(f"verify: done in {time.perf_counter() - started:.0f} s -> {run_dir / 'pareto.csv'}")
        return results.load_run(run_dir)

    # ------------------------------------------------------------------ screening
    def loop(self, evaluator: Any = "lab", **kwargs: Any) -> Any:
        """The closed loop of this campaign: search, measure a batch, update, repeat
        (:func:`evodesign.campaign.loop.run_loop`, which documents ``kwargs``: ``rounds``,
        ``batch``, ``out``, ``resume``, ``n_jobs``, ``backend``).

        Args:
            evaluator: ``"lab"`` (files; the loop stops until ``measured.csv`` is written)
                or ``evaluate(designs) -> DataFrame`` of the surrogate targets.

        Returns:
            The :class:`~evodesign.campaign.loop.LoopResult`.
        """
        from evodesign.campaign.loop import run_loop

        return run_loop(self, evaluator=evaluator, **kwargs)

    def screen(
        self,
        seed: int | None = None,
        *,
        index: int = 0,
        n_runs: int = 1,
        out: str | Path | None = None,
        overwrite: bool = False,
        threads: int | None = 1,
        batch_size: int = 20_000,
    ) -> CampaignResult:
        """Evaluate ``[screen] n_samples`` candidates, filter by the constraints, keep the front.

        Candidates come from ``[screen] source`` (GAN or VAE-prior samples, known
        compositions, or random ones) and are decoded (with the same repair as the search);
        generated sources are drawn again until ``n_samples`` distinct formulas are in hand
        (at most ``SCREEN_ROUNDS`` rounds), so a screen spends the same number of
        evaluations as a search of that budget. Scored in batches of ``batch_size``.
        """
        import torch

        from evodesign.search.duplicates import duplicate_mask
        from operators import load_generative_model

        seed = self.config.campaign.seed if seed is None else int(seed)
        run_dir = Path(out) if out is not None else self.run_dir(seed, index, n_runs, kind="screen")
        self._claim(run_dir, resume=False, overwrite=overwrite)
        started = time.perf_counter()
        models = self.prepare("screen")
        prepare_s = time.perf_counter() - started
        self._take(run_dir, overwrite)
        ss = child_seed(seed, index)
        draw_seed = int(ss.generate_state(2, dtype=np.uint32)[1])
        rng = np.random.default_rng(draw_seed)
        n, source, space = self.config.screen.n_samples, self.config.screen.source, models.space
        with torch_threads(threads):
            tick = time.perf_counter()
            # the screen's models: self.models would prepare a run's (generators and all)
            check = assembly.repair_check(self.config, models)

            def repair(X: np.ndarray) -> np.ndarray:  # what the search's repair does to children
                return space.repair(X, check=check)

            if source in ("gan", "prior"):
                model = load_generative_model(models.generators_path)
                generator = torch.Generator().manual_seed(draw_seed)
                which = "gan" if source == "gan" and model.gan is not None else "vae"

                def draw(k: int) -> np.ndarray:
                    return model.sample(k, which, generator)
            elif source == "random":

                # the space's own random designs; compositions also take [space] min_elements
                options = {"min_elements": self.config.space.min_elements} if hasattr(self.config.space, "min_elements") else {}

                def draw(k: int) -> np.ndarray:
                    return space.random_vectors(k, rng, **options)
            else:
                draw = None
            if draw is None:  # known compositions: one draw without replacement
                known = models.known.vectors
                pick = rng.choice(len(known), size=min(n, len(known)), replace=False)
                X = repair(known[pick])
                n_drawn = len(X)
            else:
                # draw until n distinct formulas: n_samples is what gets evaluated
                X, n_drawn = np.empty((0, space.n_var)), 0
                for _ in range(SCREEN_ROUNDS):
                    missing = n - len(X)
                    if missing <= 0:
                        break
                    Y = repair(draw(missing))
                    n_drawn += len(Y)
                    Y = Y[~duplicate_mask(Y, X)]
                    X = np.concatenate([X, Y[:missing]])
                if len(X) < n:
                    self._say(f"warning: {n_drawn:,} draws gave only {len(X):,} distinct formulas")
            problem = assembly.build_problem(self.config, models)
            parts = [problem.evaluate(X[i : i + batch_size], return_as_dictionary=True) for i in range(0, len(X), batch_size)]
            out_dict = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
            pop = results.population(X, out_dict, operator=f"screen({source})")
            normalizer = self._normalizer(models)
            row = results.screen_history_row(pop, problem, normalizer, time.perf_counter() - tick, n_drawn)
            self._say(results.progress_line(row, 1, row["seconds"], 1))
            designs, all_designs = self._pareto_tables(models, problem, pop, {})
            results.write_config(run_dir, self.config, self.base_dir)
            results.write_data_report(run_dir, models.data)
            manifest = results.manifest(self.config, seed, index, n_runs, ss, None, models.artifacts(), status="finished")
            manifest.update(kind="screen", n_samples=n, n_drawn=int(n_drawn), n_unique=int(len(X)), n_evaluations=int(problem.n_evaluated), n_failed=int(problem.n_failed))
            manifest["timings"] = {"prepare_s": prepare_s, "search_s": row["seconds"], "total_s": time.perf_counter() - started}
            result = results.write_run(
                run_dir, self.config, problem.objectives, designs, [row], manifest, normalizer, all_designs=all_designs
            )
        self._say(f"screened: {results.system_line(result.manifest)} -> {run_dir}")
        return result

    def _read_checkpoint(self, path: Path, expect: dict[str, Any]) -> tuple[dict[str, Any], SearchCheckpoint]:
        """Read a run's checkpoint; a config change is reported as the keys that changed."""
        try:
            return read_checkpoint(path, expect=expect)
        except CheckpointError as error:
            if error.mismatch != "campaign_hash":
                raise
            changed = self._changed_keys(path.parent / "config.toml")
            detail = f"these keys changed since it was written: {', '.join(changed)}" if changed else (
                "its campaign differs from this one"
            )
            raise CheckpointError(
                f"{path} cannot be resumed with this config: {detail}. Put them back to resume, "
                "or start afresh with overwrite=True or elsewhere with out=<folder>",
                mismatch="campaign_hash",
            ) from None

    def _changed_keys(self, saved_path: Path) -> list[str]:
        """Dotted keys whose values differ between a run's saved config.toml and this config."""
        import tomllib

        try:
            saved = tomllib.loads(saved_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return []
        current = tomllib.loads(results.resolved_config(self.config, self.base_dir).to_toml())
        a, b = _flatten(saved), _flatten(current)
        ignored = ("verify.", "campaign.cache_dir")  # not part of the campaign hash
        return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and not k.startswith(ignored))

    def _say(self, message: str) -> None:
        if self.progress:
            print(labelled(message), file=sys.stdout, flush=True)


def _flatten(table: Any, prefix: str = "") -> dict[str, Any]:
    """``{"search.pop_size": 200, "objectives[0].name": ...}`` from nested TOML data."""
    if isinstance(table, dict):
        out: dict[str, Any] = {}
        for key, value in table.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(table, list) and table and all(isinstance(v, dict) for v in table):
        out = {}
        for i, value in enumerate(table):
            out.update(_flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: table}
