"""``[space] kind``: one settings model per registered space kind, composition by default."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from evodesign.campaign import CampaignConfig, ConfigError
from evodesign.campaign.config import CompositionSettings, SpaceSection, space_kinds
from evodesign.representation import registry

ROOT = Path(__file__).resolve().parents[3]

MINIMAL = """\
[campaign]
name = "demo"

[[objectives]]
name = "S_p"
direction = "max"
"""


class BitSettings(BaseModel):
    """A toy space's settings, registered after the config package was imported."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    kind: Literal["toy-bits"] = "toy-bits"
    n_bits: int = Field(16, ge=1)


registry.space_settings.register("toy-bits", "toy-bits", BitSettings)


def config_with(space: str, tmp_path: Path) -> CampaignConfig:
    path = tmp_path / "c.toml"
    path.write_text(MINIMAL + "\n[space]\n" + space, encoding="utf-8")
    return CampaignConfig.from_toml(path)


def test_kind_defaults_to_composition_and_keeps_its_attributes() -> None:
    config = CampaignConfig.from_dict(tomllib.loads(MINIMAL))
    assert isinstance(config.space, CompositionSettings) and SpaceSection is CompositionSettings
    assert (config.space.kind, config.space.max_atoms, config.space.max_elements) == ("composition", 20, 4)
    assert config.to_toml_dict()["space"]["kind"] == "composition"
    assert "composition" in space_kinds()


def test_explicit_default_kind_hashes_like_a_file_without_it(tmp_path: Path) -> None:
    without = config_with("max_atoms = 12\n", tmp_path)
    explicit = config_with('kind = "composition"\nmax_atoms = 12\n', tmp_path)
    assert without == explicit
    for name in ("hash", "surrogate_hash", "generator_hash"):
        assert getattr(without, name)() == getattr(explicit, name)()


def test_unknown_kind_names_file_line_and_valid_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_with('max_atoms = 12\nkind = "compositon"\n', tmp_path)
    message = str(info.value)
    assert message.splitlines()[0] == f"invalid campaign config {tmp_path / 'c.toml'} (1 problem):"
    line = message.splitlines()[1]
    assert line.startswith("  [space].kind (line 10): got 'compositon': unknown space kind")
    assert "(did you mean 'composition'?)" in line
    assert "valid kinds: " in line and "'composition'" in line and "'toy-bits'" in line


def test_a_kind_registered_after_import_validates_and_round_trips(tmp_path: Path) -> None:
    config = config_with('kind = "toy-bits"\nn_bits = 8\n', tmp_path)
    assert isinstance(config.space, BitSettings) and config.space.n_bits == 8
    data = config.to_toml_dict()
    assert data["space"] == {"kind": "toy-bits", "n_bits": 8}
    assert CampaignConfig.from_dict(tomllib.loads(config.to_toml())) == config
    assert config.hash() != config_with("", tmp_path).hash()
    config.check_against(["S_p"], ["Bi", "Te"])  # a kind without data checks has none to fail


def test_keys_of_another_kind_are_refused_with_this_kinds_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_with('kind = "toy-bits"\nmax_atoms = 12\nn_bits = 0\n', tmp_path)
    lines = str(info.value).splitlines()
    assert lines[0].endswith("(2 problems):")
    assert "  [space].max_atoms (line 10): unknown key 'max_atoms' in [space]; valid keys: kind, n_bits" in lines
    assert any(x.startswith("  [space].n_bits (line 11): got 0") for x in lines)


def test_composition_problems_keep_their_key_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_with('max_atom = 12\ndeny = ["Pb", "Xx"]\n', tmp_path)
    message = str(info.value)
    assert "[space].max_atom (line 9): unknown key 'max_atom' in [space] (did you mean 'max_atoms'?); valid keys: kind, " in message
    assert "[space].deny[2] (line 10): 'Xx' is not an element symbol" in message


def test_a_space_that_is_not_a_table(tmp_path: Path) -> None:
    data = tomllib.loads(MINIMAL) | {"space": 5}
    with pytest.raises(ConfigError, match=r"\[space\]: got 5: expected a table of keys"):
        CampaignConfig.from_dict(data)


def test_data_checks_of_the_composition_space() -> None:
    data = tomllib.loads(MINIMAL) | {"space": {"allow": ["Bi", "Te", "Se"]}}
    config = CampaignConfig.from_dict(data, source="t.toml")
    with pytest.raises(ConfigError, match=r"\[space\]\.allow: 'Se' not in data set 'transport'"):
        config.check_against(["S_p"], ["Bi", "Te"])
    config.check_against(["S_p"], ["Bi", "Te", "Se"])


def test_the_space_table_is_a_pydantic_discriminated_union_of_the_registered_kinds() -> None:
    from evodesign.campaign.config.space import space_union

    adapter = space_union()
    schema = adapter.core_schema
    while schema["type"] in ("definitions", "function-after", "function-before"):
        schema = schema["schema"]
    assert schema["type"] == "tagged-union" and schema["discriminator"] == "kind"
    assert set(schema["choices"]) == set(space_kinds()) >= {"composition", "toy-bits"}
    assert isinstance(adapter.validate_python({"kind": "toy-bits", "n_bits": 3}), BitSettings)


def test_a_settings_model_without_a_literal_kind_is_refused_by_name() -> None:
    from evodesign.campaign.config.space import space_union

    class Loose(BaseModel):
        kind: str = "toy-loose"

    registry.space_settings.register("toy-loose", "toy-loose", Loose)
    try:
        with pytest.raises(registry.RegistryError, match="Loose needs a field `kind: Literal"):
            space_union()
    finally:
        registry.space_settings.unregister("toy-loose", "toy-loose")
    assert "toy-loose" not in space_kinds()
