from __future__ import annotations

import pytest

pytest.importorskip("pyxtal")

from pymatgen.core import Composition  # noqa: E402
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer  # noqa: E402

from evodesign.benchmarks.report import _verify_section  # noqa: E402
from evodesign.structures.calibration import PROTOTYPES, _summary, prototype_structure  # noqa: E402

SPACE_GROUPS = {
    "rocksalt": "Fm-3m", "zincblende": "F-43m", "wurtzite": "P6_3mc", "fluorite": "Fm-3m",
    "antifluorite": "Fm-3m", "perovskite": "Pm-3m", "cesiumchloride": "Pm-3m",
}


@pytest.mark.parametrize("formula", list(PROTOTYPES))
def test_prototypes_have_the_formula_and_the_space_group(formula):
    structure = prototype_structure(formula)
    assert structure.composition.reduced_formula == Composition(formula).reduced_formula
    assert SpacegroupAnalyzer(structure).get_space_group_symbol() == SPACE_GROUPS[PROTOTYPES[formula][0]]


def test_summary_and_report_section():
    rows = [
        {"formula": "NaCl", "prototype": "rocksalt", "status": "ok", "spacegroup_found": "Fm-3m",
         "e_form_chgnet": -2.1, "delta": 0.0},
        {"formula": "KCl", "prototype": "rocksalt", "status": "ok", "spacegroup_found": "P1",
         "e_form_chgnet": 0.1, "delta": 0.3},
        {"formula": "LiF", "prototype": "rocksalt", "status": "timed_out", "spacegroup_found": "",
         "e_form_chgnet": None, "delta": None},
    ]
    summary = _summary(rows)
    assert summary["n_ok"] == 2 and summary["n_e_form_negative"] == 1
    assert summary["fraction_within_0.05"] == 0.5
    record = {
        "compounds": rows, "summary": summary,
        "settings": {"space_groups": [225], "n_structures": 3, "relax_steps": 50, "max_atoms": 24, "n_jobs": 2},
        "timings": {"verify_s": 10.0, "prototype_s": 1.0}, "machine": {"load_1min_at_start": 1.0, "cpu_count": 2},
    }
    text = "\n".join(_verify_section(record))
    assert "E_form < 0: 1/2 (50%)" in text
    assert "| LiF | rocksalt | timed_out |  |  |" in text
