"""NSGA-II (pymoo) with the learned operators on a toy problem over sparse fraction vectors."""

from __future__ import annotations

import pickle

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.optimize import minimize

from operators import GANMutation, GeneratorSampling, LatentInterpolationCrossover
from toy_data import N_VAR, ToyProblem


def _algorithm(model, train) -> NSGA2:
    return NSGA2(
        pop_size=24,
        sampling=GeneratorSampling(model, source="mix", data=train),
        crossover=LatentInterpolationCrossover(model),
        mutation=GANMutation(model, strength=0.3, prob=0.5),
        eliminate_duplicates=True,
    )


def test_nsga2_runs_and_is_reproducible(model, data):
    train, _ = data
    first = minimize(ToyProblem(), _algorithm(model, train), ("n_gen", 5), seed=1)
    again = minimize(ToyProblem(), _algorithm(model, train), ("n_gen", 5), seed=1)
    other = minimize(ToyProblem(), _algorithm(model, train), ("n_gen", 5), seed=2)
    X = first.pop.get("X")
    assert X.shape == (24, N_VAR)
    assert np.all(X >= 0) and np.allclose(X.sum(axis=1), 1.0, atol=1e-12)
    assert np.array_equal(first.pop.get("F"), again.pop.get("F"))
    assert np.array_equal(X, again.pop.get("X"))
    assert not np.array_equal(first.pop.get("F"), other.pop.get("F"))
    # every survivor says where it came from
    operators = set(first.pop.get("operator"))
    assert None not in operators
    assert any("LatentInterpolationCrossover" in op or "GANMutation" in op for op in operators)
    # the search moved: the front is better than the initial data's best on each objective
    initial = ToyProblem().evaluate(train[:24])
    assert first.F.min(axis=0)[0] <= initial.min(axis=0)[0]


def test_resume_from_a_pickled_checkpoint_is_bit_identical(model, data):
    train, _ = data
    straight = minimize(ToyProblem(), _algorithm(model, train), ("n_gen", 6), seed=3)
    algorithm = _algorithm(model, train)
    algorithm.setup(ToyProblem(), termination=("n_gen", 6), seed=3)
    for _ in range(3):
        algorithm.next()
    checkpoint = pickle.dumps(algorithm)
    assert len(checkpoint) < 500_000  # no weights in the checkpoint
    resumed = pickle.loads(checkpoint)
    while resumed.has_next():
        resumed.next()
    assert np.array_equal(resumed.pop.get("F"), straight.pop.get("F"))
    assert np.array_equal(resumed.pop.get("X"), straight.pop.get("X"))


def test_guided_operators_resume_bit_identically(model, data):
    from toy_data import FewComponents

    train, _ = data

    def algorithm() -> NSGA2:
        return NSGA2(
            pop_size=24,
            sampling=GeneratorSampling(model, source="mix", data=train),
            crossover=LatentInterpolationCrossover(model, accept=FewComponents(3), max_tries=3),
            mutation=GANMutation(model, prob=0.5, accept=FewComponents(3), max_tries=3),
            eliminate_duplicates=True,
        )

    straight = minimize(ToyProblem(), algorithm(), ("n_gen", 5), seed=4)
    resumed = algorithm()
    resumed.setup(ToyProblem(), termination=("n_gen", 5), seed=4)
    for _ in range(2):
        resumed.next()
    resumed = pickle.loads(pickle.dumps(resumed))
    while resumed.has_next():
        resumed.next()
    np.testing.assert_array_equal(resumed.pop.get("X"), straight.pop.get("X"))
    offspring = resumed.pop.get("X")
    assert ((offspring > 0).sum(axis=1) <= 4).all()
