"""docs/config.md is generated from the campaign schema and must not drift from it."""

from __future__ import annotations

from typing import Literal

import subprocess
import sys
from pathlib import Path

from evodesign.campaign.config import CampaignConfig
from evodesign.campaign.config_reference import config_reference, key_rows, space_settings_models, undocumented_keys

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "config.md"


def test_committed_reference_is_current() -> None:
    expected = config_reference()
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/config.md is stale: regenerate it with "
        "`python -m evodesign.campaign.config_reference > docs/config.md`"
    )


def test_every_table_and_key_is_listed() -> None:
    text = config_reference()
    rows = {(r["table"], r["key"]) for r in key_rows()}
    tables = []  # (heading, model), [space] once per shipped kind
    for table in CampaignConfig.model_fields:
        if table == "space":
            kinds = space_settings_models()
            assert list(kinds)[0] == "composition" and kinds["composition"] is CampaignConfig._TABLES["space"]
            tables += [("[space]" if k == "composition" else f'[space] kind = "{k}"', m) for k, m in kinds.items()]
        else:
            heading = f"[[{table}]]" if table == "objectives" else f"[{table}]"
            tables.append((heading, CampaignConfig._TABLES[table]))
    for heading, model in tables:
        assert f"## `{heading}`" in text
        for key in model.model_fields:
            assert (heading, key) in rows
    assert len(rows) == sum(len(m.model_fields) for _, m in tables)


def test_a_kind_registered_outside_evodesign_stays_out_of_the_reference() -> None:
    from pydantic import BaseModel, ConfigDict

    from evodesign.representation import registry

    class ToySettings(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        kind: Literal["toy-reference"] = "toy-reference"

    registry.space_settings.register("toy-reference", "toy-reference", ToySettings)
    try:
        assert "toy-reference" not in space_settings_models()
        assert "toy-reference" not in config_reference()
    finally:
        registry.space_settings.unregister("toy-reference", "toy-reference")


def test_every_key_is_documented_in_the_schema() -> None:
    assert undocumented_keys() == [], "add the key to its table's Attributes: docstring"


def test_rows_carry_types_defaults_and_bounds() -> None:
    rows = {(r["table"], r["key"]): r for r in key_rows()}
    pop = rows[("[search]", "pop_size")]
    assert (pop["type"], pop["default"]) == ("integer", "`200`")
    assert pop["allowed"].startswith(">= 4") or pop["allowed"].startswith("4 to ")
    assert rows[("[space]", "max_elements")]["allowed"] == "1 to 8"
    assert rows[("[surrogate]", "dropout")]["allowed"] == ">= 0, < 1"
    assert "each >= 1" in rows[("[surrogate]", "hidden")]["allowed"] or "each 1 to" in rows[
        ("[surrogate]", "hidden")]["allowed"]
    assert rows[("[surrogate]", "architecture")]["allowed"] == '`"mlp"` / `"residual"`'
    assert rows[("[[objectives]]", "target")]["type"] == "[number, number]"
    assert rows[("[[objectives]]", "name")]["default"] == "required"
    assert rows[("[constraints]", "max_std")]["type"] == "string or table {string = number}"
    assert rows[("[campaign]", "formula_column")]["default"] == "unset"
    assert "`" in rows[("[campaign]", "dataset")]["description"]  # rST ``x`` -> Markdown `x`
    assert "``" not in config_reference().split("\n## ", 1)[1]


def test_module_prints_the_reference() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "evodesign.campaign.config_reference"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    assert out == config_reference()


def test_thermoelectric_toml_lists_every_key() -> None:
    """The commented default campaign shows every key, set or as a commented-out line."""
    import re

    text = (ROOT / "runs" / "thermoelectric.toml").read_text(encoding="utf-8")
    # another space kind's [space] keys are listed by that kind's own campaign file
    other_kind = re.compile(r'^\[space\] kind = "(?!composition")')
    missing = [
        f"{row['table']}.{row['key']}"
        for row in key_rows()
        if not other_kind.match(row["table"])
        and not re.search(rf"^(# )?{re.escape(row['key'])} =", text, re.M)
    ]
    assert missing == [], "add these keys (or commented-out examples) to runs/thermoelectric.toml"
    assert "docs/config.md" in text


def test_microstructure_toml_lists_every_key_of_its_space() -> None:
    import re

    text = (ROOT / "runs" / "microstructure.toml").read_text(encoding="utf-8")
    rows = [row for row in key_rows() if row["table"] == '[space] kind = "microstructure"']
    assert rows, "the microstructure [space] keys are in the reference"
    missing = [row["key"] for row in rows if not re.search(rf"^(# )?{re.escape(row['key'])} =", text, re.M)]
    assert missing == [], "add these [space] keys to runs/microstructure.toml"


def test_bring_your_own_data_example_validates_and_its_csv_loads() -> None:
    from evodesign.campaign.models import resolve_dataset

    path = ROOT / "runs" / "my_data.toml"
    config = CampaignConfig.from_toml(path)
    band_gap = config.objective("band_gap")
    assert band_gap.target == (1.1, 1.7) and band_gap.direction == "min"
    assert "hhi_production" in config.analytic_objectives
    data = resolve_dataset(config.campaign.dataset, path.parent)
    assert data.targets == ("band_gap",) and len(data) == 100
    assert data.report["n_rows_dropped"] == 0
    config.check_against(data.targets, data.elements)
    gaps = data.frame["band_gap"]
    assert gaps.between(0, 15).all()  # eV: physically sensible
    assert gaps.between(1.1, 1.7).sum() >= 10  # the target window is populated
