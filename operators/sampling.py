"""Initial populations drawn from the generative model, from known vectors, or a mix."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.core.sampling import Sampling

from operators.reference import ModelHolder
from operators.seeding import torch_generator
from operators.vectors import check_shape

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from operators.generative import GenerativeModel

__all__ = ["GeneratorSampling"]

SAMPLING_SOURCES = ("gan", "vae", "data", "mix")


class GeneratorSampling(ModelHolder, Sampling):
    """pymoo sampling from the latent GAN, the VAE prior, known vectors, or a mix.

    With ``source="mix"``, the first ``round(mix * n)`` rows come from the GAN (the VAE
    prior if the model has no GAN) and the rest are drawn from ``data``; a fixed layout
    rather than a shuffle, so that provenance can say which is which. Known vectors are
    deduplicated and drawn without replacement while there are enough of them.

    Provenance: ``"operator"`` is ``"GeneratorSampling(gan)"``, ``"...(vae)"`` or
    ``"...(data)"`` per row; ``"parents"`` is ``""``.

    Args:
        model: a :class:`~operators.generative.GenerativeModel` or the path of a saved one.
        source: ``"gan"``, ``"vae"``, ``"data"`` or ``"mix"``.
        data: a `(n_data, n_var)` array of known vectors (for ``"data"`` and ``"mix"``),
            returned bit for bit.
        mix: share of generated rows for ``"mix"``.
    """

    def __init__(
        self,
        model: GenerativeModel | str | os.PathLike,
        source: str = "gan",
        data: ArrayLike | None = None,
        mix: float = 0.5,
    ) -> None:
        super().__init__()
        if source not in SAMPLING_SOURCES:
            raise ValueError(f"unknown source {source!r}; choose one of {SAMPLING_SOURCES}")
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"mix must be in [0, 1], got {mix}")
        self._hold(model)
        if source in ("data", "mix"):
            if data is None:
                raise ValueError(
                    f"source={source!r} needs data: a (n, n_var) array of known vectors"
                )
            data = self.model.codec.check(data, "data", renormalize=False)
            data = check_shape(data, self.model.n_var, "data")
            # duplicates would only be removed again by pymoo's duplicate elimination
            data = np.unique(data, axis=0)
        self.source = source
        self.data = data
        self.mix = float(mix)

    def _split(self, n_samples: int) -> tuple[str, int]:
        """The generator used and how many of ``n_samples`` rows it makes."""
        generated = "gan" if "gan" in self.model.sources else "vae"
        if self.source in ("gan", "vae"):
            return self.source, n_samples
        if self.source == "data":
            return generated, 0
        return generated, int(round(self.mix * n_samples))

    def _do(
        self,
        problem: Any,
        n_samples: int,
        *args: Any,
        random_state: np.random.Generator,
        **kwargs: Any,
    ) -> NDArray:
        """`(n_samples, n_var)` rows: generated first, then known vectors."""
        generated, n_gen = self._split(n_samples)
        parts = []
        if n_gen:
            parts.append(self.model.sample(n_gen, generated, torch_generator(random_state)))
        n_data = n_samples - n_gen
        if n_data:
            idx = random_state.choice(len(self.data), size=n_data, replace=n_data > len(self.data))
            parts.append(self.data[idx])
        return np.concatenate(parts) if parts else np.empty((0, self.model.n_var))

    def do(self, problem: Any, n_samples: int, *args: Any, **kwargs: Any) -> Any:
        """pymoo's sampling, then provenance per row."""
        pop = super().do(problem, n_samples, *args, **kwargs)
        generated, n_gen = self._split(n_samples)
        for i, ind in enumerate(pop):
            ind.set("operator", f"{self.name}({generated if i < n_gen else 'data'})")
            ind.set("parents", "")
        return pop
