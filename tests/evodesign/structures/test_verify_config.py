from __future__ import annotations

from pathlib import Path

import pytest

from evodesign.campaign import CampaignConfig
from evodesign.campaign.config import ConfigError

DEFAULT = Path(__file__).resolve().parents[3] / "runs" / "thermoelectric.toml"
BASE = {"campaign": {"name": "demo"}, "objectives": [{"name": "S_p", "direction": "max"}]}


def test_files_without_verify_load_with_defaults(tmp_path):
    import re

    text = DEFAULT.read_text(encoding="utf-8")
    without = re.sub(r"^\[verify\]\n(?:(?!\[).*\n?)*", "", text, flags=re.M)
    assert "[verify]" in text and "[verify]" not in without
    path = tmp_path / "no_verify.toml"
    path.write_text(without, encoding="utf-8")
    config = CampaignConfig.from_toml(path)
    assert config.verify.top == 20
    assert config.verify.max_e_form is None and config.verify.max_e_above_hull is None


def test_verify_table_is_read_and_does_not_change_the_campaign_hash():
    plain = CampaignConfig.from_dict(BASE)
    screened = CampaignConfig.from_dict({**BASE, "verify": {"top": 5, "max_e_above_hull": 0.1, "timeout_s": 60}})
    assert screened.verify.top == 5 and screened.verify.max_e_above_hull == 0.1
    assert screened.verify.timeout_s == 60.0
    assert screened.hash() == plain.hash()
    assert CampaignConfig.from_dict(screened.to_toml_dict()) == screened


def test_verify_typo_names_the_key():
    with pytest.raises(ConfigError, match=r"\[verify\]\.max_e_hull.*max_e_above_hull"):
        CampaignConfig.from_dict({**BASE, "verify": {"max_e_hull": 0.1}})
