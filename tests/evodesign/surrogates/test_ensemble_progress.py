"""Surrogate training progress: what it shows, and that it changes no number."""

from __future__ import annotations

import numpy as np
import torch

from evodesign.surrogates import DeepEnsembleRegressor
from operators.progress import run_label


def test_progress_shows_members_epochs_and_loss_and_changes_nothing(capsys) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.column_stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])])
    params = dict(n_members=3, hidden_layer_sizes=(8,), max_epochs=6, patience=2,
                  batch_size=32, random_state=4)
    quiet = DeepEnsembleRegressor(verbose=False, **params).fit(X, y)
    assert capsys.readouterr().out == ""
    with run_label("seed2"):
        shown = DeepEnsembleRegressor(verbose=True, **params).fit(X, y)
    for (key, a), b in zip(quiet.net_.state_dict().items(), shown.net_.state_dict().values()):
        assert torch.equal(a, b), key
    np.testing.assert_array_equal(quiet.predict(X, return_std=True), shown.predict(X, return_std=True))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[seed2] surrogate (3 networks trained together): epoch 1/6 (16%)")
    assert "best val error" in lines[0] and "members still improving" in lines[0]
    assert f"epoch {shown.n_epochs_}/6, done in" in lines[-1]
