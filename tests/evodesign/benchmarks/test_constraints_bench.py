"""``evodesign bench constraints``: rejected known compounds per rule, on a made-up CSV."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from evodesign.benchmarks.constraints import format_constraints_table, run_constraints_benchmark
from evodesign.cli import app

ROWS = {  # formula: S_p (uV/K)
    "S": 300.0,           # one element, only non-metals
    "CO2": 250.0,         # only non-metals
    "NaCl": 400.0,        # passes every rule
    "Na2S": 50.0,         # S_p below 100
    "KNaMgCaO3": 200.0,   # 5 elements
    "Na12Cl12O": 150.0,   # 25 atoms
    "Fe2O3": 500.0,       # passes every rule
    "ZnF3": 200.0,        # balances only with Zn+3, a state below 0.5% of zinc's ICSD reports
}


def _config(tmp_path) -> str:
    pd.DataFrame({"formula": list(ROWS), "S_p": list(ROWS.values())}).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "c.toml").write_text(
        '[campaign]\nname = "b"\ndataset = "d.csv"\n\n[space]\nmax_elements = 4\nmax_atoms = 20\n\n'
        '[[objectives]]\nname = "S_p"\ndirection = "max"\n\n[constraints]\noxidation_state_min_share = 0.5\n\n'
        '[constraints.ranges]\nS_p = [100, inf]\n',
        encoding="utf-8",
    )
    return str(tmp_path / "c.toml")


def test_counts_per_rule(tmp_path):
    result = run_constraints_benchmark(_config(tmp_path))
    rows = {r["rule"]: r for r in result["rules"]}
    assert list(rows) == [
        "min_elements", "max_elements", "max_atoms", "not_only_nonmetals", "range_S_p", "charge_balance",
        "charge_balance_all_states",
    ]
    assert result["n_known"] == len(ROWS)
    assert rows["min_elements"]["examples"] == ["S"]
    assert rows["max_elements"]["examples"] == ["KNaCaMgO3"]
    assert rows["max_atoms"]["examples"] == ["Na12Cl12O"]
    assert rows["not_only_nonmetals"]["examples"] == ["CO2", "S"]  # compounds first
    assert rows["range_S_p"]["examples"] == ["Na2S"]
    assert rows["range_S_p"]["percent"] == round(100 / len(ROWS), 2)
    assert rows["charge_balance"]["examples"] == ["ZnF3", "Na12Cl12O"]
    assert rows["charge_balance_all_states"]["examples"] == ["Na12Cl12O"]  # ZnF3 balances with Zn+3
    assert result["any"]["n_rejected"] == 6  # all but NaCl and Fe2O3; the comparison row is not counted
    assert "S_p in [100, inf) µV/K" in rows["range_S_p"]["description"]
    assert format_constraints_table(result).row_count == 8


def test_cli_writes_json(tmp_path):
    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["bench", "constraints", "--config", _config(tmp_path), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "not_only_nonmetals" in res.output
    assert json.loads(out.read_text())["any"]["n_rejected"] == 6
