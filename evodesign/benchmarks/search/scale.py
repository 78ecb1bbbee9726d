"""Speed and scale checks of ``evodesign bench search``: parallel seeds, a ZDT1 regression of
plain pymoo NSGA-II, and the environment the numbers were measured in."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.benchmarks.search.protocol import TARGETS

if TYPE_CHECKING:
    from evodesign.campaign import CampaignConfig

__all__ = ["environment", "parallel_speedup", "zdt1_regression"]


def zdt1_regression(n_seeds: int = 5, n_gen: int = 200, pop_size: int = 100) -> dict[str, Any]:
    """Plain pymoo NSGA-II (SBX/PM defaults) on ZDT1, 30 variables: HV at (1.1, 1.1) per seed."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.indicators.hv import HV
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem

    hv = HV(ref_point=np.array([1.1, 1.1]))
    out = []
    start = time.perf_counter()
    for s in range(n_seeds):
        res = minimize(get_problem("zdt1", n_var=30), NSGA2(pop_size=pop_size), ("n_gen", n_gen), seed=s, verbose=False)
        out.append(float(hv(res.F)))
    return {
        "n_var": 30, "pop_size": pop_size, "n_gen": n_gen, "seeds": list(range(n_seeds)), "hv": out,
        "target": TARGETS["zdt1_hv"], "met": bool(n_gen >= 200 and min(out) >= TARGETS["zdt1_hv"]),
        "seconds": time.perf_counter() - start,
    }


def parallel_speedup(config: CampaignConfig, seed: int, out_root: Path, cache_dir: Path, base_dir: Path) -> dict[str, Any]:
    """Two seeds with ``run_seeds``: one after another vs two workers, in the same run."""
    from evodesign.campaign import run_seeds

    times = {}
    for n_jobs in (1, 2):
        start = time.perf_counter()
        run_seeds(config, seed=seed, n_seeds=2, n_jobs=n_jobs, out_root=out_root / f"parallel-j{n_jobs}",
                  cache_dir=cache_dir, base_dir=base_dir, overwrite=True, progress=False)
        times[n_jobs] = time.perf_counter() - start
    return {
        "n_seeds": 2, "pop_size": config.search.pop_size, "n_gen": config.search.n_gen,
        "operators": config.search.operators, "seconds_n_jobs_1": times[1], "seconds_n_jobs_2": times[2],
        "speedup": times[1] / times[2], "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }



def environment() -> dict[str, Any]:
    """Versions, CPUs and load of the machine, for the result's ``environment``."""
    import pymoo
    import sklearn

    import evodesign

    env = {
        "evodesign": evodesign.__version__, "python": platform.python_version(), "pymoo": pymoo.__version__,
        "scikit-learn": sklearn.__version__, "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    try:
        import torch

        env["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        env["torch"] = None
    return env

