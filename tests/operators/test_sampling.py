from __future__ import annotations

import numpy as np
import pytest

from operators import DataError, GeneratorSampling
from toy_data import N_VAR, ToyProblem


@pytest.mark.parametrize("source", ["gan", "vae", "data", "mix"])
def test_every_source_gives_valid_rows(model, data, source):
    train, _ = data
    sampling = GeneratorSampling(model, source=source, data=train, mix=0.25)
    pop = sampling.do(ToyProblem(), 40, random_state=np.random.default_rng(0))
    X = pop.get("X")
    assert X.shape == (40, N_VAR)
    assert np.all(X >= 0) and np.allclose(X.sum(axis=1), 1.0, atol=1e-12)
    operators = list(pop.get("operator"))
    if source == "data":
        assert operators == ["GeneratorSampling(data)"] * 40
        train_rows = {r.tobytes() for r in train}
        assert all(r.tobytes() in train_rows for r in X)
        assert len({r.tobytes() for r in X}) == 40  # drawn without replacement
    elif source == "mix":
        assert operators == ["GeneratorSampling(gan)"] * 10 + ["GeneratorSampling(data)"] * 30
    else:
        assert operators == [f"GeneratorSampling({source})"] * 40
    assert list(pop.get("parents")) == [""] * 40


def test_sampling_is_reproducible(model, data):
    train, _ = data
    sampling = GeneratorSampling(model, source="mix", data=train)
    a = sampling.do(ToyProblem(), 30, random_state=np.random.default_rng(7)).get("X")
    b = sampling.do(ToyProblem(), 30, random_state=np.random.default_rng(7)).get("X")
    c = sampling.do(ToyProblem(), 30, random_state=np.random.default_rng(8)).get("X")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_data_is_checked_at_construction(model, data):
    with pytest.raises(ValueError, match="needs data"):
        GeneratorSampling(model, source="data")
    with pytest.raises(DataError, match=r"shape \(n, 30\)"):
        GeneratorSampling(model, source="data", data=np.eye(5))
    with pytest.raises(ValueError, match="unknown source"):
        GeneratorSampling(model, source="file")
