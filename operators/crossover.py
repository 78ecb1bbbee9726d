"""Crossover by interpolation in the VAE's latent space.

Two parents are encoded (posterior means), a point between them is chosen at ``t`` drawn
U(0, 1) per mating, and decoded; the second child uses ``1 - t``. Spherical interpolation
(White, "Sampling generative networks", 2016) is the default: under a N(0, I) prior almost
all mass lies near a shell of radius ~sqrt(latent_dim), and the straight line between two
points on it cuts through the low-density interior, where decodings are less realistic;
the great-circle arc stays on the shell.

Parents whose latent codes are known (kept with the population by the caller, see
:meth:`LatentInterpolationCrossover.cross`) are not encoded again; every child comes back
with the latent point it was decoded from, so a mutation can step on from there without
decoding and re-encoding it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from pymoo.core.crossover import Crossover

from operators.acceptance import Accept, check_max_tries, redraw_rejected
from operators.provenance import crossover_provenance, vector_keys
from operators.reference import ModelHolder
from operators.vectors import check_shape

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from operators.generative import GenerativeModel

__all__ = [
    "LatentInterpolationCrossover",
    "guided_interpolation_children",
    "interpolation_children",
    "lerp",
    "slerp",
]


def lerp(za: NDArray, zb: NDArray, t: NDArray) -> NDArray:
    """Linear interpolation, `(n, d)` x `(n, d)` x `(n,)` -> `(n, d)`."""
    return za + t[:, None] * (zb - za)


def slerp(za: NDArray, zb: NDArray, t: NDArray) -> NDArray:
    """Spherical linear interpolation, `(n, d)` x `(n, d)` x `(n,)` -> `(n, d)`.

    Falls back to :func:`lerp` for (nearly) parallel pairs, where the arc is a line.
    """
    na = np.linalg.norm(za, axis=1)
    nb = np.linalg.norm(zb, axis=1)
    cos = np.einsum("ij,ij->i", za, zb) / np.maximum(na * nb, 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    arc = sin > 1e-6
    out = lerp(za, zb, t)
    if arc.any():
        w_a = np.sin((1.0 - t[arc]) * omega[arc]) / sin[arc]
        w_b = np.sin(t[arc] * omega[arc]) / sin[arc]
        out[arc] = w_a[:, None] * za[arc] + w_b[:, None] * zb[arc]
    return out


INTERPOLATIONS: dict[str, Callable[[NDArray, NDArray, NDArray], NDArray]] = {
    "slerp": slerp,
    "lerp": lerp,
}


def _check_method(method: str) -> None:
    if method not in INTERPOLATIONS:
        raise ValueError(
            f"unknown interpolation {method!r}; choose one of {sorted(INTERPOLATIONS)}"
        )


def draw_weights(random_state: np.random.Generator, n: int, extrapolation: float = 0.0) -> NDArray[np.float64]:
    """`(n,)` interpolation weights U(-extrapolation, 1 + extrapolation).

    With ``extrapolation > 0`` some children lie beyond a parent on the path through both
    (BLX-alpha's idea in latent space): interpolation alone only ever contracts the
    population towards its centre.
    """
    if extrapolation < 0:
        raise ValueError(f"extrapolation must be >= 0, got {extrapolation}")
    return -extrapolation + (1.0 + 2.0 * extrapolation) * random_state.random(n)


def interpolation_children(
    model: GenerativeModel, Xa: ArrayLike, Xb: ArrayLike, t: ArrayLike, method: str = "slerp"
) -> NDArray[np.float64]:
    """Two children per pair of parents, at ``t`` and at ``1 - t``; one encode, one decode.

    A child at exactly ``t = 0`` is parent ``a``'s row itself (at ``t = 1``, ``b``'s), not a
    decoding of it: a model that does not reconstruct a parent exactly must not alter it.

    Args:
        model: the generative model.
        Xa: a `(n, n_var)` array of first parents.
        Xb: a `(n, n_var)` array of second parents.
        t: a `(n,)` array of interpolation weights in [0, 1].
        method: ``"slerp"`` or ``"lerp"``.

    Returns:
        A `(2, n, n_var)` array: children at ``t``, then children at ``1 - t``.
    """
    Xa = check_shape(Xa, model.n_var, "first parents")
    Xb = check_shape(Xb, model.n_var, "second parents")
    n = len(Xa)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,))
    _check_method(method)
    pairs = _Pairs(model, Xa, Xb, method)
    return pairs.children(np.arange(2 * n), np.concatenate([t, 1.0 - t])).reshape(2, n, -1)


def _guided(
    pairs: _Pairs,
    t: NDArray[np.float64],
    accept: Accept,
    random_state: np.random.Generator,
    max_tries: int,
    extrapolation: float,
) -> NDArray[np.float64]:
    """The `(2n, n_var)` children of :func:`guided_interpolation_children`."""
    n = pairs.n
    first = pairs.children(np.arange(2 * n), np.concatenate([t, 1.0 - t]))

    def draw(rows: NDArray[np.int64]) -> NDArray[np.float64]:
        return pairs.children(rows, draw_weights(random_state, len(rows), extrapolation))

    Y, _ = redraw_rejected(first, draw, accept, max_tries, parents=(pairs.A, pairs.B))
    return Y


def guided_interpolation_children(
    model: GenerativeModel,
    Xa: ArrayLike,
    Xb: ArrayLike,
    t: ArrayLike,
    accept: Accept,
    random_state: np.random.Generator,
    max_tries: int = 4,
    method: str = "slerp",
    extrapolation: float = 0.0,
) -> NDArray[np.float64]:
    """:func:`interpolation_children`, then rejected children redrawn at new weights.

    A child that ``accept`` rejects, that clones either of its parents, or that duplicates
    an accepted child before it (see :mod:`operators.acceptance`), is redrawn at a weight drawn U(0, 1) from
    ``random_state``; one decode per round for all rejected children, at most
    ``max_tries`` draws per child in all.

    Args:
        model: the generative model.
        Xa: a `(n, n_var)` array of first parents.
        Xb: a `(n, n_var)` array of second parents.
        t: a `(n,)` array of first weights in [0, 1] (children at ``t`` and ``1 - t``).
        accept: the acceptance test.
        random_state: source of the new weights.
        max_tries: draws per child in all, the first one included.
        method: ``"slerp"`` or ``"lerp"``.
        extrapolation: new weights are drawn U(-extrapolation, 1 + extrapolation).

    Returns:
        A `(2, n, n_var)` array: the children of the slots at ``t``, then at ``1 - t``.
    """
    Xa = check_shape(Xa, model.n_var, "first parents")
    Xb = check_shape(Xb, model.n_var, "second parents")
    n = len(Xa)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,))
    _check_method(method)
    pairs = _Pairs(model, Xa, Xb, method)
    return _guided(pairs, t, accept, random_state, max_tries, extrapolation).reshape(2, n, -1)


class _Pairs:
    """The `2n` child slots of `n` matings: slot ``r`` interpolates from parent ``a`` of
    mating ``r % n`` (towards ``b``) with weight ``T[r]``; parents encoded at most once,
    those with a known code (``Za``/``Zb`` rows without NaN) never.

    ``codes`` holds, per slot, the latent point of its last child: the interpolated point
    it was decoded from, or the copied parent's code at ``T`` 0 or 1 (NaN if unknown)."""

    def __init__(
        self,
        model: GenerativeModel,
        Xa: NDArray,
        Xb: NDArray,
        method: str,
        Za: NDArray | None = None,
        Zb: NDArray | None = None,
    ) -> None:
        self.model, self.method, self.n = model, method, len(Xa)
        self.A, self.B = np.concatenate([Xa, Xa]), np.concatenate([Xb, Xb])
        d = model.latent_dim
        self._Z = np.full((2 * self.n, d), np.nan)
        if Za is not None:
            self._Z[: self.n] = Za
        if Zb is not None:
            self._Z[self.n :] = Zb
        self._encoded = False
        self.codes = np.full((2 * self.n, d), np.nan)

    def _parent_codes(self) -> NDArray[np.float64]:
        """`(2n, latent_dim)` codes of the parents ``a`` then ``b``, the unknown ones
        encoded (one call) the first time they are needed."""
        if not self._encoded:
            todo = np.flatnonzero(np.isnan(self._Z).any(axis=1))
            if len(todo):
                P = np.concatenate([self.A[: self.n], self.B[: self.n]])
                self._Z[todo] = self.model.encode(P[todo])
            self._encoded = True
        return self._Z

    def children(
        self, rows: NDArray[np.int64], T: NDArray[np.float64], decode: bool = True
    ) -> NDArray[np.float64]:
        """`(m, n_var)` children of the slots ``rows`` at the `(m,)` weights ``T``; with
        ``decode=False`` the interpolated children are left NaN (their codes are set)."""
        A, B = self.A[rows], self.B[rows]
        pair = rows % self.n
        out = np.empty_like(A)
        at_a, at_b = T == 0.0, T == 1.0
        out[at_a], out[at_b] = A[at_a], B[at_b]
        codes = np.where(at_a[:, None], self._Z[pair], self._Z[self.n + pair])
        mid = ~(at_a | at_b)
        if mid.any():
            Z = self._parent_codes()
            Za, Zb = Z[pair[mid]], Z[self.n + pair[mid]]
            codes[mid] = INTERPOLATIONS[self.method](Za, Zb, T[mid])
            out[mid] = self.model.decode(codes[mid]) if decode else np.nan
        self.codes[rows] = codes
        return out


class LatentInterpolationCrossover(ModelHolder, Crossover):
    """pymoo crossover: two parents -> two children interpolated in latent space.

    Offspring carry provenance (:mod:`operators.provenance`): ``"operator"`` is this
    operator's name, or ``"clone"`` for a child identical to a parent; ``"parents"`` the
    parents' vector keys.

    Args:
        model: a :class:`~operators.generative.GenerativeModel` or the path of a saved one;
            pickled by reference (see :mod:`operators.reference`).
        method: ``"slerp"`` (default) or ``"lerp"``.
        prob: probability that a mating is crossed (else the parents are copied).
        accept: optional acceptance test (:mod:`operators.acceptance`): children it
            rejects, that clone one of their parents or that duplicate an accepted child
            of the same call, are redrawn at a new ``t`` drawn
            U(0, 1) (each child on its own), batched over all rejected children, up to
            ``max_tries`` draws in all; children still rejected keep their last draw.
            ``None`` (default): no test, one draw of ``t`` per mating.
        max_tries: draws per child in all, the first one included.
        extrapolation: weights are drawn U(-extrapolation, 1 + extrapolation) instead of
            U(0, 1), so that some children lie beyond a parent (see :func:`draw_weights`);
            in [0, 1], default 0.
        **kwargs: passed to :class:`pymoo.core.crossover.Crossover` (``repair``, ...).
    """

    def __init__(
        self,
        model: GenerativeModel | str | os.PathLike,
        method: str = "slerp",
        prob: float = 0.9,
        accept: Accept | None = None,
        max_tries: int = 4,
        extrapolation: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_parents=2, n_offsprings=2, prob=prob, **kwargs)
        _check_method(method)
        if not 0.0 <= extrapolation <= 1.0:
            raise ValueError(f"extrapolation must be in [0, 1], got {extrapolation}")
        self.method = method
        self.extrapolation = float(extrapolation)
        self.accept = accept
        self.max_tries = check_max_tries(max_tries)
        self._hold(model)

    def cross(
        self,
        X: NDArray,
        random_state: np.random.Generator,
        Z: NDArray | None = None,
        decode: bool = True,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Children of all matings, with their latent codes: the public array-level entry.

        Args:
            X: a `(2, n_matings, n_var)` array of parents.
            random_state: the algorithm's generator (weights, redraws).
            Z: `(2, n_matings, latent_dim)` latent codes of the parents, NaN rows where
                unknown (``None``: none known); known codes are used as they are, the
                others encoded (at most once each).
            decode: ``False``: leave the interpolated children undecoded (NaN rows; their
                codes are returned), for a caller that steps on from the codes (a latent
                mutation) and decodes only where it must. It consumes the same random
                numbers either way. A guided crossover (``accept``) decodes regardless:
                its test needs the children.

        Returns:
            ``(Y, Zc)``: the `(2, n_matings, n_var)` children and their `(2, n_matings,
            latent_dim)` codes -- the latent point each was (or is to be) decoded from, or
            for a child that copies a parent (``t`` 0 or 1) that parent's code (NaN if
            unknown).
        """
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[1]
        Xa = check_shape(X[0], self.model.n_var, "first parents")
        Xb = check_shape(X[1], self.model.n_var, "second parents")
        t = draw_weights(random_state, n, self.extrapolation)
        Za, Zb = (None, None) if Z is None else (Z[0], Z[1])
        pairs = _Pairs(self.model, Xa, Xb, self.method, Za, Zb)
        if self.accept is None:
            Y = pairs.children(np.arange(2 * n), np.concatenate([t, 1.0 - t]), decode=decode)
        else:
            Y = _guided(pairs, t, self.accept, random_state, self.max_tries, self.extrapolation)
        return Y.reshape(2, n, -1), pairs.codes.reshape(2, n, -1)

    def _do(
        self,
        problem: Any,
        X: NDArray,
        *args: Any,
        random_state: np.random.Generator,
        **kwargs: Any,
    ) -> NDArray:
        """Children of all matings, `(2, n_matings, n_var)` -> `(2, n_matings, n_var)`."""
        return self.cross(X, random_state)[0]

    def do(self, problem: Any, pop: Any, parents: Any = None, *args: Any, **kwargs: Any) -> Any:
        """pymoo's crossover, then provenance on every child (see the class docstring)."""
        off = super().do(problem, pop, parents, *args, **kwargs)
        matings = pop if parents is None else [pop[m] for m in parents]
        P = np.array([[p.X for p in mating] for mating in matings], dtype=np.float64)
        P = np.swapaxes(P, 0, 1)  # (n_parents, n_matings, n_var)
        keys = vector_keys(P.reshape(-1, P.shape[-1])).reshape(P.shape[0], P.shape[1]).T
        operator, parent_str = crossover_provenance(off.get("X"), P, keys, self.name)
        off.set("operator", operator, "parents", parent_str)
        return off
