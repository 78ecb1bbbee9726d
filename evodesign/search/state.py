"""The state of a running NSGA-II as plain arrays and JSON: what a checkpoint holds.

A checkpoint must not be able to run code when it is read, so the search is not pickled.
What resuming needs is small and plain:

* the population: decision vectors ``X``, objectives ``F``, constraint values ``G``/``H``,
  violations ``CV`` and every per-individual datum pymoo or evodesign stored (rank,
  crowding distance, the surrogate's means and stds, operator and parent keys, the latent
  codes ``Z`` of the learned operators, ...);
* the algorithm's ``random_state`` (numpy's bit-generator state is a JSON dict of ints);
* counters: generation, evaluations, the termination's progress, the problem's counts of
  evaluated / failed / feasible designs, and the mating's share of kept children;
* with ``[search] operators = "adaptive"``, the operator portfolio's bandit and the arms of
  the last offspring (:mod:`evodesign.search.portfolio`).

Everything else (problem, operators, surrogate, caches) is rebuilt from the campaign's
config and models, then :func:`restore_search_state` puts the saved values back, so the
resumed run draws the same random numbers from the same population as an uninterrupted one.

Example:
    >>> arrays, meta = capture_search_state(algorithm)            # doctest: +SKIP
    >>> restore_search_state(fresh_algorithm, arrays, meta)       # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evodesign.exceptions import EvodesignError
from operators.model_files import jsonable

__all__ = ["SearchStateError", "capture_search_state", "population_from_state", "restore_search_state"]

#: population attributes kept as arrays (pymoo's own fields of an Individual)
_FIELDS = ("X", "F", "G", "H", "CV")


class SearchStateError(EvodesignError, ValueError):
    """A saved search state does not fit the algorithm it is restored into."""


def capture_search_state(algorithm: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The resumable state of a set-up, running pymoo genetic algorithm.

    Args:
        algorithm: a pymoo ``GeneticAlgorithm`` (NSGA-II as :func:`design_nsga2` builds
            it) after at least one ``next()``.

    Returns:
        ``(arrays, meta)``: ``arrays`` maps names to numeric numpy arrays (the population's
        `(pop_size, n_var)` X, `(pop_size, n_obj)` F, `(pop_size, n_ieq)` G, ... and one
        array per numeric per-individual datum, prefixed ``data.``); ``meta`` is a
        JSON-able dict (string data such as operator names, RNG state, counters).
    """
    pop = algorithm.pop
    arrays: dict[str, np.ndarray] = {}
    for name in _FIELDS:
        arrays[f"pop.{name}"] = np.asarray(pop.get(name), dtype=np.float64)
    text: dict[str, list[str]] = {}
    sparse: dict[str, dict[str, Any]] = {}
    keys = sorted(set().union(*(ind.data.keys() for ind in pop))) if len(pop) else []
    for key in keys:
        listed = pop.get(key, to_numpy=False)
        if any(isinstance(v, np.ndarray) and v.ndim == 1 for v in listed):
            # a vector per individual (the latent codes "Z"): unknown ones are NaN rows,
            # which is what the mating reads them as
            arrays[f"data.{key}"] = _vector_rows(key, listed)
            continue
        values = np.array(listed)
        if values.dtype == object and all(isinstance(v, str) for v in values):
            text[key] = [str(v) for v in values]
        elif values.dtype == object:
            # pymoo leaves e.g. "crowding" unset (None) until the first survival: keep the
            # Nones where they were, so the mating sees the same object array after a resume
            missing = [i for i, v in enumerate(values) if v is None]
            present = [v for v in values if v is not None]
            if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in present):
                raise SearchStateError(f"per-individual datum {key!r} is neither numeric nor text")
            kind = "int" if all(isinstance(v, (int, np.integer)) for v in present) else "float"
            arrays[f"data.{key}"] = np.array([np.nan if v is None else float(v) for v in values])
            sparse[key] = {"none": missing, "kind": kind}
        else:
            arrays[f"data.{key}"] = np.asarray(values)
    evaluated = sorted(set().union(*(ind.evaluated or set() for ind in pop))) if len(pop) else []
    meta = {
        "pop_size": len(pop),
        "text": text,
        "sparse": sparse,
        "evaluated": evaluated,
        "random_state": jsonable(algorithm.random_state.bit_generator.state),
        "n_iter": int(algorithm.n_iter),
        "n_eval": int(algorithm.evaluator.n_eval),
        "termination": {
            "perc": float(algorithm.termination.perc),
            "force_termination": bool(algorithm.termination.force_termination),
        },
        "kept_share": float(getattr(algorithm.mating, "kept_share", 1.0)),
        **_portfolio_meta(algorithm.mating),
        "problem": {
            name: int(getattr(algorithm.problem, name))
            for name in ("n_evaluated", "n_failed", "n_feasible")
            if hasattr(algorithm.problem, name)
        },
    }
    return arrays, meta


def restore_search_state(algorithm: Any, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Put a captured state into a freshly set-up algorithm (same config, same problem).

    Args:
        algorithm: ``setup`` called (with the problem and the run's seed), ``next`` not.
        arrays / meta: from :func:`capture_search_state` (as read back from a checkpoint).

    Raises:
        SearchStateError: when a key is missing or a shape does not fit the problem, naming
            the key and what was expected.
    """
    problem = algorithm.problem
    pop = population_from_state(
        arrays, meta, n_var=problem.n_var, n_obj=problem.n_obj, n_ieq=problem.n_ieq_constr, n_eq=problem.n_eq_constr
    )

    state = _get(meta, "random_state", dict)
    current = algorithm.random_state.bit_generator.state
    if state.get("bit_generator") != current.get("bit_generator"):
        raise SearchStateError(
            f"the saved random state is of {state.get('bit_generator')!r}; this algorithm "
            f"uses {current.get('bit_generator')!r}"
        )
    try:
        algorithm.random_state.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise SearchStateError(f"the saved random state is not valid: {error}") from error

    algorithm.pop = pop
    algorithm.off = None
    algorithm.n_iter = _get(meta, "n_iter", int)
    algorithm.is_initialized = True
    algorithm.start_time = time.time()  # pymoo's result() reports time since (re)start
    algorithm.evaluator.n_eval = _get(meta, "n_eval", int)
    termination = _get(meta, "termination", dict)
    algorithm.termination.perc = float(termination.get("perc", 0.0))
    algorithm.termination.force_termination = bool(termination.get("force_termination", False))
    if hasattr(algorithm.mating, "kept_share"):
        algorithm.mating.kept_share = float(meta.get("kept_share", 1.0))
    if hasattr(algorithm.mating, "load_portfolio_state"):
        saved = _get(meta, "portfolio", dict)
        try:
            algorithm.mating.load_portfolio_state(saved)
        except (KeyError, TypeError, ValueError) as error:
            raise SearchStateError(f"the saved operator portfolio cannot be restored: {error}") from error
    for name, value in _get(meta, "problem", dict).items():
        if name in ("n_evaluated", "n_failed", "n_feasible"):
            setattr(problem, name, int(value))
    algorithm._set_optimum()


def population_from_state(
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
    *,
    n_var: int | None = None,
    n_obj: int | None = None,
    n_ieq: int | None = None,
    n_eq: int | None = None,
) -> Any:
    """The saved population as a pymoo ``Population`` (shapes checked against the problem's).

    Args:
        arrays / meta: from :func:`capture_search_state`.
        n_var / n_obj / n_ieq / n_eq: the problem's sizes; None skips that check.

    Raises:
        SearchStateError: naming the key that is missing or has the wrong shape.
    """
    from pymoo.core.population import Population

    n = _get(meta, "pop_size", int)
    expected = {
        "pop.X": (n, n_var),
        "pop.F": (n, n_obj),
        "pop.G": (n, n_ieq),
        "pop.H": (n, n_eq),
        "pop.CV": (n, 1),
    }
    for key, shape in expected.items():
        if key not in arrays:
            raise SearchStateError(f"the saved population has no {key!r}")
        value = arrays[key]
        if not np.issubdtype(value.dtype, np.number):
            raise SearchStateError(f"the saved {key!r} is not numeric ({value.dtype})")
        got = tuple(value.shape)
        if len(got) != 2 or any(want is not None and g != want for g, want in zip(got, shape)):
            shown = tuple("any" if want is None else want for want in shape)
            raise SearchStateError(
                f"the saved {key!r} has shape {got}; this campaign needs {shown} "
                "(population size, variables, objectives or constraints differ)"
            )
    if not np.isfinite(arrays["pop.X"]).all():
        raise SearchStateError("the saved population holds non-finite decision variables")
    pop = Population.new("X", arrays["pop.X"].astype(np.float64))
    for name in _FIELDS[1:]:
        pop.set(name, arrays[f"pop.{name}"].astype(np.float64))
    for key, values in arrays.items():
        if key.startswith("data."):
            if len(values) != n:
                raise SearchStateError(f"the saved {key!r} has {len(values)} rows, not {n}")
            name = key[len("data.") :]
            pop.set(name, _with_nones(name, values, _get(meta, "sparse", dict).get(name)))
    for key, values in _get(meta, "text", dict).items():
        if not isinstance(values, list) or len(values) != n or not all(isinstance(v, str) for v in values):
            raise SearchStateError(f"the saved text datum {key!r} is not {n} strings")
        pop.set(key, np.array(values, dtype=object))
    evaluated = _get(meta, "evaluated", list)
    for ind in pop:
        ind.evaluated = set(evaluated)
    return pop


def _portfolio_meta(mating: Any) -> dict[str, Any]:
    """``{"portfolio": ...}``: the adaptive operator portfolio's bandit and bookkeeping
    (:class:`~evodesign.search.portfolio.PortfolioMating`); ``{}`` for other matings, so
    their checkpoints are unchanged."""
    state = getattr(mating, "portfolio_state", None)
    return {} if state is None else {"portfolio": jsonable(state())}


def _vector_rows(name: str, values: list[Any]) -> np.ndarray:
    """`(n, d)` float64 rows of a per-individual vector datum, NaN rows for ``None``."""
    width = {np.shape(v) for v in values if v is not None}
    if len(width) != 1 or len(next(iter(width))) != 1:
        raise SearchStateError(f"per-individual datum {name!r} holds vectors of lengths {sorted(width)}")
    out = np.full((len(values), next(iter(width))[0]), np.nan)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = v
    return out


def _with_nones(name: str, values: np.ndarray, sparse: Any) -> np.ndarray:
    """A saved numeric column, as the object array with Nones it was (see capture)."""
    if sparse is None:
        return values.copy()
    if not isinstance(sparse, dict) or not isinstance(sparse.get("none"), list):
        raise SearchStateError(f"the saved layout of {name!r} is malformed")
    none = sparse["none"]
    if not all(isinstance(i, int) and 0 <= i < len(values) for i in none):
        raise SearchStateError(f"the saved layout of {name!r} names rows outside the population")
    cast = int if sparse.get("kind") == "int" else float
    out = np.array([cast(v) if np.isfinite(v) else v for v in values.tolist()] + [None], dtype=object)[:-1]
    out[none] = None
    return out


def _get(meta: dict[str, Any], key: str, kind: type) -> Any:
    if key not in meta:
        raise SearchStateError(f"the saved search state has no {key!r}")
    value = meta[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise SearchStateError(f"the saved {key!r} is a {type(value).__name__}, not a {kind.__name__}")
    return value
