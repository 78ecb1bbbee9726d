"""``evodesign loop`` from the command line: a lab round trip, a bad file refused by line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tomli_w
from typer.testing import CliRunner

from evodesign.cli import app
from evodesign.physics import effective_conductivity

runner = CliRunner()


def _write_config(tmp_path) -> str:
    config = {
        "campaign": {"name": "cli-loop", "dataset": "microstructures", "seed": 0},
        "data": {"n_images": 60},
        "space": {"kind": "microstructure", "size": 16, "min_feature": 2},
        "physics": {"conductivity": [1.0, 10.0]},
        "surrogate": {"model": "cnn", "n_members": 2, "channels": [4, 8], "max_epochs": 2, "max_rows": 40},
        "objectives": [{"name": "k_xx", "direction": "max"}, {"name": "volume_fraction", "direction": "min"}],
        "search": {"pop_size": 12, "n_gen": 2, "operators": "classical", "sampling": "known"},
        "loop": {"rounds": 2, "batch": 3, "update_epochs": 1},
    }
    path = tmp_path / "loop.toml"
    path.write_text(tomli_w.dumps(config))
    return str(path)


def test_lab_round_trip_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    config, root = _write_config(tmp_path), tmp_path / "loop"
    args = ["loop", config, "--evaluator", "lab", "--out", str(root), "--quiet"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "round-001" in first.output and "measured.csv" in first.output and "--resume" in first.output
    request = pd.read_csv(root / "round-001" / "to_measure.csv", dtype={"id": str})
    with np.load(root / "round-001" / "designs.npz") as saved:
        k = effective_conductivity(saved["images"], (1.0, 10.0))
    # a measurement for an id that was never asked for: refused, the line named
    bad = "id,k_xx\n" + "".join(f"{i},{v}\n" for i, v in zip(request["id"], k[:, 0])) + "r009-001,3.0\n"
    (root / "round-001" / "measured.csv").write_text(bad)
    refused = runner.invoke(app, [*args, "--resume"])
    assert refused.exit_code == 2, refused.output
    assert "line 5" in refused.output and "r009-001" in refused.output
    # the lab's script writes the measurements; resume proposes round 2
    good = "id,k_xx\n" + "".join(f"{i},{v}\n" for i, v in zip(request["id"], k[:, 0]))
    (root / "round-001" / "measured.csv").write_text(good)
    second = runner.invoke(app, [*args, "--resume"])
    assert second.exit_code == 0, second.output
    assert "round-002" in second.output and (root / "round-002" / "to_measure.csv").is_file()
    rounds = pd.read_csv(root / "rounds.csv")
    assert rounds["round"].tolist() == [1] and rounds["n_measured"].tolist() == [3]


def test_solver_evaluator_needs_a_microstructure_campaign(tmp_path):
    result = runner.invoke(app, ["loop", "runs/thermoelectric.toml", "--evaluator", "solver", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "solver computes k_xx and k_yy of microstructures" in result.output
