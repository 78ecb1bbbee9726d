"""Solver-call accounting shared by every arm of ``evodesign bench microstructure``.

:class:`BudgetProblem` wraps the campaign's :class:`~evodesign.problem.DesignProblem`:
it decodes an arm's genes to repaired pixel vectors (pixels, latent points or family
parameters), solves each distinct image once (cached by its lossless id) and logs, in the
order solved, the first ``budget`` solves. :class:`Front` keeps the feasible non-dominated
set of the logged designs and its hypervolume after every generation (the HV-vs-evaluations
curve). :func:`run_generations` steps a pymoo algorithm until the budget is spent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pymoo.core.problem import Problem

from evodesign.benchmarks.microstructure.protocol import normalised

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.problem import DesignProblem

__all__ = ["BudgetProblem", "Front", "run_generations"]


class Front:
    """The feasible non-dominated designs solved so far and their hypervolume.

    Args:
        objectives: the campaign's objectives.
        conductivity: ``(k_matrix, k_filler)`` for the normalisation.
    """

    def __init__(self, objectives: list[Any], conductivity: tuple[float, float]) -> None:
        self.objectives = objectives
        self.conductivity = conductivity
        n_obj = len(objectives)
        self.values = np.zeros((0, n_obj))
        self.images: NDArray[np.uint8] | None = None
        self.keys: list[bytes] = []

    def add(
        self, values: NDArray[np.float64], images: NDArray[np.uint8], keys: list[bytes]
    ) -> None:
        """Merge `(m, n_obj)` feasible designs (their `(m, H, W)` images and ids)."""
        if len(values) == 0:
            return
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        all_values = np.vstack([self.values, values])
        all_images = images if self.images is None else np.concatenate([self.images, images])
        all_keys = self.keys + list(keys)
        F, _ = normalised(self.objectives, all_values, self.conductivity)
        keep = NonDominatedSorting().do(F, only_non_dominated_front=True)
        keep = np.sort(np.asarray(keep, dtype=np.int64))
        self.values, self.images = all_values[keep], all_images[keep]
        self.keys = [all_keys[i] for i in keep]

    def hypervolume(self) -> float:
        """Hypervolume of the set in normalised units (0 when empty)."""
        from pymoo.indicators.hv import HV

        if len(self.values) == 0:
            return 0.0
        F, ref = normalised(self.objectives, self.values, self.conductivity)
        inside = (F < ref).all(axis=1)
        return float(HV(ref_point=ref)(F[inside])) if inside.any() else 0.0


class BudgetProblem(Problem):
    """A pymoo problem over an arm's genes that solves each distinct design once.

    Args:
        inner: the campaign's problem over pixel vectors (every solve goes through it).
        space: the microstructure space (ids, decoding).
        budget: solves logged and scored; later ones are answered but not logged.
        front: where the logged feasible designs go.
        decoder: genes `(n, n_genes)` -> repaired pixel vectors `(n, n_var)`; None: the genes
            are pixel vectors already repaired (the engine's NSGA-II repairs its children).
        n_var / xl / xu: the genes' box (default: the inner problem's).

    Individuals get ``F``, ``G``, ``values`` (natural objective values) and ``Xd`` (their
    repaired pixel vectors).
    """

    def __init__(
        self,
        inner: DesignProblem,
        space: Any,
        budget: int,
        front: Front,
        decoder: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
        n_var: int | None = None,
        xl: Any = None,
        xu: Any = None,
    ) -> None:
        self.inner, self.space, self.budget, self.front, self.decoder = (
            inner,
            space,
            int(budget),
            front,
            decoder,
        )
        self.cache: dict[bytes, tuple[NDArray, NDArray, NDArray]] = {}
        self.n_solved = 0  # distinct designs solved (all of them)
        self.n_logged = 0  # of which within the budget
        self.n_feasible = 0  # of the logged ones
        super().__init__(
            n_var=inner.n_var if n_var is None else n_var,
            n_obj=inner.n_obj,
            n_ieq_constr=inner.n_ieq_constr,
            xl=inner.xl if xl is None else xl,
            xu=inner.xu if xu is None else xu,
        )

    def decode(self, genes: NDArray[np.float64]) -> NDArray[np.float64]:
        """`(n, n_genes)` -> `(n, n_var)` repaired pixel vectors."""
        genes = np.asarray(genes, dtype=np.float64).reshape(-1, self.n_var)
        if self.decoder is None:
            return self.space.repair(genes)
        return self.decoder(genes) if len(genes) else np.zeros((0, self.inner.n_var))

    def _evaluate(
        self, X: NDArray[np.float64], out: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        """Score `(n, n_genes)` genes: F, G, values and Xd, solving only unseen designs."""
        Xd = self.decode(X)
        images = self.space.decode(Xd)
        keys = [k.tobytes() for k in self.space.ids(images)]
        new, seen = [], set()
        for i, k in enumerate(keys):
            if k not in self.cache and k not in seen:
                new.append(i)
                seen.add(k)
        if new:
            res = self.inner.evaluate(Xd[new], return_as_dictionary=True)
            for j, i in enumerate(new):
                self.cache[keys[i]] = (res["F"][j], res["G"][j], res["values"][j])
            self._log(np.asarray(new), images, keys, res)
        rows = [self.cache[k] for k in keys]
        n = len(X)
        out["F"] = np.array([r[0] for r in rows]).reshape(n, self.n_obj)
        out["G"] = np.array([r[1] for r in rows]).reshape(n, self.n_ieq_constr)
        out["values"] = np.array([r[2] for r in rows]).reshape(n, self.n_obj)
        out["Xd"] = Xd

    def _log(
        self, new: NDArray[np.int64], images: NDArray[np.uint8], keys: list[bytes], res: dict
    ) -> None:
        # only the first `budget` solves are scored: every arm gets exactly the same number
        room = max(0, self.budget - self.n_logged)
        self.n_solved += len(new)
        take = min(room, len(new))
        if take == 0:
            return
        feasible = (np.asarray(res["G"])[:take] <= 0).all(axis=1)
        self.n_logged += take
        self.n_feasible += int(feasible.sum())
        rows = new[:take][feasible]
        self.front.add(
            np.asarray(res["values"])[:take][feasible], images[rows], [keys[i] for i in rows]
        )

    @property
    def spent(self) -> bool:
        """Whether the budget is used up."""
        return self.n_logged >= self.budget


def run_generations(
    algorithm: Any, problem: BudgetProblem, seed: int, max_stall: int = 10
) -> list[list[float]]:
    """Step ``algorithm`` on ``problem`` until its budget is spent.

    Args:
        algorithm: a pymoo algorithm (not yet set up).
        problem: the arm's problem.
        seed: pymoo's seed.
        max_stall: stop after this many generations in a row without a new solve (a search
            that only proposes designs it has seen).

    Returns:
        The HV curve: ``[n_evaluations, oracle_hv]`` after every generation.
    """
    algorithm.setup(problem, termination=("n_gen", 10**9), seed=int(seed), verbose=False)
    curve: list[list[float]] = []
    stall = 0
    while not problem.spent and stall < max_stall:
        before = problem.n_solved
        algorithm.next()
        curve.append([problem.n_logged, problem.front.hypervolume()])
        stall = stall + 1 if problem.n_solved == before else 0
    return curve
