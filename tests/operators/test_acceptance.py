"""Validity-guided variation: rejected offspring are redrawn, the rest left alone."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from pymoo.core.population import Population

from operators import (
    GANMutation,
    LatentInterpolationCrossover,
    guided_interpolation_children,
    guided_latent_step,
    interpolation_children,
    latent_step,
    mate,
    mutate,
    redraw_rejected,
)
from toy_data import N_VAR, FewComponents, FewComponentsSameSupport, ToyProblem


def test_redraw_rejected_redraws_only_rejected_rows_up_to_max_tries():
    rng = np.random.default_rng(0)
    Y = np.zeros((6, 2))
    Y[:, 0] = [1, -1, 1, -1, -1, 1]  # rows 1, 3, 4 rejected at first
    drawn = []

    def draw(rows):
        drawn.append(rows.copy())
        out = np.zeros((len(rows), 2))
        out[:, 0] = np.where(rows == 4, -1.0, rng.choice([-1.0, 1.0], size=len(rows)))
        out[:, 1] = len(drawn)  # which round made the row
        return out

    out, ok = redraw_rejected(Y, draw, lambda X: X[:, 0] > 0, max_tries=3, distinct=False)
    assert len(drawn) <= 2 and set(drawn[0]) == {1, 3, 4}
    assert all(set(r) <= {1, 3, 4} for r in drawn)
    np.testing.assert_array_equal(out[[0, 2, 5]], Y[[0, 2, 5]])
    assert not ok[4] and out[4, 1] == len(drawn)  # still rejected: keeps its last draw
    np.testing.assert_array_equal(ok, out[:, 0] > 0)
    # max_tries=1 is no redraw at all
    out1, _ = redraw_rejected(Y, draw, lambda X: X[:, 0] > 0, max_tries=1, distinct=False)
    np.testing.assert_array_equal(out1, Y)
    with pytest.raises(ValueError, match="max_tries"):
        redraw_rejected(Y, draw, lambda X: X[:, 0] > 0, max_tries=0)


def test_redraw_rejected_rejects_clones_of_parents():
    P = np.eye(3)
    Y = np.array([[1.0, 0, 0], [0.5, 0.5, 0], [0, 0, 1.0]])  # rows 0 and 2 clone parents
    draw = lambda rows: np.full((len(rows), 3), 1 / 3)  # noqa: E731
    accept_all = lambda X: np.ones(len(X), bool)  # noqa: E731
    out, ok = redraw_rejected(Y, draw, accept_all, 2, parents=(P,), distinct=False)
    assert ok.all()
    np.testing.assert_array_equal(out[1], Y[1])
    np.testing.assert_allclose(out[[0, 2]], 1 / 3)


def _support_sizes(Y: np.ndarray) -> np.ndarray:
    return (Y > 0).sum(axis=-1)


def test_guided_crossover_honours_accept_and_is_deterministic(model, data):
    train, _ = data
    X = np.stack([train[:300], train[300:600]])
    plain = LatentInterpolationCrossover(model)._do(
        ToyProblem(), X, random_state=np.random.default_rng(0)
    )
    xover = LatentInterpolationCrossover(model, accept=FewComponents(3), max_tries=6)
    guided = xover._do(ToyProblem(), X, random_state=np.random.default_rng(0))
    assert guided.shape == (2, 300, N_VAR)
    before = np.mean(_support_sizes(plain.reshape(-1, N_VAR)) <= 3)
    after = np.mean(_support_sizes(guided.reshape(-1, N_VAR)) <= 3)
    assert before < 0.95 and after > before + 0.5 * (1 - before)
    # accepted first draws are kept as they were
    first_ok = _support_sizes(plain) <= 3
    np.testing.assert_array_equal(guided[first_ok], plain[first_ok])
    again = xover._do(ToyProblem(), X, random_state=np.random.default_rng(0))
    other = xover._do(ToyProblem(), X, random_state=np.random.default_rng(1))
    np.testing.assert_array_equal(guided, again)
    assert not np.array_equal(guided, other)


def test_guided_crossover_avoids_clones_and_keeps_t0_identity(model, data):
    train, _ = data
    Xa, Xb = train[:200], train[200:400]
    accept = FewComponentsSameSupport(N_VAR)  # everything passes; only clones are redrawn
    t = np.random.default_rng(3).random(200) * 0.05  # near parent a: many clones of a
    plain = interpolation_children(model, Xa, Xb, t)
    guided = guided_interpolation_children(
        model, Xa, Xb, t, accept, np.random.default_rng(3), max_tries=5
    )

    def clones(Y):
        ids = accept.identity(Y.reshape(-1, N_VAR))
        return np.mean((ids == accept.identity(np.vstack([Xa, Xa]))) |
                       (ids == accept.identity(np.vstack([Xb, Xb]))))

    assert clones(guided) < 0.5 * clones(plain)
    # accept=None keeps the t = 0 / t = 1 identities of interpolation_children
    zero = LatentInterpolationCrossover(model, accept=None)
    assert zero.accept is None
    ends = interpolation_children(model, Xa[:2], Xb[:2], np.array([0.0, 1.0]))
    np.testing.assert_array_equal(ends[0, 0], Xa[0])
    np.testing.assert_array_equal(ends[0, 1], Xb[1])


def test_guided_mutation_honours_accept_and_strength_zero_is_identity(model, data):
    train, _ = data
    X = train[:400]
    plain = GANMutation(model, strength=0.6)._do(
        ToyProblem(), X, random_state=np.random.default_rng(5)
    )
    accept = FewComponents(3)
    mutation = GANMutation(model, strength=0.6, accept=accept, max_tries=6)
    guided = mutation._do(ToyProblem(), X, random_state=np.random.default_rng(5))
    before = np.mean(_support_sizes(plain) <= 3)
    after = np.mean(_support_sizes(guided) <= 3)
    assert before < 0.95 and after > before + 0.5 * (1 - before)
    np.testing.assert_array_equal(
        guided, mutation._do(ToyProblem(), X, random_state=np.random.default_rng(5))
    )
    assert not np.array_equal(
        guided, mutation._do(ToyProblem(), X, random_state=np.random.default_rng(6))
    )
    # one draw only: the plain mutation, bit for bit
    once = GANMutation(model, strength=0.6, accept=accept, max_tries=1)
    np.testing.assert_array_equal(
        once._do(ToyProblem(), X, random_state=np.random.default_rng(5)), plain
    )
    # strength 0: the parents themselves, and accept is never asked
    calls = accept.calls
    still = GANMutation(model, strength=0.0, accept=accept)
    pop = Population.new("X", X[:20].copy())
    off = still.do(ToyProblem(), pop, random_state=np.random.default_rng(0))
    np.testing.assert_array_equal(off.get("X"), X[:20])
    np.testing.assert_array_equal(
        guided_latent_step(model, X[:5], 0.0, torch.Generator(), accept), X[:5]
    )
    assert accept.calls == calls
    np.testing.assert_array_equal(
        latent_step(model, X[:5], 0.0, torch.Generator()), X[:5]
    )


def test_guided_operators_pickle_with_their_accept_object(model, data):
    train, _ = data
    ops = (
        LatentInterpolationCrossover(model, accept=FewComponents(3), max_tries=3),
        GANMutation(model, accept=FewComponents(3), max_tries=3, prob=0.5),
    )
    copies = pickle.loads(pickle.dumps(ops))
    assert isinstance(copies[0].accept, FewComponents) and copies[1].max_tries == 3

    def offspring(xover, mutation):
        rng = np.random.default_rng(8)
        pop = Population.new("X", train[:40])
        off = xover.do(ToyProblem(), pop, np.arange(40).reshape(-1, 2), random_state=rng)
        return mutation.do(ToyProblem(), off, random_state=rng).get("X")

    np.testing.assert_array_equal(offspring(*copies), offspring(*ops))
    with pytest.raises(ValueError, match="max_tries"):
        GANMutation(model, accept=FewComponents(), max_tries=0)


def test_deap_functions_take_accept_too(model, data):
    train, _ = data
    accept = FewComponents(3)
    a, b = train[0].copy(), train[1].copy()
    mate(a, b, model, np.random.default_rng(0), accept=accept, max_tries=4)
    (m,) = mutate(a, model, np.random.default_rng(0), accept=accept, max_tries=4)
    assert m is a and np.isclose(a.sum(), 1.0) and np.isclose(b.sum(), 1.0)
    c, d = train[0].copy(), train[1].copy()
    mate(c, d, model, np.random.default_rng(0), accept=accept, max_tries=4)
    mutate(c, model, np.random.default_rng(0), accept=accept, max_tries=4)
    np.testing.assert_array_equal(a, c)


def test_redraw_rejected_redraws_duplicates_within_the_batch_unless_told_not_to():
    rng = np.random.default_rng(0)
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # rows 1 and 3 repeat row 0

    def draw(rows):
        return rng.random((len(rows), 2))

    accept_all = lambda X: np.ones(len(X), dtype=bool)  # noqa: E731
    out, ok = redraw_rejected(Y, draw, accept_all, max_tries=3)
    assert ok.all() and len({tuple(r) for r in out}) == 4
    np.testing.assert_array_equal(out[[0, 2]], Y[[0, 2]])  # the first of each stays
    same, ok_same = redraw_rejected(Y, draw, accept_all, max_tries=3, distinct=False)
    np.testing.assert_array_equal(same, Y)
    assert ok_same.all()
