"""A toy design space for tests: fixed-length bit strings with made-up properties.

Everything a new design space needs is in this one module; the last lines register it.
Nothing outside this module changes for it (see test_toy_space.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from evodesign.representation import registry


class BitStringSpace:
    """Strings of ``n_bits`` bits; a vector coordinate above 0.5 is a 1."""

    kind: ClassVar[str] = "bitstring"

    def __init__(self, n_bits: int = 6) -> None:
        self.n_bits = int(n_bits)

    @property
    def n_var(self) -> int:
        return self.n_bits

    @property
    def xl(self) -> np.ndarray:
        return np.zeros(self.n_bits)

    @property
    def xu(self) -> np.ndarray:
        return np.ones(self.n_bits)

    def decode(self, X: Any, check: Any = None) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64).reshape(-1, self.n_bits) > 0.5).astype(np.uint8)

    def encode(self, designs: Any) -> np.ndarray:
        return np.asarray(designs, dtype=np.float64)

    def repair(self, X: Any, check: Any = None) -> np.ndarray:
        return self.encode(self.decode(X, check))

    def ids(self, designs: Any) -> np.ndarray:
        bits = np.ascontiguousarray(designs, dtype=np.uint8)
        return bits.view(np.dtype((np.void, self.n_bits)))[:, 0]

    def labels(self, designs: Any) -> list[str]:
        return ["".join(map(str, row)) for row in np.asarray(designs)]

    def features(self, designs: Any) -> np.ndarray:
        return np.asarray(designs, dtype=np.float64)

    def table(self, designs: Any) -> dict[str, Any]:
        return {"bits": self.labels(designs), "ones": np.asarray(designs).sum(axis=1).tolist()}

    def random_vectors(self, n: int, random_state: np.random.Generator) -> np.ndarray:
        return random_state.random((n, self.n_bits))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_bits": self.n_bits}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BitStringSpace:
        return cls(data["n_bits"])


def ones(space: BitStringSpace):
    """Analytic property: the number of 1 bits."""
    return lambda designs: np.asarray(designs).sum(axis=1).astype(np.float64)


class AlternationModel:
    """A made-up 'surrogate': the number of neighbouring bits that differ, with a std."""

    targets = ("alternation",)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X)
        mean = (X[:, 1:] != X[:, :-1]).sum(axis=1).astype(np.float64)[:, None]
        return mean, np.full_like(mean, 0.1)


# the registration: the space, and its analytic property
registry.register_space(BitStringSpace)
registry.analytic_properties.register("bitstring", "ones", ones)
