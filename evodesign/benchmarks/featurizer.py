"""``evodesign bench featurizer``: our Magpie featurizer vs matminer's, same input, one core.

Both featurizers get the same seeded sample of reduced formulas from the transport data
set, in the same process, with BLAS/OpenMP pools capped to one thread by ``threadpoolctl``
so that the numbers are per core. matminer runs once (it is slow and steady); ours repeats
until it has accumulated more than half a second and reports the median call.
"""

from __future__ import annotations

import platform
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.featurizers import MagpieFeaturizer

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["format_featurizer_table", "run_featurizer_benchmark"]

# Relative differences are taken against max(|matminer|, this): statistics that are zero in
# exact arithmetic (avg_dev of one element) come out as ~1e-14 round-off on either side.
_REL_FLOOR = 1e-6
_MIN_TIMED_SECONDS = 0.5


def run_featurizer_benchmark(n: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Time matminer's and our Magpie featurization of the same compositions.

    Args:
        n: Number of compositions, drawn without replacement from the transport data set's
            reduced formulas (all of them if ``n`` is larger).
        seed: Seed of the sample.

    Returns:
        A JSON-ready dict: ``n``, ``matminer_per_second``, ``ours_per_second`` (median call
        on the `(n, n_elements)` amount matrix), ``ours_best_per_second``,
        ``ours_from_compositions_per_second`` (including building that matrix from
        pymatgen Compositions), ``speedup`` (ours median / matminer), ``max_abs_diff``,
        ``max_rel_diff`` (against ``max(|matminer|, 1e-6)``), ``n_features``, ``threads``,
        ``repeats`` and the ``python``, ``numpy``, ``matminer`` versions.
    """
    import matminer
    from matminer.featurizers.composition import ElementProperty
    from threadpoolctl import threadpool_limits

    from evodesign.datasets import load_transport

    data = load_transport()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(data), size=min(n, len(data)), replace=False))
    every = data.compositions
    compositions = [every[i] for i in rows]

    reference = ElementProperty.from_preset("magpie")
    reference.set_n_jobs(1)
    ours = MagpieFeaturizer(data.elements).fit()
    X = ours.composition_matrix(compositions)

    with threadpool_limits(limits=1):
        start = time.perf_counter()
        expected = np.asarray(reference.featurize_many(compositions, pbar=False), dtype=float)
        matminer_seconds = time.perf_counter() - start

        ours.transform(X)  # warm-up: first-touch of buffers and lazy imports
        times = []
        while sum(times) < _MIN_TIMED_SECONDS:
            start = time.perf_counter()
            got = ours.transform(X)
            times.append(time.perf_counter() - start)

        start = time.perf_counter()
        ours.transform_compositions(compositions)
        from_compositions_seconds = time.perf_counter() - start

    if ours.feature_labels() != reference.feature_labels():
        raise AssertionError("feature labels differ from matminer's")
    diff = np.abs(got - expected)
    n_rows = len(compositions)
    median = float(np.median(times))
    return {
        "n": n_rows,
        "seed": seed,
        "matminer_per_second": n_rows / matminer_seconds,
        "ours_per_second": n_rows / median,
        "ours_best_per_second": n_rows / min(times),
        "ours_from_compositions_per_second": n_rows / from_compositions_seconds,
        "speedup": matminer_seconds / median,
        "max_abs_diff": float(diff.max()),
        "max_rel_diff": float((diff / np.maximum(np.abs(expected), _REL_FLOOR)).max()),
        "n_features": int(got.shape[1]),
        "threads": 1,
        "repeats": len(times),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "matminer": getattr(matminer, "__version__", _distribution_version("matminer")),
    }


def format_featurizer_table(result: dict[str, Any]) -> Table:
    """A rich table of :func:`run_featurizer_benchmark`'s result."""
    from rich.table import Table

    table = Table(
        title=f"Magpie featurization, {result['n']} compositions, {result['threads']} thread"
    )
    table.add_column("featurizer", no_wrap=True)
    table.add_column("compositions / s", justify="right", no_wrap=True)
    table.add_row("matminer ElementProperty (magpie)", f"{result['matminer_per_second']:,.0f}")
    table.add_row("evodesign MagpieFeaturizer", f"{result['ours_per_second']:,.0f}")
    table.add_row(
        "  incl. Composition -> matrix", f"{result['ours_from_compositions_per_second']:,.0f}"
    )
    table.add_row("speedup", f"{result['speedup']:,.0f}x")
    table.caption = (
        f"max abs diff {result['max_abs_diff']:.2e}, max rel diff "
        f"{result['max_rel_diff']:.2e} over {result['n_features']} features; "
        f"numpy {result['numpy']}, matminer {result['matminer']}"
    )
    return table


def _distribution_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)
