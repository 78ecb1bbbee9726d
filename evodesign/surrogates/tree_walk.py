"""Prediction from trees stored as flat arrays: one vectorized walk down every tree at once.

Shared by the tree surrogates (:class:`~evodesign.surrogates.RandomForestSurrogate`,
:class:`~evodesign.surrogates.GradientBoostingSurrogate`) so that a fitted model and the
same model read back from its safetensors file predict with the same code, bit for bit,
without pickle. The trees of a model are concatenated: node ``i`` has children ``left[i]``
and ``right[i]`` (absolute indices, -1 at a leaf), splits on ``feature[i]`` at
``threshold[i]`` (``x <= threshold`` goes left, scikit-learn's rule) and a leaf holds
``value[i]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["children_after_parents", "tree_values"]

#: rows x trees walked at once (bounds the temporary memory to ~100 MB)
_BLOCK = 1 << 21


def tree_values(
    X: NDArray[np.float64],
    roots: NDArray[np.int64],
    left: NDArray[np.int32],
    right: NDArray[np.int32],
    feature: NDArray[np.int32],
    threshold: NDArray[np.float64],
    value: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The leaf value every tree gives every row.

    Args:
        X: `(n, n_features)` features, compared as given with the thresholds.
        roots: `(n_trees,)` the first node of each tree.
        left, right, feature, threshold, value: `(n_nodes,)` the nodes of all trees.

    Returns:
        `(n_trees, n)` leaf values.
    """
    n_trees = len(roots)
    out = np.empty((n_trees, len(X)))
    step = max(1, _BLOCK // max(1, n_trees))
    for s in range(0, len(X), step):
        block = X[s : s + step]
        m = len(block)
        node = np.repeat(roots, m)  # tree-major: tree t, row i at t * m + i
        row = np.tile(np.arange(m), n_trees)
        active = np.flatnonzero(left[node] >= 0)
        while active.size:  # ends: a child's index is always above its parent's
            at = node[active]
            go_left = block[row[active], feature[at]] <= threshold[at]
            node[active] = child = np.where(go_left, left[at], right[at])
            active = active[left[child] >= 0]
        out[:, s : s + m] = value[node].reshape(n_trees, m)
    return out


def children_after_parents(left: NDArray[np.int64], right: NDArray[np.int64]) -> bool:
    """Whether every internal node's children come after it (so a walk down always ends)."""
    internal = np.flatnonzero(left >= 0)
    leaves = left < 0
    return bool(
        (left[internal] > internal).all()
        and (right[internal] > internal).all()
        and (right[leaves] < 0).all()
    )
