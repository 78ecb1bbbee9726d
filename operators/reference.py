"""How operators hold their model: in memory while running, by reference when pickled.

pymoo checkpoints pickle the whole algorithm, and parallel evaluation may ship operators to
other processes. Copying the weights into every pickle would make checkpoints large and
let two copies of "the model" drift apart. So an operator pickles only the model's sidecar
path and the SHA-256 of its tensor file; after unpickling, the model is loaded on first use
and refused (:class:`~operators.exceptions.ArtifactMismatchError`) if the file no longer
has that hash. Models loaded this way are cached per (path, hash) and process, so the
crossover, mutation and sampling of one algorithm share one copy.

``copy.deepcopy`` (which ``pymoo.optimize.minimize`` applies to the algorithm) shares the
model instead: inference never changes it, and an unsaved model must survive the copy.
"""

from __future__ import annotations

import copy
import os
import pickle
import weakref
from pathlib import Path
from typing import Any

from operators.artifacts import load_generative_model
from operators.generative import GenerativeModel

__all__ = ["ModelHolder", "resolve_model"]

_LOADED: weakref.WeakValueDictionary[tuple[str, str], GenerativeModel] = (
    weakref.WeakValueDictionary()
)


def resolve_model(model: GenerativeModel | str | os.PathLike) -> GenerativeModel:
    """A model object as is, or the model saved at a path (loaded and hash-checked)."""
    if isinstance(model, GenerativeModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return _load(str(Path(model).resolve()), None)
    raise TypeError(
        f"expected a GenerativeModel or the path of a saved one, got {type(model).__name__}"
    )


def _load(path: str, sha256: str | None) -> GenerativeModel:
    """Load a model file, reusing this process's copy of a (path, hash) already loaded."""
    if sha256 is not None:
        cached = _LOADED.get((path, sha256))
        if cached is not None:
            return cached
    model = load_generative_model(path, sha256=sha256)
    _LOADED[(str(model.path), str(model.sha256))] = model
    return model


class ModelHolder:
    """Mixin for operators that use a :class:`GenerativeModel` (see the module docstring)."""

    _model: GenerativeModel | None
    _model_ref: tuple[str, str] | None

    def _hold(self, model: GenerativeModel | str | os.PathLike) -> None:
        self._model = resolve_model(model)
        self._model_ref = None

    @property
    def model(self) -> GenerativeModel:
        """The model, loaded (and hash-checked) on first use after unpickling."""
        if self._model is None:
            if self._model_ref is None:
                raise RuntimeError(f"{type(self).__name__} holds no model")
            self._model = _load(*self._model_ref)
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        model = state.pop("_model")
        if model is not None:
            if model.path is None or model.sha256 is None:
                raise pickle.PicklingError(
                    f"{type(self).__name__} holds its model by reference (path + hash) when "
                    "pickled, but the model was never saved: call "
                    "operators.save_generative_model(model, path) before pickling"
                )
            state["_model_ref"] = (str(model.path), model.sha256)
        state["_model"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict[int, Any]) -> ModelHolder:
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key == "_model" else copy.deepcopy(value, memo)
        return new
