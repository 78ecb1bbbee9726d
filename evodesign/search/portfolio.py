"""An adaptive operator portfolio: a bandit shares each generation's offspring among operators.

``[search] operators = "adaptive"``. Four arms make children, each from the same population
and the same generative model:

* ``"latent"`` -- latent crossover of two parents (the learned crossover, every mating
  crossed, no mutation);
* ``"gan"`` -- GAN mutation of one parent (the learned mutation, every child mutated);
* ``"sbx_pm"`` -- SBX then polynomial mutation on the space's vectors (the classical
  operators, with their probabilities);
* ``"sample"`` -- fresh samples of the generator (its latent GAN, or the VAE prior).

Each generation the offspring is split among the arms by the bandit's probabilities (a
multinomial draw from the algorithm's ``random_state``), and each arm's children go through
the same repair, hash deduplication, latent-code policy and provenance as
:class:`~evodesign.search.mating.BatchMating`'s. An arm that makes nothing new two rounds
in a row (all its children repeat known designs) hands the rest of its quota to the most
probable arm that still does. An arm's credit is the share of the children it was asked for
in the last generation that survived into the population's first front (the feasible
non-dominated designs after the survival; the least violating ones while none is feasible):
an arm whose children are all duplicates earns 0.

The bandit (:class:`OperatorPortfolio`) is **probability matching** (Goldberg, "Probability
matching, the magnitude of reinforcement, and classifier system bidding", Machine Learning
5, 1990; as adaptive operator selection: Thierens, "An adaptive pursuit strategy for
allocating operator probabilities", GECCO 2005): each arm's quality ``q`` is an exponential
recency-weighted average of its credits, so the shares follow the arms as the search moves
on, and an arm gets ``p = p_min + (1 - K p_min) q / sum(q)``, never less than ``p_min``. The
averaging uses the unbiased constant step size (Sutton & Barto, *Reinforcement Learning*,
2nd ed., 2018, Exercise 2.7): the step of an arm's ``n``-th credit is ``alpha / o_n`` with
``o_n = o_{n-1} + alpha (1 - o_{n-1})``, so the first credit replaces the prior value
outright and later ones weigh ``alpha`` -- no bias towards the starting value.

Everything the bandit and the mating carry between generations (qualities, step traces,
each arm's kept share, the keys and arms of the last offspring) is plain JSON
(:meth:`PortfolioMating.portfolio_state`), saved in checkpoints by
:mod:`evodesign.search.state`, so a resumed run is bit-identical.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from evodesign.search.mating import BatchMating, ParentArrays, _names
from operators.provenance import CLONE, crossover_provenance, mutation_provenance, vector_keys
from operators.seeding import torch_generator
from operators.variation import crossover_arrays, mutation_arrays

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["ARMS", "OperatorPortfolio", "PortfolioMating", "first_front", "share_columns"]

#: the arms, in the order of every per-arm array
ARMS = ("latent", "gan", "sbx_pm", "sample")
#: least probability of an arm (with four arms: 5 % each, 80 % shared by quality)
P_MIN = 0.05
#: weight of the newest credit in an arm's quality (about the last 1 / alpha generations count)
ALPHA = 0.3
#: an arm that makes nothing new this many rounds in a row hands its quota to another arm
DRY_ROUNDS = 2


def share_columns() -> list[str]:
    """The ``history.csv`` columns of the arms' offspring shares, in :data:`ARMS` order."""
    return [f"share_{arm}" for arm in ARMS]


class OperatorPortfolio:
    """Probability matching over ``n_arms`` arms with recency-weighted credits (module docs).

    Args:
        n_arms: number of arms.
        p_min: least probability of an arm; ``n_arms * p_min`` must be below 1.
        alpha: in (0, 1]: weight of the newest credit in an arm's quality.

    Attributes:
        quality: `(n_arms,)` recency-weighted mean credit of each arm (1.0 before any).
        trace: `(n_arms,)` the step-size trace ``o_n`` (0 before any credit).

    Example:
        >>> bandit = OperatorPortfolio(2, p_min=0.1)
        >>> bandit.update(np.array([10, 10]), np.array([5, 0]))
        >>> bandit.probabilities().round(3).tolist()
        [0.9, 0.1]
    """

    def __init__(self, n_arms: int, p_min: float = P_MIN, alpha: float = ALPHA) -> None:
        if n_arms < 1:
            raise ValueError(f"a portfolio needs at least one arm, got {n_arms}")
        if not 0.0 <= p_min * n_arms < 1.0:
            raise ValueError(f"p_min = {p_min} leaves nothing to share among {n_arms} arms (n_arms * p_min < 1)")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.n_arms = int(n_arms)
        self.p_min = float(p_min)
        self.alpha = float(alpha)
        self.quality = np.ones(self.n_arms)
        self.trace = np.zeros(self.n_arms)

    def probabilities(self) -> NDArray[np.float64]:
        """`(n_arms,)` probabilities, summing to 1, each at least ``p_min``."""
        total = self.quality.sum()
        if not total > 0:  # no arm has earned anything (yet): all alike
            return np.full(self.n_arms, 1.0 / self.n_arms)
        return self.p_min + (1.0 - self.n_arms * self.p_min) * self.quality / total

    def update(self, produced: NDArray[np.int64], survived: NDArray[np.int64]) -> None:
        """Credit each arm with the share of its children that survived.

        Args:
            produced: `(n_arms,)` children each arm had in the last offspring.
            survived: `(n_arms,)` how many of them reached the first front; an arm that had
                no children keeps its quality.
        """
        produced = np.asarray(produced, dtype=np.float64)
        survived = np.asarray(survived, dtype=np.float64)
        if produced.shape != (self.n_arms,) or survived.shape != (self.n_arms,):
            raise ValueError(f"expected ({self.n_arms},) counts, got {produced.shape} and {survived.shape}")
        if (survived > produced).any() or (survived < 0).any():
            raise ValueError(f"survivors {survived.tolist()} must be between 0 and the children {produced.tolist()}")
        seen = produced > 0
        credit = np.divide(survived, produced, out=np.zeros(self.n_arms), where=seen)
        self.trace[seen] += self.alpha * (1.0 - self.trace[seen])
        step = self.alpha / self.trace[seen]
        self.quality[seen] += step * (credit[seen] - self.quality[seen])

    def allocate(self, n: int, random_state: np.random.Generator) -> NDArray[np.int64]:
        """`(n_arms,)` children per arm, summing to ``n``: a multinomial draw of the
        probabilities (every arm has a chance even when ``n * p_min < 1``)."""
        p = self.probabilities()
        return random_state.multinomial(n, p / p.sum()).astype(np.int64)

    def state(self) -> dict[str, Any]:
        """The bandit's state as JSON-able lists."""
        return {"quality": self.quality.tolist(), "trace": self.trace.tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Put back a :meth:`state` (lengths checked)."""
        quality = np.asarray(state["quality"], dtype=np.float64)
        trace = np.asarray(state["trace"], dtype=np.float64)
        if quality.shape != (self.n_arms,) or trace.shape != (self.n_arms,):
            raise ValueError(f"the saved portfolio has {quality.shape} qualities; this one has {self.n_arms} arms")
        self.quality, self.trace = quality, trace


def first_front(F: NDArray[np.float64], CV: NDArray[np.float64]) -> NDArray[np.int64]:
    """Indices of the population's first front: the feasible non-dominated designs, or while
    none is feasible the least violating ones.

    Args:
        F: `(n, n_obj)` objectives (minimised).
        CV: `(n,)` constraint violations.
    """
    feasible = np.flatnonzero(CV <= 0)
    if len(feasible) == 0:
        return np.flatnonzero(CV == CV.min()) if len(CV) else feasible
    front = NonDominatedSorting().do(F[feasible], only_non_dominated_front=True)
    return feasible[np.sort(np.asarray(front, dtype=np.int64))]


class PortfolioMating(BatchMating):
    """:class:`~evodesign.search.mating.BatchMating` whose children come from four arms shared
    out by an :class:`OperatorPortfolio` (see the module docstring).

    Args:
        selection: kept for pymoo's interface.
        crossover / mutation: the learned operators (latent crossover and GAN mutation,
            sharing one generative model, which the ``"sample"`` arm samples from).
        classical_crossover / classical_mutation: SBX and polynomial mutation (the
            ``"sbx_pm"`` arm, with their ``prob``).
        p_min / alpha: the bandit's (:class:`OperatorPortfolio`).
        **kwargs: :class:`~evodesign.search.mating.BatchMating`'s (``codes``,
            ``max_factor``, ``repair``, ``eliminate_duplicates``, ``n_max_iterations``).

    Attributes:
        portfolio: the bandit.
        last_shares: `(n_arms,)` each arm's share of the last offspring (``None`` before
            the first mating).
    """

    def __init__(
        self,
        selection: Any,
        crossover: Any,
        mutation: Any,
        classical_crossover: Any,
        classical_mutation: Any,
        p_min: float = P_MIN,
        alpha: float = ALPHA,
        **kwargs: Any,
    ) -> None:
        super().__init__(selection, crossover, mutation, **kwargs)
        model = getattr(crossover, "model", None)
        if model is None or not hasattr(crossover, "cross") or not hasattr(mutation, "mutate"):
            raise ValueError("an adaptive portfolio needs the learned crossover and mutation (with a generative model)")
        self.classical_crossover = classical_crossover
        self.classical_mutation = classical_mutation
        self.portfolio = OperatorPortfolio(len(ARMS), p_min=p_min, alpha=alpha)
        self.arm_kept_share = np.ones(len(ARMS))
        self.last_shares: NDArray[np.float64] | None = None
        self._pending_keys: list[str] = []
        self._pending_arms: list[int] = []
        self._pending_asked: list[int] = [0] * len(ARMS)

    # ------------------------------------------------------------------ state
    def offspring_shares(self) -> dict[str, float]:
        """``share_<arm>`` of the last offspring (NaN before the first mating)."""
        shares = np.full(len(ARMS), np.nan) if self.last_shares is None else self.last_shares
        return dict(zip(share_columns(), (float(s) for s in shares)))

    def portfolio_state(self) -> dict[str, Any]:
        """Everything carried between generations, JSON-able (for checkpoints)."""
        return {
            "arms": list(ARMS),
            "bandit": self.portfolio.state(),
            "kept_share": self.arm_kept_share.tolist(),
            "last_shares": None if self.last_shares is None else self.last_shares.tolist(),
            "pending_keys": list(self._pending_keys),
            "pending_arms": list(self._pending_arms),
            "pending_asked": list(self._pending_asked),
        }

    def load_portfolio_state(self, state: dict[str, Any]) -> None:
        """Put back a :meth:`portfolio_state`.

        Raises:
            ValueError: naming what does not fit (other arms, lengths).
        """
        if list(state.get("arms", [])) != list(ARMS):
            raise ValueError(f"the saved portfolio has arms {state.get('arms')}; this one has {list(ARMS)}")
        self.portfolio.load_state(state["bandit"])
        kept = np.asarray(state["kept_share"], dtype=np.float64)
        if kept.shape != (len(ARMS),):
            raise ValueError(f"the saved portfolio has {kept.shape} kept shares, not ({len(ARMS)},)")
        keys, arms = list(state["pending_keys"]), [int(a) for a in state["pending_arms"]]
        asked = [int(a) for a in state["pending_asked"]]
        if len(keys) != len(arms) or any(not 0 <= a < len(ARMS) for a in arms) or len(asked) != len(ARMS):
            raise ValueError("the saved portfolio's last offspring is malformed (keys, arms and quotas differ)")
        self.arm_kept_share = kept
        last = state.get("last_shares")
        self.last_shares = None if last is None else np.asarray(last, dtype=np.float64)
        self._pending_keys, self._pending_arms, self._pending_asked = keys, arms, asked

    # ------------------------------------------------------------------ credit
    def _credit(self, parents_of: ParentArrays) -> None:
        """Credit the arms with their children of the last offspring that are on the first front.

        An arm's share is counted over the children it was asked for (or made, if it made
        more for an arm that ran dry): an arm whose children all repeat known designs earns
        0, not nothing.
        """
        asked = np.asarray(self._pending_asked, dtype=np.int64)
        if not self._pending_keys and not asked.any():
            return
        arms = np.asarray(self._pending_arms, dtype=np.int64)
        front_keys = set(parents_of.keys[first_front(parents_of.F, parents_of.CV)].tolist())
        on_front = np.array([k in front_keys for k in self._pending_keys], dtype=bool)
        produced = np.maximum(np.bincount(arms, minlength=len(ARMS)), asked)
        survived = np.bincount(arms[on_front], minlength=len(ARMS))
        self.portfolio.update(produced, survived)
        self._pending_keys, self._pending_arms, self._pending_asked = [], [], [0] * len(ARMS)

    # ------------------------------------------------------------------ the arms
    def _arm_children(
        self, arm: int, problem: Any, parents_of: ParentArrays, n: int, random_state: np.random.Generator
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.object_], NDArray[np.object_]]:
        """At least ``n`` children of one arm: ``(Y, Zc, operator, parents)`` as
        :meth:`~evodesign.search.mating.BatchMating._children` returns them (``Zc``: the
        `(m, latent_dim)` points they were decoded from, NaN rows for vector operators)."""
        X, Z, keys = parents_of.X, parents_of.Z, parents_of.keys
        name = ARMS[arm]
        if name in ("latent", "sbx_pm"):
            parents = self._select(parents_of.CV, parents_of.F, parents_of.crowding, math.ceil(n / 2), 2, random_state)
            if name == "sbx_pm":
                Y, _, operator, parent_str = self._children(
                    problem, X, None, keys, parents, random_state,
                    crossover=self.classical_crossover, mutation=self.classical_mutation,
                )
                return Y, None, operator, parent_str
            Xp = np.swapaxes(X[parents], 0, 1)  # (2, n_matings, n_var)
            Zp = None if Z is None else np.swapaxes(Z[parents], 0, 1)
            Y, Zc = crossover_arrays(self.crossover, problem, Xp, random_state, Z=Zp, decode=True)
            Y = Y.reshape(-1, X.shape[1])  # offspring-major, as crossover_provenance reads it
            operator, parent_str = crossover_provenance(Y, Xp, keys[parents], _names(self.crossover))
            return Y, None if Zc is None else Zc.reshape(len(Y), -1), operator, parent_str
        if name == "gan":
            chosen = self._select(parents_of.CV, parents_of.F, parents_of.crowding, n, 1, random_state)[:, 0]
            before = X[chosen]
            Y, Zm = mutation_arrays(self.mutation, problem, before, random_state, Z=None if Z is None else Z[chosen])
            # an unchanged row stays a clone of its parent (and is dropped as a duplicate)
            operator, parent_str = mutation_provenance(
                np.full(n, CLONE, dtype=object), keys[chosen].copy(), before, Y, _names(self.mutation)
            )
            return Y, Zm, operator, parent_str
        model = self.crossover.model
        source = "gan" if "gan" in model.sources else "vae"
        Zs = model.sample_latent(n, source, torch_generator(random_state))
        operator = np.full(n, f"GeneratorSampling({source})", dtype=object)
        return model.decode(Zs), Zs, operator, np.full(n, "", dtype=object)

    # ------------------------------------------------------------------ one generation
    def do(
        self,
        problem: Any,
        pop: Any,
        n_offsprings: int,
        random_state: Any = None,
        n_max_iterations: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """``n_offsprings`` new individuals shared out among the arms (fewer only if every
        arm that still misses children runs dry, ``DRY_ROUNDS`` rounds in a row without a
        new child, or ``n_max_iterations`` rounds run out)."""
        n_max_iterations = self.n_max_iterations if n_max_iterations is None else n_max_iterations
        parents_of = self._read_population(pop)
        self._credit(parents_of)
        X, model, Z = parents_of.X, parents_of.model, parents_of.Z
        quota = asked = self.portfolio.allocate(n_offsprings, random_state)
        n_kept = np.zeros(len(ARMS), dtype=np.int64)
        dry = np.zeros(len(ARMS), dtype=np.int64)  # rounds in a row an arm made nothing new
        kept_X = np.empty((0, X.shape[1]))
        kept_Z: list[NDArray] = []
        kept_op: list[NDArray] = []
        kept_par: list[NDArray] = []
        kept_arm: list[NDArray] = []
        for _ in range(n_max_iterations):
            missing = quota - n_kept
            if (missing <= 0).all() or (dry[missing > 0] >= DRY_ROUNDS).all():
                break
            parts = []
            for arm in np.flatnonzero(missing > 0):
                factor = min(1.0 / max(self.arm_kept_share[arm], 1e-9), self.max_factor)
                n_ask = max(int(missing[arm]), math.ceil(missing[arm] * factor))
                parts.append((arm, *self._arm_children(arm, problem, parents_of, n_ask, random_state)))
            Y = np.concatenate([p[1] for p in parts])
            arm_of = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])
            Zc = None
            if Z is not None:
                Zc = np.concatenate([np.full((len(p[1]), Z.shape[1]), np.nan) if p[2] is None else p[2] for p in parts])
            operator = np.concatenate([p[3] for p in parts])
            parent_str = np.concatenate([p[4] for p in parts])
            repaired = self._repair(problem, Y)
            if Zc is not None and self.codes == "verified":
                Zc[~model.matches(Y, repaired)] = np.nan
            Y = repaired
            new = self._new_rows(Y, np.concatenate([X, kept_X]))
            keep = []
            for arm, *_ in parts:
                rows = new[arm_of[new] == arm]
                n_made = int((arm_of == arm).sum())
                self.arm_kept_share[arm] = max(len(rows) / n_made, 1.0 / self.max_factor)
                dry[arm] = dry[arm] + 1 if len(rows) == 0 else 0
                rows = rows[: missing[arm]]
                n_kept[arm] += len(rows)
                keep.append(rows)
            keep = np.concatenate(keep)
            kept_X = np.concatenate([kept_X, Y[keep]])
            if Zc is not None:
                kept_Z.append(self._kept_codes(model, Y[keep], Zc[keep]))
            kept_op.append(operator[keep])
            kept_par.append(parent_str[keep])
            kept_arm.append(arm_of[keep])
            quota = self._reassign(quota, n_kept, dry)
        off = self._offspring(pop, parents_of, kept_X, kept_Z, kept_op, kept_par)
        arms = np.concatenate(kept_arm) if kept_arm else np.zeros(0, dtype=np.int64)
        self.last_shares = np.bincount(arms, minlength=len(ARMS)) / max(len(arms), 1)
        self._pending_keys = [str(k) for k in vector_keys(kept_X)]
        self._pending_arms = [int(a) for a in arms]
        self._pending_asked = [int(a) for a in asked]
        return off

    def _reassign(self, quota: NDArray[np.int64], n_kept: NDArray[np.int64], dry: NDArray[np.int64]) -> NDArray[np.int64]:
        """Quotas after a round: an arm that made nothing new ``DRY_ROUNDS`` rounds in a row
        hands what it still misses to the most probable arm that is not dry (so the
        offspring stays full while any arm can still fill it)."""
        missing = quota - n_kept
        stuck = (dry >= DRY_ROUNDS) & (missing > 0)
        able = dry < DRY_ROUNDS
        if not stuck.any() or not able.any():
            return quota
        p = np.where(able, self.portfolio.probabilities(), -np.inf)
        quota = quota.copy()
        quota[int(np.argmax(p))] += int(missing[stuck].sum())
        quota[stuck] = n_kept[stuck]
        return quota
