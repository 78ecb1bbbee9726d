"""Synthetic sparse simplex vectors for the operator tests (a module with a unique name, so
that test files can import it whatever other conftest modules are loaded)."""

from __future__ import annotations

import numpy as np
from pymoo.core.problem import Problem

N_VAR = 30

# small enough to train in a few seconds on one core, big enough to be meaningful
TINY_VAE = dict(hidden=(128, 128), latent_dim=8, max_epochs=80, patience=15, sharpen_epochs=40)
TINY_GAN = dict(hidden=(64, 64), n_steps=400, eval_every=50, patience=4)


def toy_vectors(
    n: int = 2000, n_var: int = N_VAR, n_prototypes: int = 15, seed: int = 0
) -> np.ndarray:
    """`(n, n_var)` fraction rows with 2-4 non-zeros, like compositions.

    Rows come from a few prototype supports with small integer ratios (1-4); in 30 % of
    rows one component is substituted by a random other (a novel support, as a dopant
    swap), and in 30 % one ratio is redrawn.
    """
    rng = np.random.default_rng(seed)
    prototypes = []
    for _ in range(n_prototypes):
        k = int(rng.integers(2, 5))
        prototypes.append((rng.choice(n_var, size=k, replace=False), rng.integers(1, 5, size=k)))
    X = np.zeros((n, n_var))
    for i in range(n):
        support, ratios = (a.copy() for a in prototypes[rng.integers(n_prototypes)])
        if rng.random() < 0.3:
            others = np.setdiff1d(np.arange(n_var), support)
            support[rng.integers(len(support))] = rng.choice(others)
        if rng.random() < 0.3:
            ratios[rng.integers(len(ratios))] = rng.integers(1, 5)
        X[i, support] = ratios
    return X / X.sum(axis=1, keepdims=True)


def integer_formula(x: np.ndarray, max_multiplier: int = 8, tol: float = 0.1) -> tuple:
    """Toy stand-in for the engine's integer decoding: the smallest integer ratios that the
    fractions round to within ``tol`` (ratios to the smallest present fraction)."""
    idx = np.flatnonzero(x > 0)
    r = x[idx] / x[idx].min()
    for m in range(1, max_multiplier + 1):
        if np.all(np.abs(r * m - np.round(r * m)) < tol):
            return tuple(zip(idx.tolist(), np.round(r * m).astype(int).tolist()))
    return tuple(zip(idx.tolist(), np.round(r * max_multiplier).astype(int).tolist()))


def toy_objectives(X: np.ndarray) -> np.ndarray:
    """`(n, n_var)` -> `(n, 2)`: maximise the share of the first 10 components and,
    separately, of the next 10, with a small cost per non-zero -- a trade-off front over
    sparse rows (both minimised)."""
    nnz = (X > 0).sum(axis=1)
    return np.column_stack(
        [1 - X[:, :10].sum(axis=1) + 0.01 * nnz, 1 - X[:, 10:20].sum(axis=1) + 0.01 * nnz]
    )


class ToyProblem(Problem):
    """The 2-objective :func:`toy_objectives` as a pymoo problem (module level: picklable)."""

    def __init__(self, n_var: int = N_VAR) -> None:
        super().__init__(n_var=n_var, n_obj=2, xl=0.0, xu=1.0)

    def _evaluate(self, X, out, *args, **kwargs):
        out["F"] = toy_objectives(X)


class FewComponents:
    """A toy acceptance test (module level: picklable): rows with at most ``max_nonzero``
    non-zero components pass."""

    def __init__(self, max_nonzero: int = 3) -> None:
        self.max_nonzero = max_nonzero
        self.calls = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.calls += 1
        return (np.asarray(X) > 0).sum(axis=1) <= self.max_nonzero


class FewComponentsSameSupport(FewComponents):
    """:class:`FewComponents` where two rows are "the same" when their supports are equal."""

    def identity(self, X: np.ndarray) -> np.ndarray:
        bits = np.packbits(np.asarray(X) > 0, axis=1)
        return np.ascontiguousarray(bits).view(np.dtype((np.void, bits.shape[1])))[:, 0]
