from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyxtal")

from pymatgen.core import Composition  # noqa: E402

from evodesign.structures.generation import (  # noqa: E402
    NoStructureError,
    TooManyAtomsError,
    candidate_structures,
    element_candidates,
)


def _fingerprint(candidates):
    return [(c.origin, np.round(c.structure.frac_coords, 6).tolist()) for c in candidates]


def test_candidates_have_the_composition_and_follow_the_seed():
    a = candidate_structures(Composition("NaCl"), 2, 8, np.random.default_rng(1))
    b = candidate_structures(Composition("NaCl"), 2, 8, np.random.default_rng(1))
    c = candidate_structures(Composition("NaCl"), 2, 8, np.random.default_rng(2))
    assert 1 <= len(a) <= 2
    for candidate in a:
        assert candidate.structure.composition.reduced_formula == "NaCl"
        assert len(candidate.structure) <= 8
    assert _fingerprint(a) == _fingerprint(b)
    assert _fingerprint(a) != _fingerprint(c)


def test_too_many_atoms_and_unplaceable_compositions_are_refused_by_name():
    with pytest.raises(TooManyAtomsError, match="Li4Ti5Bi3B4 has 16 atoms"):
        candidate_structures(Composition("Li4Ti5Bi3B4"), 1, 8, np.random.default_rng(0))
    # Fm-3m's smallest orbit holds 4 atoms: NaCl2 needs Z = 4 (12 atoms) to fit.
    with pytest.raises(NoStructureError, match="NaCl2"):
        candidate_structures(Composition("NaCl2"), 1, 8, np.random.default_rng(0), space_groups=(225,))
    assert candidate_structures(Composition("NaCl2"), 1, 12, np.random.default_rng(0), space_groups=(225,))


def test_element_candidates_close_packings_for_metals_dimer_for_chlorine():
    sodium = [c.origin for c in element_candidates("Na", 1, np.random.default_rng(0))]
    assert {"fcc", "bcc", "hcp"} <= set(sodium)
    chlorine = [c.origin for c in element_candidates("Cl", 1, np.random.default_rng(0))]
    assert chlorine == ["dimer"]
    assert any(o.startswith("pyxtal") for o in sodium)
