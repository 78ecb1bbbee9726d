"""``evodesign check CONFIG``: validate a campaign and its data without running anything."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from evodesign.campaign import CampaignConfig
from evodesign.cli import app

runner = CliRunner()

CSV = """\
formula,band_gap
Fe2O3,2.0
NaCl,5.0
MgO,7.0
CuO,1.2
ZnS,3.6
Bi2Te3,0.2
"""

CONFIG = """\
[campaign]
name = "demo"
dataset = "data.csv"

[space]
{space}
[[objectives]]
name = "band_gap"
direction = "max"
"""


def write(tmp_path: Path, space: str = "max_atoms = 12\n") -> Path:
    (tmp_path / "data.csv").write_text(CSV, encoding="utf-8")
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(space=space), encoding="utf-8")
    return path


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_good_config_prints_its_resolved_settings_as_toml_and_writes_nothing(tmp_path, monkeypatch) -> None:
    path = write(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    before = files(tmp_path)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f'# {path}: a valid campaign, \'demo\'; [space] kind = "composition"; data set')
    assert "6 designs, targets band_gap" in lines[0]
    # the output is the resolved config: every table with its defaults, readable as TOML
    resolved = tomllib.loads(result.stdout)
    config = CampaignConfig.from_toml(path)
    assert resolved == config.to_toml_dict()
    assert resolved["space"] == {"kind": "composition", "max_elements": 4, "max_atoms": 12, "min_elements": 2,
                                 "deny": [], "allow": []}
    assert set(resolved) == set(CampaignConfig.model_fields)
    assert files(tmp_path) == before  # nothing written: no run folder, no model cache


def test_an_unknown_space_kind_exits_2_naming_file_line_and_valid_kinds(tmp_path) -> None:
    path = write(tmp_path, 'kind = "microstructure-typo"\n')
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: invalid campaign config {path} (1 problem):"
    assert lines[1].startswith("  [space].kind (line 6): got 'microstructure-typo': unknown space kind")
    assert "valid kinds: " in lines[1] and "'composition'" in lines[1]
    assert "Traceback" not in result.output


def test_a_bad_key_exits_2_with_the_valid_keys(tmp_path) -> None:
    path = write(tmp_path, "max_atom = 12\n")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    line = next(t for t in result.stderr.splitlines() if "max_atom" in t)
    assert line.startswith("  [space].max_atom (line 6): unknown key 'max_atom' in [space] (did you mean 'max_atoms'?)")
    assert "valid keys: kind, max_elements, max_atoms, min_elements, deny, allow" in line


def test_the_data_checks_of_run_apply(tmp_path) -> None:
    path = write(tmp_path, 'allow = ["Fe", "Xe"]\n')
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert "[space].allow (line 6): 'Xe' not in data set 'data.csv'" in result.stderr
    (tmp_path / "data.csv").unlink()
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and "data set file" in result.stderr and "not found" in result.stderr
