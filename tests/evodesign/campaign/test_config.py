from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from evodesign.campaign import CampaignConfig, ConfigError, dumps_toml
from evodesign.exceptions import EvodesignError

DEFAULT = Path(__file__).resolve().parents[3] / "runs" / "thermoelectric.toml"

MINIMAL = """\
[campaign]
name = "demo"

[[objectives]]
name = "log10_PF_p"
direction = "max"

[[objectives]]
name = "hhi_production"
direction = "min"
"""


@pytest.fixture(scope="module")
def default() -> CampaignConfig:
    return CampaignConfig.from_toml(DEFAULT)


@pytest.fixture
def write(tmp_path: Path):
    def write(text: str, name: str = "campaign.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def raw() -> dict:
    return tomllib.loads(MINIMAL)


def error_of(data: dict, source: str = "test.toml") -> str:
    with pytest.raises(ConfigError) as info:
        CampaignConfig.from_dict(data, source=source)
    return str(info.value)


def test_default_campaign_loads(default: CampaignConfig) -> None:
    assert default.campaign.name == "thermoelectric"
    assert default.campaign.dataset == "transport"
    assert default.surrogate_targets == ("log10_PF_p", "S_p")
    assert default.analytic_objectives == ("hhi_production",)
    assert [o.direction for o in default.objectives] == ["max", "max", "min"]
    assert default.constraints.charge_balance == "strict"
    assert default.constraints.novel is True
    assert default.constraints.max_std == "auto"
    assert default.space.max_elements == 4
    assert default.space.max_atoms == 20
    assert set(default.space.deny) >= {"Pb", "Cd", "Hg", "Tl", "As", "Be"}
    assert default.search.pop_size % 2 == 0
    assert default.source == str(DEFAULT)
    default.check_against(["log10_PF_p", "S_p", "sigma_p"])


def test_defaults_fill_everything_but_name_and_objectives() -> None:
    config = CampaignConfig.from_dict(raw())
    assert config.search.pop_size == 200
    assert config.space.deny == ()
    assert config.objectives[0].kappa == 0.0
    assert config.objectives[0].target is None


def test_round_trip_through_dict_and_toml_text(default: CampaignConfig) -> None:
    data = default.to_toml_dict()
    again = CampaignConfig.from_dict(data)
    assert again == default
    assert again.hash() == default.hash()
    assert CampaignConfig.from_dict(tomllib.loads(default.to_toml())) == default


def test_round_trip_with_optional_values(tmp_path: Path) -> None:
    data = raw()
    data["objectives"][0].update(target=[1.1, 1.7], label='band gap "PBE" (eV)')
    del data["objectives"][0]["direction"]
    data["constraints"] = {"max_std": {"log10_PF_p": 0.5}}
    data["campaign"]["description"] = "line one\nline two\ttabbed"
    config = CampaignConfig.from_dict(data)
    assert config.objectives[0].direction == "min"
    assert config.objectives[0].target == (1.1, 1.7)
    path = config.write_toml(tmp_path / "config.toml")
    assert CampaignConfig.from_toml(path) == config


def test_dumps_toml_nested_tables_and_arrays_of_tables() -> None:
    data = {
        "a": 1,
        "x": {"y": {"z": [1.5, -2.0]}, "flag": False},
        "rows": [{"k": "v", "inner": {"n": 3}}, {"k": "w"}],
        "odd key": "é",
    }
    assert tomllib.loads(dumps_toml(data)) == data


def test_unknown_key_lists_valid_keys_and_suggests() -> None:
    data = raw()
    data["search"] = {"pop_sise": 100}
    message = error_of(data)
    line = next(m for m in message.splitlines() if "pop_sise" in m)
    assert "test.toml" in message
    assert "[search].pop_sise" in line
    assert "did you mean 'pop_size'?" in line
    for key in ("pop_size", "n_gen", "operators", "checkpoint_every"):
        assert key in line


def test_unknown_table_suggests_close_match() -> None:
    data = raw()
    data["serach"] = {}
    message = error_of(data)
    assert "unknown table [serach]" in message
    assert "did you mean [search]?" in message
    assert "[[objectives]]" in message


def test_bad_direction_names_path_given_and_valid(write) -> None:
    path = write(MINIMAL.replace('direction = "min"', 'direction = "minimize"'))
    with pytest.raises(ConfigError) as info:
        CampaignConfig.from_toml(path)
    message = str(info.value)
    assert str(path) in message
    assert "[[objectives]][2].direction (line 10)" in message
    assert "'minimize'" in message and "'max' or 'min'" in message


def test_bad_element_symbol() -> None:
    data = raw()
    data["space"] = {"deny": ["Pb", "Xx", "cd"]}
    message = error_of(data)
    assert "[space].deny[2]: 'Xx' is not an element symbol" in message
    assert "did you mean 'Cd'?" in message


def test_deny_and_allow_must_be_disjoint() -> None:
    data = raw()
    data["space"] = {"deny": ["Pb"], "allow": ["Pb", "Te"]}
    assert "'Pb' both allowed and denied" in error_of(data)


def test_odd_pop_size() -> None:
    data = raw()
    data["search"] = {"pop_size": 101}
    message = error_of(data)
    assert "[search].pop_size: got 101" in message and "even" in message


def test_kappa_on_analytic_objective() -> None:
    data = raw()
    data["objectives"][1]["kappa"] = 1.0
    message = error_of(data)
    assert "[[objectives]][2].kappa" in message and "'hhi_production'" in message


def test_range_target_low_below_high() -> None:
    data = raw()
    data["objectives"][0]["target"] = [1.7, 1.1]
    del data["objectives"][0]["direction"]
    assert "low must be smaller than high" in error_of(data)


def test_cross_checks_duplicate_names_and_max_std_keys() -> None:
    data = raw()
    data["objectives"].append({"name": "log10_PF_p", "direction": "min"})
    data["constraints"] = {"max_std": {"log10_PF_P": 0.5}}
    message = error_of(data)
    assert "[[objectives]][3].name" in message and "unique" in message
    assert "[constraints].max_std.log10_PF_P" in message
    assert "did you mean 'log10_PF_p'?" in message


def test_all_errors_reported_at_once_one_per_line() -> None:
    data = raw()
    data["search"] = {"pop_size": 7, "n_gen": 0, "operator": "learned"}
    data["space"] = {"max_elements": 12}
    message = error_of(data)
    assert message.splitlines()[0] == "invalid campaign config test.toml (4 problems):"
    assert len(message.splitlines()) == 5


def test_missing_name_and_objectives() -> None:
    message = error_of({"campaign": {}})
    assert "[campaign].name: required" in message
    assert "[[objectives]]" in message and "at least one" in message


def test_types_are_not_coerced() -> None:
    data = raw()
    data["search"] = {"pop_size": "200", "repair": 1}
    message = error_of(data)
    assert "[search].pop_size: got '200'" in message
    assert "[search].repair: got 1" in message


def test_unknown_dataset_suggests() -> None:
    data = raw()
    data["campaign"]["dataset"] = "transprt"
    assert "did you mean 'transport'?" in error_of(data)


def test_check_against_dataset_targets(write) -> None:
    path = write(MINIMAL.replace('name = "log10_PF_p"', 'name = "log10_PF"'))
    config = CampaignConfig.from_toml(path)  # fine until the data set is known
    with pytest.raises(ConfigError) as info:
        config.check_against(["log10_PF_p", "S_p"])
    message = str(info.value)
    assert str(path) in message and "[[objectives]][1].name (line 5)" in message
    assert "did you mean 'log10_PF_p'?" in message


def test_toml_syntax_error_names_file_and_line(write) -> None:
    path = write(MINIMAL.replace('name = "demo"', 'name = "demo'))
    with pytest.raises(ConfigError) as info:
        CampaignConfig.from_toml(path)
    assert f"{path}, line 2" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    (tmp_path / "thermoelectric.toml").write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(ConfigError, match="not found") as info:
        CampaignConfig.from_toml(tmp_path / "thermoelectirc.toml")
    assert "thermoelectric.toml" in str(info.value)
    assert isinstance(info.value, EvodesignError) and isinstance(info.value, ValueError)


def test_hashes_stable_and_sensitive_to_their_sections(default: CampaignConfig) -> None:
    assert default.hash() == CampaignConfig.from_toml(DEFAULT).hash()
    assert len(default.surrogate_hash()) == 64

    def changed(section: str, **values: object) -> CampaignConfig:
        data = copy.deepcopy(default.to_toml_dict())
        data[section].update(values)
        return CampaignConfig.from_dict(data)

    search = changed("search", n_gen=3)
    assert search.hash() != default.hash()
    assert search.surrogate_hash() == default.surrogate_hash()
    assert search.generator_hash() == default.generator_hash()

    surrogate = changed("surrogate", max_epochs=3)
    assert surrogate.surrogate_hash() != default.surrogate_hash()
    assert surrogate.generator_hash() == default.generator_hash()

    generators = changed("generators", gan_steps=10)
    assert generators.generator_hash() != default.generator_hash()
    assert generators.surrogate_hash() == default.surrogate_hash()

    space = changed("space", max_atoms=12)
    assert space.generator_hash() != default.generator_hash()
    assert space.surrogate_hash() != default.surrogate_hash()

    data = copy.deepcopy(default.to_toml_dict())
    # log10_PF_p: S_p stays a surrogate target through its [constraints.ranges] window
    data["objectives"] = data["objectives"][1:]
    fewer = CampaignConfig.from_dict(data)
    assert fewer.surrogate_hash() != default.surrogate_hash()
    assert fewer.generator_hash() == default.generator_hash()


def test_surrogate_architecture_keys_validated_and_hashed_only_when_set(default: CampaignConfig) -> None:
    data = copy.deepcopy(default.to_toml_dict())
    # keys added later at their defaults leave the cached models' hash as it was
    for key in ("architecture", "dropout", "lr_schedule", "warmup_epochs"):
        data["surrogate"].pop(key, None)
    assert CampaignConfig.from_dict(data).surrogate_hash() == default.surrogate_hash()
    data["surrogate"].update(architecture="residual", hidden=[128, 128, 128], dropout=0.1, lr_schedule="cosine")
    residual = CampaignConfig.from_dict(data)
    assert residual.surrogate.architecture == "residual"
    assert residual.surrogate_hash() != default.surrogate_hash()
    data["surrogate"]["hidden"] = [128, 64]
    message = error_of(data)
    assert "architecture = 'residual' needs one repeated width" in message and "[128, 64]" in message
    data["surrogate"].update(hidden=[64], architecture="transformer")
    message = error_of(data)
    assert "[surrogate].architecture: got 'transformer': input should be 'mlp' or 'residual'" in message


# ----------------------------------------------------------------- unsatisfiable or absurd


def test_allow_list_smaller_than_min_elements() -> None:
    data = raw()
    data["space"] = {"allow": ["O"], "min_elements": 2}
    message = error_of(data)
    assert "[space].allow: only 1 element allowed ('O')" in message
    assert "min_elements = 2" in message and "set min_elements = 1" in message
    data["space"] = {"allow": ["O", "Fe"], "min_elements": 2}
    CampaignConfig.from_dict(data)  # two elements are enough


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"deny": ["Fe", "O", "Na"]}, ["[space].deny", "denies every element of data set 'transport'"]),
        ({"deny": ["Fe", "Na"]}, ["[space].deny", "leaves 1 element of data set 'transport' ('O')",
                                  "set min_elements = 1"]),
        ({"deny": ["Na"], "min_elements": 3}, ["leaves 2 elements", "('Fe' and 'O')", "set min_elements = 2"]),
    ],
)
def test_deny_that_leaves_too_few_elements_of_the_data(space, expected) -> None:
    data = raw()
    data["space"] = space
    config = CampaignConfig.from_dict(data, source="test.toml")
    with pytest.raises(ConfigError) as info:
        config.check_against(["log10_PF_p"], ["Fe", "O", "Na"])
    for part in expected:
        assert part in str(info.value)
    config.check_against(["log10_PF_p"], ["Fe", "O", "Na", "Cl", "S"])  # enough left


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("target", "remove direction and give target = [low, high]"),
        ("range", "target = [low, high]"),
        ("maximise", "(did you mean 'max'?)"),
        ("Min", "(did you mean 'min'?)"),
        ("up-ish", "valid: 'max' or 'min'"),
    ],
)
def test_wrong_direction_points_to_the_fix(direction, expected) -> None:
    data = raw()
    data["objectives"][0]["direction"] = direction
    message = error_of(data)
    assert "[[objectives]][1].direction" in message and expected in message


@pytest.mark.parametrize("target", [[float("nan"), 3.0], [1.0, float("inf")], [3.0, 1.0], [2.0, 2.0], [1.0], "1-2"])
def test_range_target_refused_with_its_key(target) -> None:
    data = raw()
    data["objectives"][0]["target"] = target
    del data["objectives"][0]["direction"]
    message = error_of(data)
    assert "[[objectives]][1].target" in message and "[" in message.split("target", 1)[1]


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("search", "pop_size", 100_000_000_000),
        ("search", "n_gen", 10**9),
        ("screen", "n_samples", 10**12),
        ("surrogate", "hidden", [10**6]),
        ("surrogate", "max_epochs", 10**9),
        ("surrogate", "n_estimators", 10**7),
        ("generators", "gan_steps", 10**9),
        ("verify", "top", 10**7),
    ],
)
def test_sizes_that_fill_memory_are_refused(table, key, value) -> None:
    data = raw()
    data[table] = {key: value}
    message = error_of(data)
    assert f"[{table}].{key}" in message and "less than or equal to" in message


def test_where_names_file_key_and_line(write) -> None:
    config = CampaignConfig.from_toml(write(MINIMAL))
    assert config.where("campaign", "name").endswith("campaign.toml, [campaign].name (line 2)")
    assert config.where("objectives", 1, "direction").endswith("[[objectives]][2].direction (line 10)")
    assert CampaignConfig.from_dict(raw()).where("search", "pop_size") == "<dict>, [search].pop_size"


def test_keys_added_later_keep_the_default_campaign_hashes():
    """Keys added to [surrogate], [generators] and the [loop] table at their defaults leave the
    run, surrogate and generator hashes of the default campaign as they were before them
    (run folders resume, cached models load): the values computed before the keys existed."""
    from pathlib import Path

    cfg = CampaignConfig.from_toml(Path(__file__).parents[3] / "runs" / "thermoelectric.toml")
    assert cfg.hash()[:16] == "e470f1461b6fd41a"
    # 382e75d4 until session 8: the deep ensemble now clips its inputs to the training
    # range, so ensembles cached before predict differently and must not be reused
    assert cfg.surrogate_hash()[:8] == "5ea5a01c"
    assert cfg.generator_hash()[:8] == "b7dda945"
    adapted = CampaignConfig.from_dict({**cfg.to_toml_dict(), "generators": {**cfg.to_toml_dict()["generators"], "adapt_every": 5}})
    assert adapted.generator_hash() == cfg.generator_hash() and adapted.hash() != cfg.hash()

