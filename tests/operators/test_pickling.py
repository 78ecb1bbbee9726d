"""Operators are pickled with their model by reference (path + SHA-256), never by value."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pymoo.core.population import Population

from operators import (
    ArtifactMismatchError,
    GANMutation,
    VAEGAN,
    GeneratorSampling,
    LatentInterpolationCrossover,
    save_generative_model,
)
from operators.artifacts import model_paths
from toy_data import ToyProblem


def _offspring(xover, mutation, parents_X: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pop = Population.new("X", parents_X)
    matings = np.arange(len(parents_X)).reshape(-1, 2)
    off = xover.do(ToyProblem(), pop, matings, random_state=rng)
    return mutation.do(ToyProblem(), off, random_state=rng).get("X")


def test_pickle_round_trip_is_small_and_gives_identical_offspring(model, data):
    train, _ = data
    xover, mutation = LatentInterpolationCrossover(model), GANMutation(model, prob=0.5)
    blob = pickle.dumps((xover, mutation))
    weights = model_paths(model.path)[0].stat().st_size
    assert len(blob) < 5_000 < weights  # a reference, not the weights
    xover2, mutation2 = pickle.loads(blob)
    assert xover2._model is None  # loaded lazily, on first use
    expected = _offspring(xover, mutation, train[:40], seed=11)
    np.testing.assert_array_equal(_offspring(xover2, mutation2, train[:40], seed=11), expected)
    assert xover2.model is mutation2.model  # one copy per process, shared


def test_offspring_are_equal_in_another_process(model, data, tmp_path):
    train, _ = data
    ops = (LatentInterpolationCrossover(model), GANMutation(model, prob=0.5))
    (tmp_path / "ops.pkl").write_bytes(pickle.dumps(ops))
    np.save(tmp_path / "parents.npy", train[:20])
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import numpy as np, torch
        torch.set_num_threads(1)
        sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
        from test_pickling import _offspring
        xover, mutation = pickle.loads(open({str(tmp_path / "ops.pkl")!r}, "rb").read())
        parents = np.load({str(tmp_path / "parents.npy")!r})
        np.save({str(tmp_path / "child.npy")!r}, _offspring(xover, mutation, parents, seed=5))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    here = _offspring(*ops, train[:20], seed=5)
    np.testing.assert_array_equal(np.load(tmp_path / "child.npy"), here)


def test_a_replaced_or_corrupted_model_file_is_refused_after_unpickling(model, data, tmp_path):
    train, _ = data
    own = VAEGAN(model.vae, model.gan)
    save_generative_model(own, tmp_path / "m")
    blob = pickle.dumps(GeneratorSampling(own, source="gan"))
    # retrained/replaced under the same name: consistent files, but not the referenced ones
    save_generative_model(VAEGAN(model.vae), tmp_path / "m", overwrite=True)
    sampling = pickle.loads(blob)
    with pytest.raises(ArtifactMismatchError, match="changed since it was referenced"):
        sampling.do(ToyProblem(), 4, random_state=np.random.default_rng(0))
    # corrupted: the tensors no longer match their own sidecar
    tensors = model_paths(tmp_path / "m")[0]
    tensors.write_bytes(tensors.read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(ArtifactMismatchError, match="corrupted or was replaced"):
        pickle.loads(blob).model


def test_an_unsaved_model_cannot_be_pickled_by_reference(model):
    with pytest.raises(pickle.PicklingError, match="never saved"):
        pickle.dumps(GANMutation(VAEGAN(model.vae, model.gan)))


def test_deepcopy_shares_the_model_and_a_path_works_as_model(model, model_path):
    xover = LatentInterpolationCrossover(model)
    twin = copy.deepcopy(xover)
    assert twin.model is model and twin.prob is not xover.prob
    from_path = GANMutation(str(model_path))
    assert from_path.model.sha256 == model.sha256
