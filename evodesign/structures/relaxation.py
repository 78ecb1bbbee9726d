"""CHGNet energies and relaxations, on one torch thread.

CHGNet 0.4.2's pretrained universal potential ships inside its wheel, so nothing is
downloaded. Energies are CHGNet's (trained on Materials Project GGA/GGA+U energies, with
no MP2020 anion or U corrections applied), in eV per atom.

Torch is capped at one thread: on a shared 2-core machine two threads were measured 20x
slower, and parallelism comes from running compositions in separate processes.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["Relaxed", "load_chgnet", "predict_energies", "relax"]

_MODEL: Any = None

#: Closest two atoms may come after a relaxation; closer means the potential was driven
#: outside the physics it learned, and the energy is not trusted.
MIN_DISTANCE = 0.6


@dataclass(frozen=True)
class Relaxed:
    """A relaxed structure.

    Attributes:
        structure: the final structure.
        energy_per_atom: CHGNet energy, eV/atom.
        steps: optimiser steps taken.
    """

    structure: Structure
    energy_per_atom: float
    steps: int


def load_chgnet() -> Any:
    """The pretrained CHGNet model of this process (loaded once), torch on one thread."""
    global _MODEL
    if _MODEL is None:
        import torch

        torch.set_num_threads(1)
        from chgnet.model import CHGNet

        with contextlib.redirect_stdout(io.StringIO()):
            _MODEL = CHGNet.load(verbose=False)
    return _MODEL


def predict_energies(structures: list[Structure], batch_size: int = 16) -> np.ndarray:
    """Single-point CHGNet energies of ``structures``, batched.

    Returns:
        `(n,)` energies in eV/atom.
    """
    model = load_chgnet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.predict_structure(structures, task="e", batch_size=batch_size)
    if isinstance(out, dict):
        out = [out]
    return np.array([float(np.ravel(o["e"])[0]) for o in out])


def relax(structure: Structure, steps: int, fmax: float = 0.1) -> Relaxed:
    """Relax positions and cell with CHGNet (FIRE, FrechetCellFilter).

    Args:
        structure: the starting structure.
        steps: most optimiser steps.
        fmax: force convergence, eV/Angstrom.

    Returns:
        The final structure and its energy per atom.

    Raises:
        ValueError: atoms closer than :data:`MIN_DISTANCE` after relaxing, or a
            non-finite energy.
    """
    from chgnet.model import StructOptimizer

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        optimizer = StructOptimizer(model=load_chgnet(), optimizer_class="FIRE")
        result = optimizer.relax(structure, fmax=fmax, steps=steps, relax_cell=True, verbose=False)
    final = result["final_structure"]
    energies = result["trajectory"].energies
    energy = float(energies[-1]) / len(final)
    if not np.isfinite(energy):
        raise ValueError(f"non-finite CHGNet energy for {final.composition.reduced_formula}")
    if len(final) > 1:
        distances = final.distance_matrix[np.triu_indices(len(final), k=1)]
        if distances.min() < MIN_DISTANCE:
            raise ValueError(
                f"atoms {distances.min():.2f} A apart after relaxing "
                f"{final.composition.reduced_formula}"
            )
    return Relaxed(final, energy, len(energies))
