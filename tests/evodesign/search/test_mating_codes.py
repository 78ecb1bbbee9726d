"""BatchMating keeps latent codes with the population: parents are encoded once, children
carry the point they were decoded from, and the codes travel through the search state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymoo.core.problem import Problem
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM

from evodesign.representation import CompositionSpace
from evodesign.search.algorithm import design_nsga2
from evodesign.search.mating import CODES, BatchMating
from evodesign.search.state import capture_search_state, restore_search_state
from operators import GANMutation, GeneratorSampling, LatentInterpolationCrossover, fit_generative_model

ELEMENTS = ["H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "S", "Cl", "K"]
SPACE = CompositionSpace(ELEMENTS, max_atoms=12, max_elements=3)


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


def _algorithm(model, pop_size=30, mutation_prob=0.5, codes="decoded"):
    X0 = SPACE.random_vectors(pop_size, np.random.default_rng(1), min_elements=2)
    sampling = GeneratorSampling(model, source="data", data=X0)  # with provenance, as campaigns
    algorithm = design_nsga2(
        SPACE, pop_size, sampling, LatentInterpolationCrossover(model), GANMutation(model, prob=mutation_prob),
        codes=codes,
    )
    algorithm.setup(Cheap(), termination=("n_gen", 50), seed=2)
    return algorithm


def _encoded_rows(model, monkeypatch):
    rows = []
    encode = model.encode

    def counting(X, *args, **kwargs):
        rows.append(len(X))
        return encode(X, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    return rows


def test_parents_are_encoded_once_and_children_keep_their_decoded_point(model, monkeypatch):
    algorithm = _algorithm(model)
    algorithm.next()  # the initial population has no codes yet
    rows = _encoded_rows(model, monkeypatch)
    algorithm.next()
    assert rows == [30]  # the whole initial population, in one call
    rows.clear()
    for _ in range(3):
        algorithm.next()
        pop = algorithm.pop
        Z = BatchMating._population_codes(pop, model.latent_dim)
        # an offspring's code is the point it was decoded from: it repairs to the offspring
        born = np.array([not op.startswith("GeneratorSampling") for op in pop.get("operator")])
        assert born.any() and not np.isnan(Z[born]).any()
        repaired = algorithm.repair._do(None, model.decode(Z[born]))
        np.testing.assert_array_equal(repaired, pop.get("X")[born])
    # codes="decoded": nothing is encoded again
    assert rows == []


def test_a_crossover_child_is_decoded_only_if_the_mutation_passes_it_by(model, monkeypatch):
    algorithm = _algorithm(model, pop_size=40, mutation_prob=0.5, codes="mean")
    algorithm.next()
    algorithm.next()
    decoded = []
    decode = model.decode

    def counting(Z, *args, **kwargs):
        decoded.append(len(Z))
        return decode(Z, *args, **kwargs)

    monkeypatch.setattr(model, "decode", counting)
    mating = algorithm.mating
    X = algorithm.pop.get("X")
    Z = BatchMating._population_codes(algorithm.pop, model.latent_dim)
    keys = np.array([str(i) for i in range(len(X))], dtype=object)
    parents = np.arange(40).reshape(20, 2)
    Y, Zc, operator, _ = mating._children(None, X, Z, keys, parents, np.random.default_rng(0))
    assert np.isfinite(Y).all()
    # one decode for the unmutated crossover children, one for the mutants: no child twice
    assert sum(decoded) <= len(Y) and len(decoded) == 2
    made = operator != "clone"  # a mating not crossed copies its parents, X and code
    np.testing.assert_array_equal(model.decode(Zc[made]), Y[made])
    mutated = np.char.endswith(operator.astype(str), "+GANMutation")
    assert mutated.any() and (~mutated).any()
    # a child made in latent space and decoded after its mutation is never a "clone"
    assert not np.isin(operator[mutated], ["clone", "GANMutation"]).any()


def test_verified_codes_decode_to_their_individual_or_are_its_encoding(model, monkeypatch):
    algorithm = _algorithm(model, codes="verified")
    for _ in range(4):
        algorithm.next()
    Z = np.asarray(algorithm.pop.get(CODES), dtype=np.float64)
    known = ~np.isnan(Z).any(axis=1)
    X = algorithm.pop.get("X")
    # a kept child's point decodes to it within the model's tolerance; a parent's code is
    # its own encoding (refinement may not reach a match with this tiny model)
    decodes = model.matches(model.decode(Z[known]), X[known])
    encoded = np.isclose(Z[known], model.encode(X[known]), atol=1e-5).all(axis=1)
    assert (decodes | encoded).all() and decodes.any()


def test_an_unknown_codes_policy_is_refused(model):
    with pytest.raises(ValueError, match="unknown codes policy 'fresh'; choose one of"):
        _algorithm(model, codes="fresh")


def test_codes_travel_through_the_search_state_bit_identically(model):
    a = _algorithm(model)
    for _ in range(3):
        a.next()
    arrays, meta = capture_search_state(a)
    assert arrays[f"data.{CODES}"].shape == (30, model.latent_dim)
    b = _algorithm(model)
    restore_search_state(b, arrays, meta)
    for _ in range(3):
        a.next()
        b.next()
    np.testing.assert_array_equal(a.pop.get("X"), b.pop.get("X"))
    np.testing.assert_array_equal(a.pop.get(CODES), b.pop.get(CODES))


def test_classical_operators_keep_no_codes():
    X0 = SPACE.random_vectors(20, np.random.default_rng(1), min_elements=2)
    algorithm = design_nsga2(SPACE, 20, X0, SBX(eta=15, prob=0.9), PM(eta=20))
    algorithm.setup(Cheap(), termination=("n_gen", 5), seed=0)
    algorithm.next()
    algorithm.next()
    assert all(ind.get(CODES) is None for ind in algorithm.pop)


def test_a_population_with_some_codes_unknown_is_saved_with_nan_rows(model):
    algorithm = _algorithm(model)
    algorithm.next()
    algorithm.pop[0].set(CODES, np.arange(model.latent_dim, dtype=float))
    arrays, _ = capture_search_state(algorithm)
    Z = arrays[f"data.{CODES}"]
    assert np.array_equal(Z[0], np.arange(model.latent_dim)) and np.isnan(Z[1:]).all()
