"""verify_run on a hand-built run folder with tiny budgets (one small composition, few
relaxation steps, one structure); each call starts one worker process."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("chgnet")
pytest.importorskip("pyxtal")

from pymatgen.core import Structure  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from evodesign.cli import app  # noqa: E402
from evodesign.structures import NEW_COLUMNS, VerifyError, verify_run  # noqa: E402

PARETO = (
    "formula,n_atoms,log10_PF_p,novel,nearest_known,operator,parents\n"
    "NaCl,2,1.5,True,KCl,LatentInterpolationCrossover,KCl;NaBr\n"
    "NaCl2,3,1.25,True,NaCl,GANMutation,NaCl\n"
    "Li4Ti5Bi3B4,16,1.0,True,Ti2ReB2,LatentInterpolationCrossover,LiCoB;Ti3Bi2(SO)3\n"
    "NaN,2,0.5,True,Na3N,GANMutation,\n"
)
# Fm-3m only, at most 8 atoms: NaCl fits (Z = 4), NaCl2 cannot be placed, and
# Li4Ti5Bi3B4 has more atoms than a cell may hold.
TINY = dict(n_structures=1, relax_steps=5, max_atoms=8, space_groups=(225,))


def _run_folder(path: Path, pareto: str = PARETO) -> Path:
    path.mkdir(parents=True)
    (path / "pareto.csv").write_text(pareto)
    (path / "manifest.json").write_text(json.dumps({"seed": 0, "seed_sequence": {"entropy": 0, "spawn_key": [0]}}))
    return path


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    run = _run_folder(tmp_path_factory.mktemp("verify") / "seed0")
    lines: list[str] = []
    table = verify_run(run, top=3, max_e_form=0.0, progress=lines.append, **TINY)
    return run, table, lines


def test_cif_is_written_and_parses_back_to_the_formula(verified):
    run, table, _ = verified
    row = table.set_index("formula").loc["NaCl"]
    assert row["verify_status"] == "ok"
    structure = Structure.from_file(run / "structures" / "NaCl.cif")
    assert structure.composition.reduced_formula == "NaCl"
    assert int(row["n_atoms_cell"]) == len(structure)
    assert row["spacegroup"]
    assert float(row["e_form_chgnet"]) < 0  # rock salt is far below Na + Cl even after 5 steps
    assert float(row["e_above_hull_chgnet"]) <= 0


def test_failures_are_rows_with_their_reason(verified):
    _, table, _ = verified
    rows = table.set_index("formula")
    assert rows.loc["NaCl2", "verify_status"] == "no_structure"
    assert "NaCl2" in rows.loc["NaCl2", "verify_reason"]
    assert rows.loc["Li4Ti5Bi3B4", "verify_status"] == "too_many_atoms"
    assert "16 atoms" in rows.loc["Li4Ti5Bi3B4", "verify_reason"]
    assert rows.loc["NaCl2", "e_form_chgnet"] == ""


def test_pareto_keeps_every_column_and_value(verified):
    run, _, _ = verified
    before = pd.read_csv(pd.io.common.StringIO(PARETO), dtype=str, keep_default_na=False)
    after = pd.read_csv(run / "pareto.csv", dtype=str, keep_default_na=False)
    assert list(after.columns[: len(before.columns)]) == list(before.columns)
    pd.testing.assert_frame_equal(after[before.columns], before)
    assert set(NEW_COLUMNS) | {"verify_pass"} <= set(after.columns)
    # the row below top = 3 is not verified; 'NaN' (sodium nitride) stays a formula
    assert after.loc[3, "formula"] == "NaN" and after.loc[3, "verify_status"] == ""


def test_screening_switch_writes_pass_column_and_filtered_front(verified):
    run, table, _ = verified
    assert list(table["verify_pass"]) == ["True", "False", "False", ""]
    screened = pd.read_csv(run / "pareto_verified.csv", dtype=str, keep_default_na=False)
    assert list(screened["formula"]) == ["NaCl"]


def test_rerun_skips_finished_compositions(verified):
    run, table, _ = verified
    cif = run / "structures" / "NaCl.cif"
    stamp = cif.stat().st_mtime_ns
    status = (run / "structures" / "verify_status.json").read_text()
    lines: list[str] = []
    again = verify_run(run, top=3, max_e_form=0.0, progress=lines.append, **TINY)
    assert lines == []  # no worker started, no composition or element redone
    assert cif.stat().st_mtime_ns == stamp
    assert (run / "structures" / "verify_status.json").read_text() == status
    pd.testing.assert_frame_equal(again, table)


def test_cli_verify_prints_the_table(verified):
    run, _, _ = verified
    result = CliRunner().invoke(app, ["verify", str(run), "--top", "1", "--n-structures", "1",
                                      "--relax-steps", "5", "--max-atoms", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "NaCl" in result.output and "verified" in result.output
    table = pd.read_csv(run / "pareto.csv", dtype=str, keep_default_na=False)
    assert table.loc[0, "verify_status"] == "ok"


def test_cli_verify_with_progress_lines(verified):
    # without --quiet the progress goes to the console (the CLI split once lost its printer)
    run, _, _ = verified
    result = CliRunner().invoke(app, ["verify", str(run), "--top", "1", "--n-structures", "1",
                                      "--relax-steps", "5", "--max-atoms", "8"])
    assert result.exit_code == 0, result.output
    assert "NaCl" in result.output and "wrote" in result.output


def test_timeout_gives_a_timed_out_row_not_a_hang(tmp_path):
    run = _run_folder(tmp_path / "seed0", "formula,n_atoms\nNaCl,2\n")
    table = verify_run(run, top=1, timeout_s=0.01, **TINY)
    assert table.loc[0, "verify_status"] == "timed_out"
    assert "0.01 s" in table.loc[0, "verify_reason"]
    assert not (run / "structures" / "NaCl.cif").exists()


def test_run_folder_problems_name_the_file(tmp_path):
    with pytest.raises(VerifyError, match="no manifest.json"):
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "pareto.csv").write_text("formula\nNaCl\n")
        verify_run(tmp_path / "a", top=1)
    run = _run_folder(tmp_path / "b", "formula\nNaCl\nXx2\n")
    with pytest.raises(VerifyError, match=r"pareto.csv, line 3, column 'formula': 'Xx2'"):
        verify_run(run, top=1)
    run = _run_folder(tmp_path / "c", "name\nNaCl\n")
    with pytest.raises(VerifyError, match="no 'formula' column"):
        verify_run(run, top=1)
