"""Composition generators: the VAE + latent GAN behind the learned operators, per data set.

:mod:`operators` trains generative models on any simplex vectors; this module chooses
*which* known materials they learn from and records the chemistry they depend on:

* the training compositions are the data set's formulas that the search itself could
  produce -- at most ``max_elements`` elements and ``max_atoms`` atoms per reduced formula
  unit, reproduced exactly by :meth:`CompositionSpace.decode` -- and, by default, only the
  SMACT strict-valid ones (charge-neutral and electronegativity-balanced). Learning from
  rule-screened compositions is how MatGAN reached 84.5% valid samples: a generator can
  only be as valid as what it imitates, and 19% of the known compounds fail the strict test;
* the model's sidecar records the element vocabulary, the space's limits, the data set and
  the hash of the training vectors, so a model trained for other elements or data is
  refused when an operator loads it.

Generators of another design space are trained by the campaign from what its space's
campaign part says (:data:`evodesign.campaign.space_parts.generator_data` and
``generator_options``); their sidecars record the space's kind
(``"microstructure-generators"``) and settings the same way, through
:func:`generator_metadata`, and :func:`load_generators` checks them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.chemistry import SmactValidity
from evodesign.datasets import load_dataset
from evodesign.exceptions import EvodesignError
from evodesign.representation import CompositionSpace, space_from_dict
from evodesign.surrogates import data_hash

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from operators import GenerativeModel

    from evodesign.representation import DesignSpace, KnownDesigns

__all__ = ["generator_metadata", "load_generators", "train_generators", "training_vectors"]


def training_vectors(
    known: KnownDesigns, space: CompositionSpace, strict_valid: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Fraction vectors of the known compositions a generator should learn from.

    Args:
        known: the data set's formulas that fit the space (a campaign's ``models.known``;
            :meth:`evodesign.representation.KnownDesigns.from_vectors` of a data set's vectors).
        space: the composition space they are designs of.
        strict_valid: keep only SMACT strict-valid compositions.

    Returns:
        ``(X, keep)``: `(n_kept, n_var)` fractions, in data order, and the `(len(known),)`
        mask of kept known designs (``known.rows[keep]`` are their data rows).
    """
    keep = np.ones(len(known), dtype=bool)
    if strict_valid:
        keep = np.asarray(SmactValidity(space.elements)(known.designs), dtype=bool)
    return known.vectors[keep], keep


def generator_metadata(
    space: DesignSpace, dataset: str, X: NDArray[np.float64], strict_valid: bool
) -> dict[str, Any]:
    """What a generator depends on; loaders can require any of these keys to match.

    ``kind`` is ``"<space kind>-generators"``; ``elements`` is recorded for a space with a
    vocabulary of elements (compositions)."""
    metadata: dict[str, Any] = {"kind": f"{space.kind}-generators"}
    if getattr(space, "elements", None) is not None:
        metadata["elements"] = list(space.elements)
    return {
        **metadata,
        "space": space.to_dict(),
        "dataset": dataset,
        "strict_valid": strict_valid,
        "data_hash": data_hash(X, np.zeros((len(X), 0))),
        "n_training": int(len(X)),
    }


def train_generators(
    dataset: str = "transport",
    out: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    max_elements: int = 4,
    max_atoms: int = 20,
    strict_valid: bool = True,
    vae_options: dict[str, Any] | None = None,
    gan_options: dict[str, Any] | None = None,
    max_rows: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> tuple[GenerativeModel, Path | None]:
    """Train the VAE + latent GAN on a data set's compositions and save them.

    Args:
        dataset: built-in data set name.
        out: save to ``OUT.safetensors`` + ``OUT.json`` (None: do not save).
        seed: drives the split, initialisation and training (numpy SeedSequence).
        max_elements / max_atoms: limits of the composition space.
        strict_valid: learn only from SMACT strict-valid compositions.
        vae_options / gan_options: passed to :func:`operators.fit_vae` / ``fit_latent_gan``.
        max_rows: use a random subset of the training rows (tests and smoke runs).
        progress: show progress bars.
        overwrite: replace an existing model at ``out``.

    Returns:
        The trained model and the path of its JSON sidecar (or None).
    """
    from evodesign.representation import KnownDesigns
    from operators import fit_generative_model, save_generative_model

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    data = load_dataset(dataset)
    space = CompositionSpace(data.elements, max_atoms=max_atoms, max_elements=max_elements)
    X, _ = training_vectors(KnownDesigns.from_vectors(space, space.to_vectors(data.compositions)), space, strict_valid)
    if max_rows is not None and max_rows < len(X):
        X = X[np.sort(rng.choice(len(X), size=max_rows, replace=False))]
    metadata = generator_metadata(space, dataset, X, strict_valid)
    model, _ = fit_generative_model(
        X,
        vae_options=vae_options,
        gan_options=gan_options,
        metadata=metadata,
        random_state=rng,
        progress=progress,
    )
    path = None
    if out is not None:
        path = save_generative_model(model, out, metadata=metadata, overwrite=overwrite)
    return model, path


def load_generators(path: str | os.PathLike, space: DesignSpace | None = None) -> GenerativeModel:
    """Load saved generators; with ``space`` given, they must have been trained for it (its
    kind, its settings, for compositions its vocabulary); without, composition generators.

    Raises:
        operators.ArtifactError: a file is missing or unreadable;
            ``operators.ArtifactMismatchError`` when it is corrupted (e.g. flipped bytes in
            the weights) or made for another space. Both derive from
            :class:`operators.exceptions.OperatorsError` and name the file and what to do.
    """
    from operators import ArtifactMismatchError, load_generative_model

    expect: dict[str, Any] = {"kind": f"{space.kind if space is not None else 'composition'}-generators"}
    if getattr(space, "elements", None) is not None:
        expect["elements"] = list(space.elements)
    model = load_generative_model(path, expect=expect)
    if space is not None:
        # compared as spaces, not as dicts: a sidecar written before ``to_dict`` named the
        # space's kind describes the same composition space and must still load
        stored = model.metadata.get("space")
        if not isinstance(stored, dict) or _space_or_none(stored) != space:
            raise ArtifactMismatchError(
                f"model {model.path} does not fit this use: space: model has {stored}, expected "
                f"{space.to_dict()}; train generators for this space (or delete the file to "
                "have a campaign retrain it)",
                ["space"],
                model.path,
            )
    return model


def _space_or_none(data: dict[str, Any]) -> Any:
    """The space a sidecar describes, or None when it names no valid space."""
    try:
        return space_from_dict(data)
    except (EvodesignError, KeyError, TypeError, ValueError):
        return None
