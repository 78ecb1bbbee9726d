"""The adaptive operator portfolio: the bandit alone (exact probabilities), the first front
it credits, and PortfolioMating in NSGA-II (arms, shares, state round-trip)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymoo.core.problem import Problem
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM

from evodesign.representation import CompositionSpace
from evodesign.search.algorithm import design_nsga2
from evodesign.search.portfolio import ARMS, OperatorPortfolio, PortfolioMating, first_front
from evodesign.search.state import SearchStateError, capture_search_state, restore_search_state
from operators import GANMutation, GeneratorSampling, LatentInterpolationCrossover, fit_generative_model

ELEMENTS = ["H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "S", "Cl", "K"]
SPACE = CompositionSpace(ELEMENTS, max_atoms=12, max_elements=3)


# ---------------------------------------------------------------------- the bandit alone
def test_first_credit_replaces_the_prior_and_the_floor_holds():
    bandit = OperatorPortfolio(4, p_min=0.05, alpha=0.3)
    np.testing.assert_array_equal(bandit.probabilities(), [0.25] * 4)
    bandit.update(np.array([10, 10, 10, 10]), np.array([0, 0, 10, 0]))
    # q = (0, 0, 1, 0): the better arm gets everything above the floor
    np.testing.assert_allclose(bandit.probabilities(), [0.05, 0.05, 0.85, 0.05], atol=1e-15)


def test_shares_move_toward_the_arm_made_better():
    alpha = 0.3
    bandit = OperatorPortfolio(4, p_min=0.05, alpha=alpha)
    produced = np.array([20, 20, 20, 20])
    bandit.update(produced, np.array([10, 5, 5, 5]))  # arm 0 ahead at first
    p_before = bandit.probabilities()
    assert p_before.argmax() == 0
    history = []
    for _ in range(12):  # then arm 3 is made better: 16 of 20 reach the front, the rest 2
        bandit.update(produced, np.array([2, 2, 2, 16]))
        history.append(bandit.probabilities()[3])
    assert all(b > a for a, b in zip(history, history[1:]))  # p of arm 3 rises every generation
    # the recency-weighted quality is exact: trace o_n = 1 - (1 - alpha)^n, step alpha / o_n
    q0, q1, q3, trace = 0.5, 0.25, 0.25, alpha
    for _ in range(12):
        trace += alpha * (1 - trace)
        q0 += alpha / trace * (0.1 - q0)
        q1 += alpha / trace * (0.1 - q1)
        q3 += alpha / trace * (0.8 - q3)
    np.testing.assert_allclose(bandit.quality, [q0, q1, q1, q3], rtol=1e-12)
    p = bandit.probabilities()
    np.testing.assert_allclose(p.sum(), 1.0)
    np.testing.assert_allclose(p[3], 0.05 + 0.8 * q3 / (q3 + 2 * q1 + q0), rtol=1e-12)
    assert p[3] > 0.55 and p.min() >= 0.05


def test_an_arm_without_children_keeps_its_quality():
    bandit = OperatorPortfolio(3, p_min=0.1)
    bandit.update(np.array([4, 4, 4]), np.array([1, 2, 4]))
    before = bandit.quality.copy()
    bandit.update(np.array([0, 4, 0]), np.array([0, 0, 0]))
    assert bandit.quality[0] == before[0] and bandit.quality[2] == before[2]
    assert bandit.quality[1] < before[1]


def test_nothing_earned_means_uniform_and_bad_input_is_refused():
    bandit = OperatorPortfolio(4)
    bandit.update(np.array([5, 5, 5, 5]), np.zeros(4, dtype=int))
    np.testing.assert_array_equal(bandit.probabilities(), [0.25] * 4)
    with pytest.raises(ValueError, match="between 0 and the children"):
        bandit.update(np.array([1, 1, 1, 1]), np.array([2, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"expected \(4,\) counts"):
        bandit.update(np.array([1, 1]), np.array([0, 0]))
    with pytest.raises(ValueError, match="n_arms \\* p_min < 1"):
        OperatorPortfolio(4, p_min=0.25)
    with pytest.raises(ValueError, match="alpha"):
        OperatorPortfolio(4, alpha=0.0)


def test_allocation_sums_to_n_and_follows_the_seed():
    bandit = OperatorPortfolio(4)
    bandit.update(np.array([10, 10, 10, 10]), np.array([0, 0, 10, 0]))
    a = bandit.allocate(200, np.random.default_rng(5))
    assert a.sum() == 200 and a.dtype == np.int64
    np.testing.assert_array_equal(a, bandit.allocate(200, np.random.default_rng(5)))
    assert a[2] > 140  # p = 0.85
    many = np.stack([bandit.allocate(200, np.random.default_rng(s)) for s in range(50)])
    np.testing.assert_allclose(many.mean(axis=0) / 200, bandit.probabilities(), atol=0.01)


def test_state_round_trip_and_mismatch():
    bandit = OperatorPortfolio(4)
    bandit.update(np.array([3, 4, 5, 6]), np.array([1, 2, 3, 0]))
    other = OperatorPortfolio(4)
    other.load_state(bandit.state())
    np.testing.assert_array_equal(other.probabilities(), bandit.probabilities())
    with pytest.raises(ValueError, match="4 arms"):
        other.load_state({"quality": [1.0], "trace": [0.0]})


def test_first_front_is_the_feasible_non_dominated_set():
    F = np.array([[1.0, 1.0], [0.0, 2.0], [2.0, 0.0], [0.5, 0.5], [3.0, 3.0]])
    CV = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    # row 3 dominates rows 0 and 4 but is infeasible
    np.testing.assert_array_equal(first_front(F, CV), [0, 1, 2])
    np.testing.assert_array_equal(first_front(F, np.array([2.0, 1.0, 3.0, 1.0, 5.0])), [1, 3])


# ---------------------------------------------------------------------- in NSGA-II
class Cheap(Problem):
    def __init__(self) -> None:
        super().__init__(n_var=len(ELEMENTS), n_obj=2, xl=0.0, xu=1.0)

    def _evaluate(self, X, out, *args, **kwargs):
        out["F"] = np.column_stack([X[:, :5].sum(axis=1), (X > 0).sum(axis=1) - X[:, 7:].sum(axis=1)])


@pytest.fixture(scope="module")
def model():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    X = SPACE.random_vectors(600, np.random.default_rng(0), min_elements=2)
    model, _ = fit_generative_model(
        X, vae_options=dict(hidden=(32, 32), latent_dim=4, max_epochs=6, warmup_epochs=2, sharpen_epochs=2),
        gan_options=dict(hidden=(16, 16), n_steps=30, eval_every=10, patience=2),
        random_state=0, progress=False,
    )
    yield model
    torch.set_num_threads(before)


def _algorithm(model, pop_size=40, seed=2):
    X0 = SPACE.random_vectors(pop_size, np.random.default_rng(1), min_elements=2)
    cx, mut = LatentInterpolationCrossover(model), GANMutation(model, prob=0.5)
    algorithm = design_nsga2(SPACE, pop_size, GeneratorSampling(model, source="data", data=X0), cx, mut)
    m = algorithm.mating
    algorithm.mating = PortfolioMating(
        m.selection, cx, mut, SBX(prob=0.9, eta=15), PM(prob=0.5, eta=20),
        codes=m.codes, repair=m.repair, eliminate_duplicates=m.eliminate_duplicates,
        n_max_iterations=m.n_max_iterations,
    )
    algorithm.setup(Cheap(), termination=("n_gen", 50), seed=seed)
    return algorithm


ARM_OPERATORS = {
    "latent": ("LatentInterpolationCrossover",),
    "gan": ("GANMutation",),
    "sbx_pm": ("SBX", "SBX+PM", "PM"),
    "sample": ("GeneratorSampling(gan)",),
}


def test_every_arm_makes_children_and_the_shares_are_the_offspring(model):
    algorithm = _algorithm(model)
    algorithm.next()
    assert algorithm.mating.last_shares is None
    assert all(np.isnan(v) for v in algorithm.mating.offspring_shares().values())
    for _ in range(4):
        algorithm.next()
        off = algorithm.off
        shares = algorithm.mating.last_shares
        np.testing.assert_allclose(shares.sum(), 1.0)
        assert len(off) == 40
        ops = off.get("operator")
        counts = {arm: sum(o in ARM_OPERATORS[arm] for o in ops) for arm in ARMS}
        assert sum(counts.values()) == len(off)  # every child is an arm's, none a clone
        np.testing.assert_allclose([counts[a] / len(off) for a in ARMS], shares)
        # every child has a latent code (the "mean" policy encodes vector arms' children too)
        Z = np.stack(off.get("Z", to_numpy=False))
        assert Z.shape == (40, model.latent_dim) and np.isfinite(Z).all()
    assert not np.array_equal(algorithm.mating.portfolio.quality, np.ones(4))  # credited


def test_each_arm_makes_its_own_kind_of_children(model):
    algorithm = _algorithm(model)
    algorithm.next()
    mating = algorithm.mating
    parents_of = mating._read_population(algorithm.pop)
    keys = set(parents_of.keys)
    for arm, name in enumerate(ARMS):
        Y, Zc, operator, parents = mating._arm_children(arm, algorithm.problem, parents_of, 7, np.random.default_rng(arm))
        assert Y.shape[1] == len(ELEMENTS) and len(Y) >= 7 and len(operator) == len(parents) == len(Y)
        made = operator != "clone"
        assert made.any() and set(operator[made]) <= set(ARM_OPERATORS[name]), (name, set(operator))
        named = {k for p in parents for k in p.split(",") if k}
        if name == "sample":
            assert named == set() and Zc.shape == (len(Y), model.latent_dim)
            np.testing.assert_array_equal(model.decode(Zc), Y)  # a sample is its code's decoding
        else:
            assert named and named <= keys  # parents are population members
        if name == "sbx_pm":
            assert Zc is None  # vector operators have no codes


def test_the_state_round_trip_continues_bit_identically(model):
    full = _algorithm(model)
    for _ in range(3):
        full.next()
    arrays, meta = capture_search_state(full)
    assert set(meta["portfolio"]) >= {"bandit", "pending_keys", "pending_arms", "kept_share"}
    assert len(meta["portfolio"]["pending_keys"]) == 40 and sum(meta["portfolio"]["pending_asked"]) == 40
    resumed = _algorithm(model)
    restore_search_state(resumed, arrays, meta)
    for _ in range(3):
        full.next()
        resumed.next()
        np.testing.assert_array_equal(resumed.off.get("X"), full.off.get("X"))
        np.testing.assert_array_equal(resumed.mating.last_shares, full.mating.last_shares)
    np.testing.assert_array_equal(resumed.pop.get("X"), full.pop.get("X"))
    np.testing.assert_array_equal(resumed.mating.portfolio.quality, full.mating.portfolio.quality)
    other = _algorithm(model, seed=3)
    for _ in range(4):
        other.next()
    assert not np.array_equal(other.pop.get("X"), full.pop.get("X"))


def test_a_state_without_the_portfolio_is_refused(model):
    algorithm = _algorithm(model)
    algorithm.next()
    arrays, meta = capture_search_state(algorithm)
    del meta["portfolio"]
    with pytest.raises(SearchStateError, match="no 'portfolio'"):
        restore_search_state(_algorithm(model), arrays, meta)
    arrays, meta = capture_search_state(algorithm)
    meta["portfolio"]["arms"] = ["latent", "gan"]
    with pytest.raises(SearchStateError, match="arms"):
        restore_search_state(_algorithm(model), arrays, meta)
