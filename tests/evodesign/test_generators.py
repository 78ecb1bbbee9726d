from __future__ import annotations

import numpy as np
import pytest
from operators import ArtifactMismatchError

from evodesign.chemistry import SmactValidity
from evodesign.representation import KnownDesigns
from evodesign.datasets import load_transport
from evodesign.generators import load_generators, train_generators, training_vectors
from evodesign.representation import CompositionSpace


def test_training_vectors_are_exact_and_strict_valid():
    data = load_transport()
    space = CompositionSpace(data.elements, max_atoms=20, max_elements=4)
    known = KnownDesigns.from_vectors(space, space.to_vectors(data.compositions))
    X, keep = training_vectors(known, space, strict_valid=True)
    X_all, keep_all = training_vectors(known, space, strict_valid=False)
    assert keep.sum() == len(X) and keep_all.sum() == len(X_all) == len(known)
    assert len(X) < len(X_all) < len(data)  # the filters remove something real
    counts = space.decode(X)
    np.testing.assert_allclose(space.fractions(counts), X, atol=1e-12)  # decoded exactly
    assert SmactValidity(space.elements)(counts).all()
    assert ((counts > 0).sum(axis=1) <= 4).all() and (counts.sum(axis=1) <= 20).all()
    # the known designs' vectors are the data rows themselves, bit for bit (the generators'
    # cache key hashes them)
    np.testing.assert_array_equal(X, space.to_vectors(data.compositions)[known.rows[keep]])


def test_train_save_and_load_with_matching_space(tmp_path):
    model, path = train_generators(
        "transport", tmp_path / "gen", seed=0, max_rows=300,
        vae_options={"max_epochs": 3, "sharpen_epochs": 2},
        gan_options={"n_steps": 20}, progress=False,
    )
    assert path.exists()
    space = CompositionSpace(load_transport().elements, max_atoms=20, max_elements=4)
    loaded = load_generators(path, space)
    assert loaded.n_var == space.n_var
    assert loaded.metadata["n_training"] == 300
    with pytest.raises(ArtifactMismatchError, match="space"):
        load_generators(path, CompositionSpace(space.elements, max_atoms=10, max_elements=4))


def test_the_deap_nsga2_example_runs_with_tiny_budgets(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "runs" / "deap_nsga2.py"
    spec = importlib.util.spec_from_file_location("deap_nsga2_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = example.main(
        ["--pop", "8", "--gens", "2", "--train-rows", "300", "--epochs", "3",
         "--gan-steps", "20", "--seed", "1"]
    )
    assert len(out["formulas"]) == 8 and len(out["log"]) == 2
    assert out["F"].shape == (8, 2) and np.isfinite(out["F"]).all()
    assert set(out["front"]) <= set(out["formulas"])
    printed = capsys.readouterr().out
    assert "final front" in printed and out["front"][0] in printed
