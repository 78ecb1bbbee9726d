"""Candidate crystal structures for a composition: pyxtal random symmetric crystals.

A composition such as ``NaCl`` has no structure yet. pyxtal places its atoms on the
Wyckoff positions of a space group with random free parameters, so a handful of draws
over plausible space groups and formula units per cell (Z) gives candidates that a
relaxation can improve. Elements get the same random draws plus the simple prototypes
(fcc, bcc, hcp, ase's reference state, a dimer for diatomic elements), so that formation
energies compare structures found the same way.

Everything random is drawn from one ``numpy.random.Generator``: the same generator state
gives the same candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from evodesign.exceptions import EvodesignError

if TYPE_CHECKING:
    from pymatgen.core import Composition, Structure

__all__ = [
    "COMMON_SPACE_GROUPS",
    "Candidate",
    "NoStructureError",
    "TooManyAtomsError",
    "candidate_structures",
    "element_candidates",
]

#: Space groups most frequent among inorganic crystals (ICSD counts, highest first), tried
#: for every composition; P-1 and P1 close the list so that almost any stoichiometry fits.
COMMON_SPACE_GROUPS: tuple[int, ...] = (
    62, 14, 225, 194, 12, 139, 227, 2, 15, 221, 166, 63, 191, 216, 71, 129, 123, 164,
    141, 189, 187, 186, 65, 11, 229, 223, 136, 140, 148, 1,
)

#: Elements whose ground state is a molecular solid of dimers, with their bond lengths
#: (Angstrom) to start the dimer from: too short a start and CHGNet fuses the pair.
BOND_LENGTHS = {"H": 0.74, "N": 1.10, "O": 1.21, "F": 1.42, "Cl": 1.99, "Br": 2.28, "I": 2.67}
DIATOMIC = frozenset(BOND_LENGTHS)


class NoStructureError(EvodesignError, ValueError):
    """pyxtal could not place the composition in any of the space groups tried."""


class TooManyAtomsError(EvodesignError, ValueError):
    """The formula unit alone has more atoms than the cell may hold."""


@dataclass(frozen=True)
class Candidate:
    """One unrelaxed structure.

    Attributes:
        structure: the pymatgen Structure.
        space_group: the space group it was drawn in (number), 0 for a prototype.
        origin: how it was made, e.g. ``"pyxtal Fm-3m Z=4"`` or ``"fcc"``.
    """

    structure: Structure
    space_group: int
    origin: str


@lru_cache(maxsize=None)
def _group(number: int):  # noqa: ANN202 - pyxtal's Group
    from pyxtal.symmetry import Group

    return Group(number)


def _placements(
    counts: tuple[int, ...], max_atoms: int, space_groups: tuple[int, ...]
) -> list[tuple[int, int]]:
    """Every (space group, Z) where Z formula units of ``counts`` fit the Wyckoff sets."""
    n_unit = sum(counts)
    pairs = []
    for z in range(1, max_atoms // n_unit + 1):
        ions = [c * z for c in counts]
        for sg in space_groups:
            compatible, _ = _group(sg).check_compatible(ions)
            if compatible:
                pairs.append((sg, z))
    return pairs


def candidate_structures(
    composition: Composition,
    n_structures: int,
    max_atoms: int,
    random_state: np.random.Generator,
    space_groups: tuple[int, ...] = COMMON_SPACE_GROUPS,
    max_tries: int | None = None,
) -> list[Candidate]:
    """Random symmetric crystals of ``composition`` from pyxtal.

    The (space group, Z) pairs whose Wyckoff positions can hold Z formula units with at
    most ``max_atoms`` atoms in the conventional cell are shuffled, and pyxtal is asked for
    one crystal from each until ``n_structures`` are found or ``max_tries`` pairs were
    tried.

    Args:
        composition: the formula; its reduced formula unit is the unit of Z.
        n_structures: candidates wanted.
        max_atoms: most atoms per cell.
        random_state: the only source of randomness.
        space_groups: space-group numbers to try.
        max_tries: pyxtal calls at most (default ``4 * n_structures``).

    Returns:
        Between 1 and ``n_structures`` candidates.

    Raises:
        TooManyAtomsError: the reduced formula has more than ``max_atoms`` atoms.
        NoStructureError: no space group of ``space_groups`` fits, or pyxtal failed for
            every pair tried.
    """
    from pyxtal import pyxtal

    reduced, _ = composition.get_reduced_composition_and_factor()
    symbols = [el.symbol for el in reduced.elements]
    counts = tuple(int(round(reduced[s])) for s in symbols)
    formula = reduced.reduced_formula
    if sum(counts) > max_atoms:
        raise TooManyAtomsError(
            f"{formula} has {sum(counts)} atoms per formula unit, more than max_atoms = "
            f"{max_atoms}"
        )
    pairs = _placements(counts, max_atoms, tuple(space_groups))
    if not pairs:
        raise NoStructureError(
            f"pyxtal cannot place {formula} with <= {max_atoms} atoms in any of the "
            f"{len(space_groups)} space groups tried ({', '.join(map(str, space_groups[:8]))}"
            f"{', ...' if len(space_groups) > 8 else ''})"
        )
    order = random_state.permutation(len(pairs))
    max_tries = 4 * n_structures if max_tries is None else max_tries
    found: list[Candidate] = []
    errors: list[str] = []
    for i in order[:max_tries]:
        sg, z = pairs[i]
        crystal = pyxtal()
        try:
            crystal.from_random(
                3, sg, symbols, [c * z for c in counts],
                random_state=int(random_state.integers(2**31 - 1)),
            )
        except Exception as err:  # pyxtal raises its own and plain exceptions
            errors.append(f"{sg}/Z={z}: {type(err).__name__}")
            continue
        if not crystal.valid:
            errors.append(f"{sg}/Z={z}: invalid")
            continue
        structure = crystal.to_pymatgen()
        found.append(Candidate(structure, sg, f"pyxtal {_group(sg).symbol} Z={z}"))
        if len(found) == n_structures:
            break
    if not found:
        raise NoStructureError(
            f"pyxtal failed to build {formula} in all {min(len(pairs), max_tries)} "
            f"(space group, Z) pairs tried: {'; '.join(errors[:5])}"
        )
    return found


def element_candidates(
    symbol: str, n_structures: int, random_state: np.random.Generator
) -> list[Candidate]:
    """Candidates for an elemental reference: prototypes plus pyxtal random crystals.

    Args:
        symbol: the element.
        n_structures: pyxtal crystals to add (of up to 8 atoms).
        random_state: the only source of randomness.

    Returns:
        ase's reference-state crystal where ase has one, fcc, bcc and hcp cells scaled
        from the metallic radius (metals only) and the random crystals; for diatomic
        elements (H, N, O, F, Cl, Br, I) only a dimer in a 6 Angstrom box.
    """
    from ase.build import bulk
    from pymatgen.core import Composition, Element, Lattice, Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    element = Element(symbol)
    found: list[Candidate] = []
    try:
        found.append(Candidate(AseAtomsAdaptor.get_structure(bulk(symbol)), 0, "ase reference"))
    except Exception:  # ase has no reference crystal it can build for this element
        pass
    if element.is_metal:
        # Close packings only for metals: a nonmetal squeezed into fcc at its covalent
        # radius collapses, and the relaxation crawls through a dense neighbour graph.
        radius = float(element.metallic_radius or element.atomic_radius or 1.5)
        a_fcc, a_bcc = 2 * math.sqrt(2) * radius, 4 * radius / math.sqrt(3)
        found.append(Candidate(Structure(Lattice.cubic(a_fcc), [symbol] * 4,
                                         [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]), 0, "fcc"))
        found.append(Candidate(Structure(Lattice.cubic(a_bcc), [symbol] * 2,
                                         [[0, 0, 0], [0.5, 0.5, 0.5]]), 0, "bcc"))
        found.append(Candidate(Structure(Lattice.hexagonal(2 * radius, 2 * radius * 1.633), [symbol] * 2,
                                         [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]), 0, "hcp"))
    if symbol in DIATOMIC:
        # The molecule is the reference, as in a molecular solid: random dense cells of
        # O or N only cost time (measured: minutes per relaxation under load).
        d = BOND_LENGTHS[symbol]
        box = 6.0
        found.append(Candidate(Structure(Lattice.cubic(box), [symbol] * 2,
                                         [[0, 0, 0], [d / box, 0, 0]]), 0, "dimer"))
        return found
    try:
        found.extend(
            candidate_structures(Composition(symbol), n_structures, 8, random_state)
        )
    except NoStructureError:
        pass
    return found
