"""``evodesign report``: fits an 80-column terminal, units in the headers, chemical systems,
the best designs per objective. The run folder is written by hand (no training)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evodesign.campaign import CampaignConfig
from evodesign.cli import app

FORMULAS = [
    "GaP", "InP", "ZnS", "CdTe", "CuInS2", "Cu2ZnSnS4", "AgGaSe2", "ZnSe", "GaAs", "AlP",
    "SnS", "Sb2Se3", "FeS2", "Cu2O", "BiVO4", "CuGaS2", "ZnO", "TiO2", "SiC", "BN",
]


THERMO = [
    {"name": "log10_PF_p", "direction": "max"},
    {"name": "S_p", "direction": "max"},
    {"name": "hhi_production", "direction": "min"},
]


def _run_folder(root: Path, description: str | None, thermo: bool = False) -> Path:
    """A finished run folder: a band-gap window campaign, or the thermoelectric objectives."""
    rng = np.random.default_rng(0)
    data = root / "data.csv"
    pd.DataFrame({
        "formula": FORMULAS, "band_gap": rng.uniform(0.5, 3.5, len(FORMULAS)),
        "log10_PF_p": rng.normal(0.5, 0.5, len(FORMULAS)), "S_p": rng.normal(300, 150, len(FORMULAS)),
    }).to_csv(data, index=False)
    campaign = {"name": "absorbers", "dataset": str(data)}
    if description:
        campaign["description"] = description
    objectives = THERMO if thermo else [
        {"name": "band_gap", "target": [1.1, 1.7]},
        {"name": "hhi_production", "direction": "min"},
    ]
    config = CampaignConfig.from_dict({"campaign": campaign, "objectives": objectives})
    run = root / "runs" / "output" / "absorbers" / "a-rather-long-run-folder-name-seed0"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(config.to_toml())
    designs = ["Cu2ZnSnS4", "CuInSe2", "Cu3SbS4", "Zn3P2", "Cu2SnS3", "CuSbS2", "FeSi2", "BaSi2",
               "Cu2ZnGeSe4", "AgBiS2", "Sb2S3", "Cu4Bi4S9", "LiZnP", "NaSbS2", "MgSiP2", "ZnSnN2"]
    n = len(designs)
    pd.DataFrame({
        "formula": designs,
        "n_elements": [3] * n, "n_atoms": [8] * n,
        "band_gap": rng.uniform(0.9, 1.9, n), "band_gap_std": rng.uniform(0.05, 0.3, n),
        "hhi_production": rng.uniform(800, 6000, n),
        "log10_PF_p": rng.normal(1.0, 0.6, n), "log10_PF_p_std": rng.uniform(0.1, 1.0, n),
        "S_p": rng.normal(-50, 300, n), "S_p_std": rng.uniform(5, 150, n),
        "g_charge_balance": [-1.0] * n, "novel": [True] * n,
        "nearest_known": rng.choice(FORMULAS, n), "nearest_distance": rng.uniform(0.1, 0.6, n),
        "operator": ["sbx+pm"] * n, "parents": ["GaP;InP"] * n,
    }).to_csv(run / "pareto.csv", index=False)
    pd.DataFrame({"gen": [1, 2], "n_eval": [40, 80], "hypervolume": [0.3, 0.4], "n_nondominated": [10, 16],
                  "feasible_fraction": [0.5, 0.6], "failures": [0, 0], "seconds": [0.1, 0.1]}).to_csv(run / "history.csv", index=False)
    (run / "manifest.json").write_text(json.dumps({"campaign": "absorbers", "kind": "run", "seed": 0, "status": "finished"}))
    return run


def _report(run: Path, *args: str, columns: int = 80) -> str:
    result = CliRunner().invoke(app, ["report", str(run), *args], env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def _first_table_rows(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("───")) + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return lines[start:end]


@pytest.mark.parametrize("columns", [80, 200])
def test_thermoelectric_report_fits_without_wrapped_cells(tmp_path: Path, columns: int) -> None:
    run = _run_folder(tmp_path, "p-type thermoelectrics: high power factor and Seebeck coefficient, low supply risk", thermo=True)
    text = _report(run, "--no-plots", columns=columns)
    assert max(len(line) for line in text.splitlines()) <= columns
    rows = _first_table_rows(text)
    assert len(rows) == 15 and all(re.match(r"^\s*\d+\s+[A-Z]", row) for row in rows), "\n".join(rows)
    assert all(row.count(" ± ") == 2 for row in rows)  # two surrogate objectives, not wrapped
    for header in ("log10 PF_p", "µW/(cm K² s)", "µV/K", "HHI prod."):
        assert header in text
    assert ("operator" in text) == (columns > 80)  # optional columns only where they fit


@pytest.mark.parametrize("columns", [80, 120])
def test_report_fits_the_terminal(tmp_path: Path, columns: int) -> None:
    run = _run_folder(tmp_path, "absorbers: band gap in [1.1, 1.7] eV from low-supply-risk elements")
    text = _report(run, "--no-plots", columns=columns)
    too_long = [line for line in text.splitlines() if len(line) > columns]
    assert not too_long, "\n".join(too_long)
    assert text.splitlines()[0] == "absorbers: band gap in [1.1, 1.7] eV from low-supply-risk elements"
    assert "16 designs on the front (first 15; mean ± std)" in text
    assert "eV" in text and "target 1.1–1.7" in text  # unit and window in the header
    assert "15 chemical systems on the front (16 designs)" in text  # CuSbS2, Cu3SbS4: one
    assert "best 5 by band_gap (closest to 1.1–1.7 eV)" in text
    assert "best 5 by hhi_production (lowest)" in text
    assert " ± " in text


def test_report_counts_chemical_systems_and_hard_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run_folder(tmp_path, None)
    frame = pd.read_csv(run / "pareto.csv")
    frame.loc[:4, "formula"] = ["CuInS2", "Cu2In2S5", "CuIn5S8", "CuInS2", "CuIn3S5"]  # one Cu-In-S system
    frame.to_csv(run / "pareto.csv", index=False)
    import evodesign.campaign.plots as plots

    monkeypatch.setattr(plots, "config_ranges", lambda config: {"band_gap": (1.0, 1.8)})
    text = _report(run, "--no-plots")
    assert text.splitlines()[0] == "absorbers"  # no description: the campaign's name
    assert "12 chemical systems on the front (16 designs)" in text
    assert re.search(r"Cu-In-S\s+5\s+31%", text)
    frame["chemical_system"] = ["Cu-In-S"] * 5 + [f"X{i}" for i in range(11)]
    pd.concat([frame, frame.iloc[:4]]).to_csv(run / "pareto_all.csv", index=False)
    text = _report(run, "--no-plots")
    assert "the whole feasible front: 20 designs (pareto_all.csv) in 12 chemical systems; pareto.csv reports 16" in " ".join(text.split())
    inside = int(((frame["band_gap"] >= 1.0) & (frame["band_gap"] <= 1.8)).sum())
    assert f"hard window band_gap 1–1.8 eV: {inside}/16 front designs predicted inside" in text


def test_report_redraws_titled_plots(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, "absorbers")
    text = _report(run)
    assert "drew" in text
    for name in ("pareto.png", "convergence.png"):
        assert (run / name).stat().st_size > 0
