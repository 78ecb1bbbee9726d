"""Generators that learn during the search: ``[generators] adapt_every = G``.

Every ``G`` generations the learned operators' shared model (:mod:`operators.adaptation`)
is fine-tuned on the search's designs weighted by their non-dominated rank -- Tripp et
al.'s ``1 / (k N + rank)`` (``adapt_weighting = "rank"``) or GMOEA's better half
(``"split"``) -- and the crossover and mutation are given the fine-tuned copy.

**What it learns from.** The runner's archive holds only the label of every design seen,
not its objectives, so the training rows are the population after survival plus the
generation's offspring that did not survive: the very set NSGA-II's survival has just
ranked (up to ``2 pop_size`` designs, duplicates once). NSGA-II is elitist, so the
population holds the best designs found so far (all of the first front unless it outgrew
the population); the rejected offspring are the "poor" designs GMOEA contrasts with the
good ones, and with ``"split"`` the better half is about the surviving population.
Nothing beyond the model's weights then has to be checkpointed (an archive of every
evaluated 64x64 image would not be small).

**Ranks.** Feasible designs (constraint violation 0, finite objectives) are ranked by
pymoo's non-dominated sorting, 0 for the first front; infeasible ones come after every
feasible one, ordered by their violation (equal violations share a rank); a design with
a non-finite objective or violation comes last. NaN never reaches the sorting.

**After a fine-tuning** the population's latent codes ``"Z"`` are codes of the old
model: they are reset to NaN, and :class:`~evodesign.search.BatchMating` re-encodes the
whole population in one call at the next mating.

**Resume.** The fine-tuned weights are saved with every checkpoint after the first
fine-tuning (:meth:`GeneratorAdaptation.state_arrays`: exact float32 arrays), and each
fine-tuning draws from its own seed, ``SeedSequence(run entropy, spawn_key=(*run key,
ADAPT_STREAM, generation))``, not from the algorithm's ``random_state``: the search's
random numbers are the same as without adaptation, and a resumed run is bit-identical.

No fine-tuning happens after the last generation (nothing would use it), nor with
operators that hold no generative model (``operators = "classical"``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.search.duplicates import duplicate_mask
from evodesign.search.mating import CODES
from operators.adaptation import adopt, fine_tune, load_state_arrays, rank_weights, split_weights, state_arrays
from operators.variation import shared_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ADAPT_STREAM", "GeneratorAdaptation", "adaptation_timings", "archive_ranks", "rank_based_weights"]

#: the spawn-key entry of the fine-tunings' seeds (apart from every other stream of a run)
ADAPT_STREAM = 0xADA
#: prefix of the fine-tuned weights among a checkpoint's arrays
PREFIX = "generators."
WEIGHTINGS = ("rank", "split")


def archive_ranks(F: NDArray[np.float64], CV: NDArray[np.float64]) -> NDArray[np.int64]:
    """Non-dominated ranks with infeasible designs after the feasible ones.

    Args:
        F: `(n, n_obj)` objectives (minimised).
        CV: `(n,)` constraint violations (0: feasible).

    Returns:
        `(n,)` ranks: feasible designs by non-dominated front (0 first), then infeasible
        ones by increasing violation (ties share a rank), then designs with a non-finite
        objective or violation.

    Example:
        >>> F = np.array([[0., 1.], [1., 0.], [1., 1.], [0., 0.], [5., 5.], [np.nan, 0.]])
        >>> archive_ranks(F, np.array([0., 0., 0., 2., 0.5, 0.])).tolist()
        [0, 0, 1, 3, 2, 4]
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=np.float64)
    CV = np.asarray(CV, dtype=np.float64).reshape(len(F))
    finite = np.isfinite(F).all(axis=1) & np.isfinite(CV)
    feasible = np.flatnonzero(finite & (CV <= 0))
    ranks = np.zeros(len(F), dtype=np.int64)
    base = 0
    if len(feasible):
        for r, front in enumerate(NonDominatedSorting().do(F[feasible])):
            ranks[feasible[front]] = r
        base = int(ranks[feasible].max()) + 1
    infeasible = np.flatnonzero(finite & (CV > 0))
    if len(infeasible):
        _, order = np.unique(CV[infeasible], return_inverse=True)
        ranks[infeasible] = base + np.asarray(order).reshape(-1)
        base = int(ranks[infeasible].max()) + 1
    ranks[~finite] = base
    return ranks


def rank_based_weights(ranks: NDArray[np.int64], weighting: str, k: float) -> NDArray[np.float64]:
    """`(n,)` fine-tuning weights of designs of `(n,)` ``ranks``: ``"rank"``
    (:func:`~operators.adaptation.rank_weights` with ``k``) or ``"split"``
    (:func:`~operators.adaptation.split_weights`)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown adapt_weighting {weighting!r}; choose one of {WEIGHTINGS}")
    return rank_weights(ranks, k) if weighting == "rank" else split_weights(ranks)


def adaptation_timings(history: list[dict[str, Any]]) -> dict[str, float]:
    """``adapt_s`` (seconds fine-tuning, in all) and ``adapt_share`` (their share of the
    search: fine-tuning / (generations + fine-tuning)) from ``history.csv`` rows; rows
    without ``adapt_s`` count 0."""
    adapt = float(sum(row.get("adapt_s", 0.0) or 0.0 for row in history))
    search = float(sum(row.get("seconds", 0.0) for row in history)) + adapt
    return {"adapt_s": adapt, "adapt_share": adapt / search if search > 0 else 0.0}


class GeneratorAdaptation:
    """Fine-tunes a running NSGA-II's generative model every ``every`` generations.

    Args:
        every: generations between fine-tunings (>= 1).
        weighting: ``"rank"`` (:func:`~operators.adaptation.rank_weights`) or ``"split"``
            (:func:`~operators.adaptation.split_weights`).
        k: the ``k`` of ``"rank"``.
        epochs: VAE epochs per fine-tuning (:func:`~operators.adaptation.fine_tune`).
        seed: the run's SeedSequence; fine-tuning at generation ``g`` draws from
            ``SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, ADAPT_STREAM, g))``.

    Attributes:
        model: the fine-tuned model the operators hold (``None`` before the first).
        n_adapted: fine-tunings done, in this run (resumed ones included).
    """

    def __init__(
        self, every: int, weighting: str = "rank", k: float = 1e-3, epochs: int = 2,
        seed: np.random.SeedSequence | None = None,
    ) -> None:
        if int(every) != every or every < 1:
            raise ValueError(f"adapt_every must be an integer >= 1, got {every!r}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown adapt_weighting {weighting!r}; choose one of {WEIGHTINGS}")
        self.every, self.weighting, self.k, self.epochs = int(every), weighting, float(k), int(epochs)
        self.seed = np.random.SeedSequence(0) if seed is None else seed
        self.model: Any = None
        self.n_adapted = 0

    @classmethod
    def from_settings(cls, generators: Any, seed: np.random.SeedSequence) -> GeneratorAdaptation | None:
        """From a ``[generators]`` table's ``adapt_*`` keys; ``None`` when ``adapt_every = 0``."""
        if not generators.adapt_every:
            return None
        return cls(generators.adapt_every, generators.adapt_weighting, generators.adapt_k,
                   generators.adapt_epochs, seed)

    def weights(self, ranks: NDArray[np.int64]) -> NDArray[np.float64]:
        """`(n,)` training weights of designs of these ranks."""
        return rank_based_weights(ranks, self.weighting, self.k)

    def random_state(self, generation: int) -> np.random.Generator:
        """The generator of the fine-tuning at ``generation`` (see the class docstring)."""
        key = (*self.seed.spawn_key, ADAPT_STREAM, int(generation))
        return np.random.default_rng(np.random.SeedSequence(self.seed.entropy, spawn_key=key))

    @staticmethod
    def _operators(algorithm: Any) -> tuple[Any, Any]:
        mating = algorithm.mating
        return mating.crossover, mating.mutation

    @staticmethod
    def training_rows(algorithm: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """`(n, n_var)` X, `(n, n_obj)` F and `(n,)` CV of the population followed by the
        last offspring not in it (see the module docstring), duplicates once."""
        pops = [algorithm.pop]
        off = getattr(algorithm, "off", None)
        if off is not None and len(off):
            pops.append(off)
        X = np.concatenate([np.asarray(p.get("X"), dtype=np.float64) for p in pops])
        F = np.concatenate([np.asarray(p.get("F"), dtype=np.float64) for p in pops])
        CV = np.concatenate([np.asarray(p.get("CV"), dtype=np.float64).reshape(len(p), -1)[:, 0] for p in pops])
        keep = ~duplicate_mask(X, np.empty((0, X.shape[1])))
        return X[keep], F[keep], CV[keep]

    def due(self, algorithm: Any, generation: int) -> bool:
        """Whether to fine-tune after ``generation``: every ``every``-th, never after the last."""
        return generation > 0 and generation % self.every == 0 and algorithm.has_next()

    def after_generation(self, algorithm: Any, generation: int) -> float:
        """Fine-tune if due (see :meth:`due`); the seconds it took (0.0 when not)."""
        if not self.due(algorithm, generation):
            return 0.0
        base = shared_model(*self._operators(algorithm))
        if base is None:
            return 0.0
        start = time.perf_counter()
        X, F, CV = self.training_rows(algorithm)
        weights = self.weights(archive_ranks(F, CV))
        # num_threads None: the runner has set the run's torch threads already
        model = fine_tune(base, X, weights, epochs=self.epochs, random_state=self.random_state(generation),
                          num_threads=None)
        self._use(algorithm, model)
        self.n_adapted += 1
        return time.perf_counter() - start

    def _use(self, algorithm: Any, model: Any) -> None:
        """Give the operators ``model`` and forget the population's codes of the old one."""
        adopt(model, *self._operators(algorithm))
        self.model = model
        if getattr(algorithm.mating, "codes", "none") != "none" and len(algorithm.pop):
            algorithm.pop.set(CODES, np.full((len(algorithm.pop), model.latent_dim), np.nan))

    def state_arrays(self) -> dict[str, NDArray]:
        """The fine-tuned weights for a checkpoint, ``"generators.vae.<name>"`` ... (empty
        before the first fine-tuning), and ``"generators.n_adapted"``."""
        if self.model is None:
            return {}
        arrays = {PREFIX + k: v for k, v in state_arrays(self.model).items()}
        arrays[PREFIX + "n_adapted"] = np.array(self.n_adapted, dtype=np.int64)
        return arrays

    def restore(self, algorithm: Any, arrays: dict[str, NDArray]) -> None:
        """Put back the weights of :meth:`state_arrays` (nothing when there are none).

        Call after the search state is restored: the saved population's codes are already
        those of the fine-tuned model, or NaN.

        Raises:
            ValueError: the saved weights do not fit the operators' model (named).
        """
        saved = {k[len(PREFIX) :]: v for k, v in arrays.items() if k.startswith(PREFIX)}
        if not saved:
            return
        base = shared_model(*self._operators(algorithm))
        if base is None:
            raise ValueError("the checkpoint holds fine-tuned generators, but these operators use no generative model")
        self.n_adapted = int(saved.pop("n_adapted", 0))
        model = load_state_arrays(base, saved)
        adopt(model, *self._operators(algorithm))
        self.model = model
