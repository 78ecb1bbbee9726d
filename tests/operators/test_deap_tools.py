from __future__ import annotations

import numpy as np
from deap import base, creator, tools

from operators import mate, mutate
from toy_data import N_VAR, toy_objectives

if not hasattr(creator, "OperatorsTestFitness"):
    creator.create("OperatorsTestFitness", base.Fitness, weights=(-1.0, -1.0))
if not hasattr(creator, "OperatorsTestIndividual"):
    creator.create("OperatorsTestIndividual", list, fitness=creator.OperatorsTestFitness)


def test_mate_and_mutate_work_in_place_like_deap_operators(model, data):
    train, _ = data
    a = creator.OperatorsTestIndividual(train[0].tolist())
    b = creator.OperatorsTestIndividual(train[1].tolist())
    out = mate(a, b, model, np.random.default_rng(0))
    assert out[0] is a and out[1] is b
    assert isinstance(a, creator.OperatorsTestIndividual) and len(a) == N_VAR
    assert np.isclose(sum(a), 1.0) and np.isclose(sum(b), 1.0)
    (m,) = mutate(a, model, np.random.default_rng(0), strength=0.3)
    assert m is a
    # numpy individuals too, and strength 0 leaves the individual alone
    arr = train[2].copy()
    (same,) = mutate(arr, model, np.random.default_rng(0), strength=0.0)
    assert same is arr and np.array_equal(arr, train[2])
    x1, x2 = train[3].copy(), train[4].copy()
    y1, y2 = train[3].copy(), train[4].copy()
    mate(x1, x2, model, np.random.default_rng(9))
    mate(y1, y2, model, np.random.default_rng(9))
    assert np.array_equal(x1, y1) and np.array_equal(x2, y2)


def test_a_deap_nsga2_loop_runs_with_the_learned_operators(model, data):
    train, _ = data
    rng = np.random.default_rng(0)
    toolbox = base.Toolbox()
    toolbox.register("mate", mate, model=model, rng=rng)
    toolbox.register("mutate", mutate, model=model, rng=rng, strength=0.3)
    toolbox.register("select", tools.selNSGA2)
    toolbox.register("evaluate", lambda ind: tuple(toy_objectives(np.asarray([ind]))[0]))

    n = 16
    rows = train[rng.choice(len(train), n, replace=False)]
    pop = [creator.OperatorsTestIndividual(row.tolist()) for row in rows]
    for ind in pop:
        ind.fitness.values = toolbox.evaluate(ind)
    pop = toolbox.select(pop, n)  # assigns the crowding distance selTournamentDCD needs
    for _ in range(3):
        offspring = [toolbox.clone(ind) for ind in tools.selTournamentDCD(pop, n)]
        for a, b in zip(offspring[::2], offspring[1::2]):
            toolbox.mate(a, b)
            toolbox.mutate(a)
            toolbox.mutate(b)
            del a.fitness.values, b.fitness.values
        for ind in offspring:
            ind.fitness.values = toolbox.evaluate(ind)
        pop = toolbox.select(pop + offspring, n)
    X = np.asarray(pop)
    assert X.shape == (n, N_VAR)
    assert np.all(X >= 0) and np.allclose(X.sum(axis=1), 1.0)
    assert all(ind.fitness.valid for ind in pop)
    assert ((X > 0).sum(axis=1) <= 4).all()
