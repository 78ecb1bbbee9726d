"""The search side of generators that learn during a search (evodesign.search.adaptation)."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population

from evodesign.search.adaptation import ADAPT_STREAM, GeneratorAdaptation, adaptation_timings, archive_ranks


def test_ranks_put_infeasible_after_feasible_and_non_finite_last():
    F = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [5.0, 5.0], [np.nan, 0.0], [2.0, 2.0], [-9.0, -9.0]])
    CV = np.array([0.0, 0.0, 0.0, 2.0, 0.5, 0.0, 0.0, 0.5])
    # feasible fronts 0, 0, 1, 2; infeasible by violation (0.5 tied, then 2); NaN objective last
    assert archive_ranks(F, CV).tolist() == [0, 0, 1, 4, 3, 5, 2, 3]


def test_ranks_without_feasible_designs_start_at_zero():
    assert archive_ranks(np.zeros((3, 2)), np.array([3.0, 1.0, np.inf])).tolist() == [1, 0, 2]


def test_timings_sum_the_fine_tunings_and_their_share():
    history = [{"seconds": 3.0, "adapt_s": 0.0}, {"seconds": 2.0, "adapt_s": 5.0}, {"seconds": 10.0}]
    assert adaptation_timings(history) == {"adapt_s": 5.0, "adapt_share": 0.25}
    assert adaptation_timings([]) == {"adapt_s": 0.0, "adapt_share": 0.0}


def test_settings_and_their_errors():
    class Settings:
        adapt_every, adapt_weighting, adapt_k, adapt_epochs = 0, "rank", 1e-3, 2

    assert GeneratorAdaptation.from_settings(Settings, np.random.SeedSequence(0)) is None
    Settings.adapt_every = 3
    made = GeneratorAdaptation.from_settings(Settings, np.random.SeedSequence(0))
    assert (made.every, made.weighting, made.k, made.epochs) == (3, "rank", 1e-3, 2)
    with pytest.raises(ValueError, match="adapt_every"):
        GeneratorAdaptation(0)
    with pytest.raises(ValueError, match="adapt_weighting 'top'"):
        GeneratorAdaptation(2, weighting="top")


def test_weights_follow_the_weighting():
    ranks = np.array([0, 1, 1, 2])
    np.testing.assert_allclose(GeneratorAdaptation(1, "rank", k=0.25).weights(ranks), [3 / 7, 3 / 14, 3 / 14, 1 / 7])
    assert GeneratorAdaptation(1, "split").weights(ranks).tolist() == [1, 1, 0, 0]


def test_each_generation_has_its_own_seed_apart_from_other_runs():
    ss = np.random.SeedSequence(7, spawn_key=(1,))
    a = GeneratorAdaptation(2, seed=ss)
    draw = a.random_state(4).integers(2**62)
    expected = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(1, ADAPT_STREAM, 4))).integers(2**62)
    assert draw == expected
    assert draw != a.random_state(6).integers(2**62)
    assert draw != GeneratorAdaptation(2, seed=np.random.SeedSequence(7, spawn_key=(2,))).random_state(4).integers(2**62)


class _Algorithm:
    def __init__(self, pop, off, has_next=True):
        self.pop, self.off, self._next = pop, off, has_next

    def has_next(self):
        return self._next


def _pop(X, F, CV):
    pop = Population.new("X", np.asarray(X, dtype=float))
    pop.set("F", np.asarray(F, dtype=float), "CV", np.asarray(CV, dtype=float).reshape(-1, 1))
    return pop


def test_training_rows_are_the_population_then_new_offspring_once():
    pop = _pop([[0, 1], [1, 0]], [[0, 0], [1, 1]], [0, 0])
    off = _pop([[1, 0], [0.5, 0.5], [0.5, 0.5]], [[1, 1], [2, 2], [2, 2]], [0, 1, 1])
    X, F, CV = GeneratorAdaptation.training_rows(_Algorithm(pop, off))
    np.testing.assert_array_equal(X, [[0, 1], [1, 0], [0.5, 0.5]])
    np.testing.assert_array_equal(CV, [0, 0, 1])
    X, _, _ = GeneratorAdaptation.training_rows(_Algorithm(pop, None))
    assert len(X) == 2


def test_due_every_g_generations_but_never_after_the_last():
    a = GeneratorAdaptation(2)
    assert [g for g in range(7) if a.due(_Algorithm(None, None), g)] == [2, 4, 6]
    assert not a.due(_Algorithm(None, None, has_next=False), 4)
