"""Array-based NSGA-II mating: the same steps as pymoo's, without per-individual Python.

pymoo's :class:`~pymoo.core.mating.Mating` reads and writes the population one
``Individual`` at a time (tournaments, parent lookup, provenance), and asks for exactly
the missing number of children, removes duplicates, and repeats until the offspring is
full. After :class:`~evodesign.search.SpaceRepair` snaps children to integer formulas,
many repeat a parent or each other (measured: about 5 rounds a generation at population
1,000), and each round pays every step again. :class:`BatchMating` does the same
work on arrays:

1. **selection** -- NSGA-II's binary tournament (pymoo's ``binary_tournament`` with
   ``comp_by_dom_and_crowding``: lower constraint violation, then Pareto dominance, then
   larger crowding distance, then a coin flip), vectorized over all tournaments;
2. **variation** -- the operators' array-level entries (:mod:`operators.variation`) on
   `(n_parents, n_matings, n_var)` / `(n, n_var)` arrays (so learned operators, guided or
   not, and pymoo's SBX/PM run unchanged), each mating crossed with the crossover's
   ``prob``, each child mutated with the mutation's ``prob``;
3. **repair** (snap to formulas) and **duplicate elimination** (hash) on the array, before
   any ``Individual`` is created;
4. **provenance** (:mod:`operators.provenance`, the same functions as the operators' own
   ``do``): ``"operator"`` is the crossover's name, ``"clone"`` for a child identical to a
   parent, with ``"+<mutation name>"`` appended when the mutation changed it;
   ``"parents"`` the parents' vector keys.

**Latent codes** (learned operators sharing one model): individuals keep their latent code
in the population attribute ``"Z"`` (a `(latent_dim,)` row; NaN or absent while unknown),
saved in checkpoints with the rest of the population. The individuals without one (the
initial population) are encoded once, all together when the population is first mated (the
model's refined encoding), and keep it. Within a generation a child is made in latent space:
the crossover's interpolated point, from which the mutation steps on without decode ->
re-encode in between; a crossover child is decoded only if the mutation passes it by (so it
is never a ``"clone"`` of its parents when mutated). After the repair has snapped the child
to its design, its code is set by ``codes``:

* ``"mean"`` (default): the encoder's posterior mean of the repaired child (one encoder pass
  for the children kept, no refinement);
* ``"refined"``: refined from the point it was decoded from towards the repaired child
  (the model's refinement, warm-started);
* ``"decoded"``: the point it was decoded from, as is;
* ``"verified"``: that point where its decoding is within ``refine_tol`` of the repaired
  child, else encoded (refined) when the population is next mated;
* ``"none"``: no codes kept; the operators encode every selected parent every generation
  (the behaviour before codes were kept; the default campaign's seed-0 front with it is
  value-identical to the one saved before, tests/data/thermoelectric_seed0_front.txt).

Measured (issue 13). Time per generation at population 1,000 relative to the classical
arm (``evodesign bench overhead``, same run, short-trained model,
docs/benchmarks/overhead.json): ``"mean"`` 1.37x, ``"decoded"`` 1.29x, ``"refined"`` 2.61x,
``"none"`` 4.08x (at 5,000: 1.34x, 1.30x, 2.17x, 3.66x). Search quality, the default
campaign's own hypervolume over seeds 0-4 (``runs/thermoelectric.toml``, 200 x 40):
``"none"`` 1.0429 (mean), ``"refined"`` 1.0392, ``"mean"`` 1.0384, ``"decoded"`` 1.0265
(lower than ``"none"`` on 5 of 5 seeds). A child's decoded point drifts: the repair moves 2
of 3 children more than ``refine_tol`` away from it, and interpolating and stepping from
points that no longer stand for the parents compounds over generations; re-encoding the
child pulls its code back to where the encoder puts such designs.

It asks for ``missing / kept_share`` children per round, ``kept_share`` being the share of
children that survived duplicate elimination last time (kept across generations and saved
with the algorithm in checkpoints), and keeps the first ``missing`` new ones. Every random
number comes from the algorithm's ``random_state``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from pymoo.core.mating import Mating
from pymoo.core.population import Population
from pymoo.core.variable import get as variable_value

from evodesign.search.duplicates import duplicate_mask
from operators.provenance import crossover_provenance, mutation_provenance, vector_keys
from operators.variation import crossover_arrays, mutation_arrays, shared_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["CODES", "CODE_POLICIES", "BatchMating", "ParentArrays", "binary_tournament"]

#: the population attribute holding each individual's latent code
CODES = "Z"
#: what a child's code is: the point it was decoded from, or that point only where its
#: decoding matches the repaired child (see the module docstring)
CODE_POLICIES = ("decoded", "refined", "mean", "verified", "none")


def binary_tournament(
    CV: NDArray[np.float64],
    F: NDArray[np.float64],
    crowding: NDArray[np.float64],
    n_select: int,
    n_parents: int,
    random_state: np.random.Generator,
) -> NDArray[np.int64]:
    """NSGA-II's binary tournament over a whole population at once.

    Args:
        CV: `(n,)` constraint violations (0 = feasible).
        F: `(n, n_obj)` objectives (minimised).
        crowding: `(n,)` crowding distances (larger wins among mutually non-dominated).
        n_select: matings to fill.
        n_parents: parents per mating.
        random_state: the algorithm's generator.

    Returns:
        A `(n_select, n_parents)` array of population indices.
    """
    n = len(CV)
    n_random = n_select * n_parents * 2
    n_perms = math.ceil(n_random / n)
    P = np.concatenate([random_state.permutation(n) for _ in range(n_perms)])[:n_random].reshape(-1, 2)
    a, b = P[:, 0], P[:, 1]
    winner = np.where(random_state.random(len(a)) < 0.5, a, b)  # ties: a coin flip
    feas_a, feas_b = CV[a] <= 0, CV[b] <= 0
    infeasible = ~feas_a & ~feas_b
    winner = np.where(infeasible & (CV[a] < CV[b]), a, winner)
    winner = np.where(infeasible & (CV[b] < CV[a]), b, winner)
    winner = np.where(feas_a & ~feas_b, a, winner)
    winner = np.where(~feas_a & feas_b, b, winner)
    both = feas_a & feas_b
    Fa, Fb = F[a], F[b]
    a_dom = (Fa <= Fb).all(axis=1) & (Fa < Fb).any(axis=1)
    b_dom = (Fb <= Fa).all(axis=1) & (Fb < Fa).any(axis=1)
    winner = np.where(both & a_dom, a, winner)
    winner = np.where(both & b_dom, b, winner)
    tie = both & ~a_dom & ~b_dom
    winner = np.where(tie & (crowding[a] > crowding[b]), a, winner)
    winner = np.where(tie & (crowding[b] > crowding[a]), b, winner)
    return winner.reshape(n_select, n_parents)


def _names(operator: Any) -> str:
    return str(getattr(operator, "name", None) or type(operator).__name__)


class ParentArrays(NamedTuple):
    """A population read as arrays for one generation's mating.

    Attributes:
        X: `(pop_size, n_var)` vectors.
        F: `(pop_size, n_obj)` objectives (minimised).
        CV: `(pop_size,)` constraint violations.
        crowding: `(pop_size,)` crowding distances (0 before the first survival).
        keys: `(pop_size,)` vector keys (provenance).
        model: the generative model the operators share, or ``None`` (no codes kept).
        Z: `(pop_size, latent_dim)` codes, all known (``None`` without a model).
        unknown: `(pop_size,)` bools, the rows encoded this generation (``None`` without a model).
    """

    X: NDArray[np.float64]
    F: NDArray[np.float64]
    CV: NDArray[np.float64]
    crowding: NDArray[np.float64]
    keys: NDArray[np.object_]
    model: Any
    Z: NDArray[np.float64] | None
    unknown: NDArray[np.bool_] | None


class BatchMating(Mating):
    """NSGA-II mating on arrays, with formula repair and hash deduplication (see module docs).

    Args:
        selection: kept for pymoo's interface (the binary tournament above is used).
        crossover / mutation: pymoo operators; their array-level entries
            (:mod:`operators.variation`), ``prob``, ``n_parents`` and ``n_offsprings``
            are used.
        max_factor: never ask for more than ``max_factor`` times the missing children.
        codes: how a kept child's latent code is set (see the module docstring):
            ``"mean"`` (default), ``"refined"``, ``"decoded"``, ``"verified"``, or
            ``"none"`` (no codes kept: every selected parent re-encoded each generation).
        **kwargs: ``repair`` (a :class:`~evodesign.search.SpaceRepair`),
            ``eliminate_duplicates``, ``n_max_iterations``.
    """

    def __init__(
        self,
        selection: Any,
        crossover: Any,
        mutation: Any,
        max_factor: float = 4.0,
        codes: str = "mean",
        **kwargs: Any,
    ) -> None:
        super().__init__(selection, crossover, mutation, **kwargs)
        if codes not in CODE_POLICIES:
            raise ValueError(f"unknown codes policy {codes!r}; choose one of {CODE_POLICIES}")
        self.codes = codes
        self.max_factor = float(max_factor)
        self.kept_share = 1.0

    def _select(self, *args: Any) -> NDArray[np.int64]:
        """Parents of each mating (see :func:`binary_tournament`)."""
        return binary_tournament(*args)

    def _repair(self, problem: Any, Y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Snap children to their formulas (the repair's array form)."""
        return self.repair.do(problem, Y)

    @staticmethod
    def _new_rows(Y: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.int64]:
        """Indices of the rows of ``Y`` that repeat neither an earlier row nor ``others``."""
        return np.flatnonzero(~duplicate_mask(Y, others))

    def _children(
        self,
        problem: Any,
        X: NDArray[np.float64],
        Z: NDArray[np.float64] | None,
        keys: NDArray[np.object_],
        parents: NDArray[np.int64],
        random_state: np.random.Generator,
        crossover: Any = None,
        mutation: Any = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.object_], NDArray[np.object_]]:
        """Children of the `(n_matings, n_parents)` index array, with codes and provenance.

        Args:
            problem: the pymoo problem.
            X: `(pop_size, n_var)` population.
            Z: `(pop_size, latent_dim)` population codes, all known (``None``: no codes).
            keys: `(pop_size,)` vector keys.
            parents: the matings.
            random_state: the algorithm's generator.
            crossover / mutation: other operators than the mating's own (the operator
                portfolio's SBX/PM arm); ``None``: the mating's.

        Returns:
            ``(Y, Zc, operator, parents)``: `(n, n_var)` children offspring-major, their
            `(n, latent_dim)` codes (or ``None``) and `(n,)` provenance strings.
        """
        cx = self.crossover if crossover is None else crossover
        mut = self.mutation if mutation is None else mutation
        n_matings = len(parents)
        Xp = np.swapaxes(X[parents], 0, 1)  # (n_parents, n_matings, n_var)
        cross = random_state.random(n_matings) < variable_value(cx.prob, size=n_matings)
        # without crossover a mating's children are copies of its parents (pymoo's rule
        # for n_offsprings == n_parents), with their codes
        copies = np.arange(cx.n_offsprings) % cx.n_parents
        out = np.empty((cx.n_offsprings, n_matings, X.shape[1]))
        out[:] = Xp[copies]
        Zout = None
        if Z is not None:
            Zp = np.swapaxes(Z[parents], 0, 1)
            Zout = np.array(Zp[copies])
        if cross.any():
            Zx = None if Z is None else Zp[:, cross]
            # with codes, a crossover child is decoded only if the mutation passes it by:
            # the mutation steps on from its code (same random numbers either way)
            out[:, cross], Zc = crossover_arrays(
                cx, problem, Xp[:, cross], random_state, Z=Zx, decode=Z is None
            )
            if Zout is not None:
                Zout[:, cross] = Zc
        Y = out.reshape(-1, X.shape[1])  # offspring-major, as pymoo lays children out
        Zc = None if Zout is None else Zout.reshape(len(Y), -1)
        hit_mask = random_state.random(len(Y)) <= variable_value(mut.prob, size=len(Y))
        latent_only = np.isnan(Y).all(axis=1)  # crossover children not decoded yet
        if Zc is not None and (latent_only & ~hit_mask).any():
            rows = np.flatnonzero(latent_only & ~hit_mask)
            Y[rows] = shared_model(cx, mut).decode(Zc[rows])
        # a child decoded only after its mutation has no crossover-only vector: it is
        # never a "clone" and always counts as mutated ("crossover+mutation", both parents)
        operator, parent_str = crossover_provenance(Y, Xp, keys[parents], _names(cx))
        hit = np.flatnonzero(hit_mask)
        if len(hit):
            before = Y[hit].copy()
            Zh = None if Zc is None else Zc[hit]
            Y[hit], Zm = mutation_arrays(mut, problem, before, random_state, Z=Zh)
            if Zc is not None:
                Zc[hit] = Zm
            operator[hit], parent_str[hit] = mutation_provenance(
                operator[hit], parent_str[hit], before, Y[hit], _names(mut)
            )
        return Y, Zc, operator, parent_str

    @staticmethod
    def _population_codes(pop: Any, latent_dim: int) -> NDArray[np.float64]:
        """`(len(pop), latent_dim)` codes of the population, NaN rows where unknown."""
        Z = np.full((len(pop), latent_dim), np.nan)
        for i, z in enumerate(pop.get(CODES, to_numpy=False)):
            if z is not None:
                Z[i] = z
        return Z

    def do(
        self,
        problem: Any,
        pop: Any,
        n_offsprings: int,
        random_state: Any = None,
        n_max_iterations: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """``n_offsprings`` new individuals (fewer only if ``n_max_iterations`` rounds run out)."""
        n_max_iterations = self.n_max_iterations if n_max_iterations is None else n_max_iterations
        parents_of = self._read_population(pop)
        X, F, CV, crowding, keys = parents_of.X, parents_of.F, parents_of.CV, parents_of.crowding, parents_of.keys
        model, Z = parents_of.model, parents_of.Z
        cx = self.crossover
        kept_X = np.empty((0, X.shape[1]))
        kept_Z: list[NDArray] = []
        kept_op: list[NDArray] = []
        kept_par: list[NDArray] = []
        for _ in range(n_max_iterations):
            missing = n_offsprings - len(kept_X)
            if missing <= 0:
                break
            factor = min(1.0 / max(self.kept_share, 1e-9), self.max_factor)
            n_ask = max(missing, math.ceil(missing * factor))
            n_matings = math.ceil(n_ask / cx.n_offsprings)
            parents = self._select(CV, F, crowding, n_matings, cx.n_parents, random_state)
            Y, Zc, operator, parent_str = self._children(problem, X, Z, keys, parents, random_state)
            repaired = self._repair(problem, Y)
            if Zc is not None and self.codes == "verified":
                Zc[~model.matches(Y, repaired)] = np.nan
            Y = repaired
            new = self._new_rows(Y, np.concatenate([X, kept_X]))
            self.kept_share = max(len(new) / len(Y), 1.0 / self.max_factor) if len(Y) else self.kept_share
            new = new[:missing]
            kept_X = np.concatenate([kept_X, Y[new]])
            if Zc is not None:
                kept_Z.append(self._kept_codes(model, Y[new], Zc[new]))
            kept_op.append(operator[new])
            kept_par.append(parent_str[new])
        return self._offspring(pop, parents_of, kept_X, kept_Z, kept_op, kept_par)

    def _read_population(self, pop: Any) -> ParentArrays:
        """The population as arrays, every parent's latent code known (see :class:`ParentArrays`).

        Parents without a code (the initial population) are encoded here, all in one call.
        """
        X = np.asarray(pop.get("X"), dtype=np.float64)
        F = np.asarray(pop.get("F"), dtype=np.float64)
        CV = np.asarray(pop.get("CV"), dtype=np.float64).reshape(len(pop), -1)[:, 0]
        crowding = pop.get("crowding")
        crowding = np.zeros(len(pop)) if crowding is None or crowding.dtype == object else np.asarray(crowding, dtype=np.float64)
        keys = vector_keys(X)
        model = shared_model(self.crossover, self.mutation) if self.codes != "none" else None
        Z = None if model is None else self._population_codes(pop, model.latent_dim)
        unknown = None if Z is None else np.isnan(Z).any(axis=1)
        if unknown is not None and unknown.any():
            # every parent without a code (the initial population) in one call: the
            # refinement's per-step cost does not depend on the rows, so a few each
            # generation would cost about as much as all of them once
            Z[unknown] = model.encode(X[unknown])
        return ParentArrays(X, F, CV, crowding, keys, model, Z, unknown)

    def _kept_codes(self, model: Any, Y: NDArray[np.float64], Zc: NDArray[np.float64]) -> NDArray[np.float64]:
        """`(n, latent_dim)` codes of `(n, n_var)` kept children ``Y`` decoded from ``Zc``
        (NaN rows: not decoded from a code), by the ``codes`` policy."""
        if self.codes == "refined" and len(Y):
            # the repair moved most children off the point they were decoded from:
            # refine from there to a code of the child itself (once, kept children only)
            return model.encode(Y, init=Zc)
        if self.codes == "mean" and len(Y):
            return model.encode(Y, refine=False)
        return Zc

    @staticmethod
    def _offspring(
        pop: Any,
        parents_of: ParentArrays,
        kept_X: NDArray[np.float64],
        kept_Z: list[NDArray[np.float64]],
        kept_op: list[NDArray[np.object_]],
        kept_par: list[NDArray[np.object_]],
    ) -> Any:
        """The offspring ``Population`` with provenance and codes; the parents encoded this
        generation keep their codes."""
        off = Population.new("X", kept_X)
        if len(off):
            off.set("operator", np.concatenate(kept_op), "parents", np.concatenate(kept_par))
        Z, unknown = parents_of.Z, parents_of.unknown
        if Z is not None:
            encoded = unknown & ~np.isnan(Z).any(axis=1)  # parents encoded this generation
            if encoded.any():
                pop[encoded].set(CODES, Z[encoded])
            if len(off):
                off.set(CODES, np.concatenate(kept_Z))
        return off
