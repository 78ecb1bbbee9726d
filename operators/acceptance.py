"""Validity-guided variation: redraw the offspring a caller's acceptance test rejects.

A learned operator proposes children by random moves in latent space; some of them decode
to vectors the caller cannot use (for compositions: formulas that fail a chemistry rule) or
to a copy of a parent. Rather than decoding blindly and leaving the repair to selection,
the operators can take an ``accept`` callable and redraw only the rejected rows -- new
interpolation weights, new GAN targets -- a few times, batched over all rejected rows at
once. This package stays generic: it never knows what "acceptable" means.

The acceptance protocol (any picklable object, so that operators holding it still pickle):

* ``accept(X) -> ok``: `(n, n_var)` float rows -> `(n,)` bools, True = usable;
* optionally ``accept.identity(X) -> ids``: `(n, n_var)` rows -> `(n,)` array of ids that
  compare with ``==`` and sort (e.g. the decoded formula). A child whose id equals one of
  its parents' ids is a clone and is rejected too, and so is a child whose id equals that
  of an accepted child earlier in the same batch (a duplicate: in a search both would cost
  an evaluation for one answer, and duplicate elimination would discard one anyway).
  Without ``identity``, ids are the vectors' exact bytes.

Rows still rejected after ``max_tries`` draws keep their last draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Accept", "check_max_tries", "identity_ids", "redraw_rejected"]

Accept = Callable[[Any], Any]
"""``accept(X: (n, n_var) float array) -> (n,) bool array``; see the module docstring."""


def check_max_tries(max_tries: int) -> int:
    """``max_tries`` as an int >= 1, or a ValueError that says what it means."""
    if int(max_tries) != max_tries or max_tries < 1:
        raise ValueError(
            f"max_tries is the number of draws per offspring (the first included), "
            f"an integer >= 1; got {max_tries!r}"
        )
    return int(max_tries)


def identity_ids(accept: Accept, X: NDArray) -> NDArray:
    """Ids of `(n, n_var)` rows, `(n,)`: ``accept.identity(X)`` if it has one, else the
    rows' raw bytes (equal exactly when the float64 vectors are equal)."""
    identity = getattr(accept, "identity", None)
    if identity is not None:
        return np.asarray(identity(X))
    rows = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    return rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1])))[:, 0]


def _acceptable(
    accept: Accept, Y: NDArray, parent_ids: Sequence[NDArray], rows: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray]:
    """Acceptance of the `(m, n_var)` children of the slots ``rows``, and their ids."""
    ok = np.asarray(accept(Y), dtype=bool).reshape(-1)
    if ok.shape != (len(Y),):
        raise ValueError(
            f"accept returned shape {ok.shape} for {len(Y)} rows; expected ({len(Y)},)"
        )
    ids = identity_ids(accept, Y)
    for P in parent_ids:
        ok &= ids != P[rows]
    return ok, ids


def _drop_duplicates(ok: NDArray[np.bool_], ids: NDArray) -> NDArray[np.bool_]:
    """``ok`` with every accepted row whose id an earlier accepted row has set to False."""
    rows = np.flatnonzero(ok)
    _, first = np.unique(ids[rows], return_index=True)
    keep = np.zeros(len(ok), dtype=bool)
    keep[rows[first]] = True
    return keep


def redraw_rejected(
    Y: NDArray,
    draw: Callable[[NDArray[np.int64]], NDArray],
    accept: Accept,
    max_tries: int,
    parents: Sequence[NDArray] = (),
    distinct: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Redraw the rows of ``Y`` that ``accept`` rejects, that clone a parent, or (with
    ``distinct``) that duplicate an accepted row before them.

    Args:
        Y: a `(n, n_var)` array, the first draw of every row (not modified).
        draw: ``draw(rows)`` returns fresh `(len(rows), n_var)` children for the row
            indices ``rows``, drawing new random numbers on every call.
        accept: the acceptance test (see the module docstring).
        max_tries: draws per row in all, the first one included (1: no redraw).
        parents: `(n, n_var)` arrays; row ``i`` of a child must differ from row ``i`` of
            each (empty: no clone check).
        distinct: also redraw duplicates within the batch (the first accepted row of each
            id stays).

    Returns:
        ``(Y, ok)``: the `(n, n_var)` children after redrawing and the `(n,)` mask of the
        accepted ones (rows still rejected keep their last draw).
    """
    max_tries = check_max_tries(max_tries)
    Y = np.array(Y, dtype=np.float64, copy=True)
    parent_ids = [identity_ids(accept, P) for P in parents]
    ok, ids = _acceptable(accept, Y, parent_ids, np.arange(len(Y)))
    if distinct:
        ok = _drop_duplicates(ok, ids)
    for _ in range(max_tries - 1):
        rows = np.flatnonzero(~ok)
        if len(rows) == 0:
            break
        Y[rows] = draw(rows)
        ok[rows], ids[rows] = _acceptable(accept, Y[rows], parent_ids, rows)
        if distinct:
            ok = _drop_duplicates(ok, ids)
    return Y, ok
