"""Independent seeds in parallel: joblib on one machine, joblib's dask backend beyond it.

Run ``i`` of ``run_seeds(config, seed=S, n_seeds=N)`` is exactly ``Campaign.run(seed=S,
index=i, n_runs=N)``: its randomness comes from the ``i``-th child of ``SeedSequence(S)``
and its torch threads are capped (1 by default) inside the worker, so the front of a seed
is the same whatever ``n_jobs`` or backend ran it.

The models are trained (or loaded) once in the calling process before any worker starts;
workers load them from the cache folder, so with dask on several machines that folder
must be on a shared file system (the same path everywhere).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from joblib import Parallel, delayed

from evodesign.campaign.checkpoint import CHECKPOINT
from evodesign.exceptions import UsageError

if TYPE_CHECKING:
    from evodesign.campaign.config import CampaignConfig
    from evodesign.campaign.results import CampaignResult

__all__ = ["BACKENDS", "run_seeds"]

BACKENDS = ("loky", "threading", "dask")


def _one(
    config: CampaignConfig,
    kind: str,
    seed: int,
    index: int,
    n_runs: int,
    out_root: str,
    cache_dir: str,
    base_dir: str,
    resume: bool,
    overwrite: bool,
    threads: int,
    progress: bool,
) -> CampaignResult:
    from evodesign.campaign.runner import Campaign, run_id
    from operators.progress import run_label

    campaign = Campaign(config, out_root=out_root, cache_dir=cache_dir, base_dir=base_dir, progress=progress)
    # every progress line of this run carries its id, so parallel runs' lines can be told apart
    with run_label(run_id(seed, index, n_runs, kind) if n_runs > 1 else None):
        if kind == "screen":
            return campaign.screen(seed, index=index, n_runs=n_runs, overwrite=overwrite, threads=threads)
        return campaign.run(seed, index=index, n_runs=n_runs, resume=resume, overwrite=overwrite, threads=threads)


@contextlib.contextmanager
def _backend(backend: str, scheduler: str | None) -> Iterator[dict[str, Any]]:
    """joblib keyword arguments for a backend; opens (and closes) a dask client if asked."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "dask":
        if scheduler is not None:
            raise UsageError("a scheduler (--scheduler) is only used with the dask backend (--backend dask)")
        yield {"backend": backend}
        return
    try:
        from dask.distributed import Client
    except ImportError as error:  # pragma: no cover - dask is an optional extra
        raise ImportError("the dask backend needs dask[distributed]: pip install 'evodesign[dask]'") from error
    if scheduler is None:
        raise UsageError(
            "--backend dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786, the address "
            "printed by `dask scheduler`)"
        )
    with Client(scheduler) as client:
        with __import__("joblib").parallel_config(backend="dask"):
            yield {"_client": client}


def run_seeds(
    config: CampaignConfig,
    *,
    seed: int | None = None,
    n_seeds: int = 1,
    n_jobs: int = 1,
    kind: str = "run",
    out_root: str | Path = "runs/output",
    cache_dir: str | Path | None = None,
    base_dir: str | Path = ".",
    backend: str = "loky",
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    threads_per_run: int = 1,
    progress: bool = True,
) -> list[CampaignResult]:
    """Run (or screen) ``n_seeds`` independent seeds of a campaign, ``n_jobs`` at a time.

    Args:
        config: the campaign.
        seed: campaign seed (default: the config's); run ``i`` uses its ``i``-th child.
        n_seeds: number of runs.
        n_jobs: parallel workers (joblib; -1 = all cores).
        kind: ``"run"`` (NSGA-II) or ``"screen"``.
        out_root / cache_dir / base_dir: as for :class:`~evodesign.campaign.Campaign`.
        backend: ``"loky"`` (processes, default), ``"threading"`` or ``"dask"``.
        scheduler: the dask scheduler's address (``backend="dask"`` only).
        resume / overwrite: as for :meth:`Campaign.run`.
        threads_per_run: torch threads inside each run.
        progress: print progress (per-generation lines of parallel runs interleave).

    Returns:
        The results, in seed-index order.
    """
    from evodesign.campaign.runner import Campaign

    if n_seeds < 1:
        raise UsageError(f"n_seeds (--seeds) must be >= 1, got {n_seeds}")
    if kind not in ("run", "screen"):
        raise UsageError(f"kind must be 'run' or 'screen', got {kind!r}")
    seed = config.campaign.seed if seed is None else int(seed)
    campaign = Campaign(config, out_root=out_root, cache_dir=cache_dir, base_dir=base_dir, progress=progress)
    # Check every folder up front, before any training: a clash found by worker 7 after
    # an hour is too late.
    if not resume and not overwrite:
        from evodesign.campaign.runner import RunExistsError

        taken = [
            d for i in range(n_seeds)
            if (d := campaign.run_dir(seed, i, n_seeds, kind)).exists() and any(d.iterdir())
        ]
        if len(taken) == 1:
            raise RunExistsError(taken[0], (taken[0] / CHECKPOINT).exists())
        if taken:
            shown = ", ".join(str(d) for d in taken[:3]) + (", ..." if len(taken) > 3 else "")
            raise RunExistsError(
                f"{len(taken)} run folders ({shown})", all((d / CHECKPOINT).exists() for d in taken), plural=True
            )
    campaign.prepare(kind)  # train once, here, before workers race to
    args = (str(out_root), str(campaign.cache_dir), str(base_dir), resume, overwrite, threads_per_run, progress)
    with _backend(backend, scheduler) as options:
        options.pop("_client", None)
        jobs = (delayed(_one)(config, kind, seed, i, n_seeds, *args) for i in range(n_seeds))
        if backend != "dask" and (n_seeds == 1 or n_jobs == 1):
            return [_one(config, kind, seed, i, n_seeds, *args) for i in range(n_seeds)]
        return list(Parallel(n_jobs=n_jobs, **options)(jobs))
