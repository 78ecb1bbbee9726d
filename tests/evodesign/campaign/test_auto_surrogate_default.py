"""``[surrogate] model = "auto"``: the default for compositions, its ``candidates`` and
``cv_folds`` keys, and what the campaign passes to each candidate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evodesign.campaign import Campaign, CampaignConfig
from evodesign.campaign.config.messages import ConfigError


def _data(**surrogate):
    return {
        "campaign": {"name": "c", "dataset": "transport"},
        "surrogate": surrogate,
        "objectives": [{"name": "S_p", "direction": "max"}],
    }


def test_auto_is_the_default_for_compositions_and_the_solver_for_microstructures():
    assert CampaignConfig.from_dict(_data()).surrogate.model == "auto"
    micro = {
        "campaign": {"name": "m", "dataset": "microstructures"},
        "space": {"kind": "microstructure", "size": 16},
        "objectives": [{"name": "k_xx", "direction": "max"}],
    }
    assert CampaignConfig.from_dict(micro).surrogate.model == "solver"
    # "auto" is for compositions: a microstructure campaign that asks for it is told what fits
    micro["surrogate"] = {"model": "auto"}
    with pytest.raises(ConfigError, match=r"\[surrogate\]\.model.*'solver' or 'cnn'"):
        CampaignConfig.from_dict(micro)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (["ensemble", "forrest"], r"\[surrogate\]\.candidates.*got 'forrest'.*did you mean 'forest'.*'ensemble', "
                                  r"'forest', 'boosting', 'attention' or 'forest_median'"),
        ([], r"\[surrogate\]\.candidates.*at least one.*'ensemble', 'forest', 'boosting', 'attention' or 'forest_median'"),
        (["forest", "forest"], r"\[surrogate\]\.candidates.*'forest' listed twice"),
        ("forest", r"\[surrogate\]\.candidates"),
    ],
)
def test_unknown_empty_or_repeated_candidates_are_refused_by_key_with_the_valid_names(candidates, expected):
    with pytest.raises(ConfigError, match=expected):
        CampaignConfig.from_dict(_data(candidates=candidates))


def test_cv_folds_at_least_two_and_both_keys_round_trip():
    with pytest.raises(ConfigError, match=r"\[surrogate\]\.cv_folds.*got 1"):
        CampaignConfig.from_dict(_data(cv_folds=1))
    config = CampaignConfig.from_dict(_data(candidates=["forest", "attention"], cv_folds=3))
    assert config.surrogate.candidates == ("forest", "attention") and config.surrogate.cv_folds == 3
    again = CampaignConfig.from_dict(config.to_toml_dict())
    assert again.surrogate == config.surrogate


def test_candidates_and_folds_at_their_defaults_keep_the_hashes_and_change_them_when_set():
    plain = CampaignConfig.from_dict(_data())
    spelled = CampaignConfig.from_dict(_data(candidates=["ensemble", "forest", "boosting"], cv_folds=5,
                                             weighted=False))
    assert (spelled.hash(), spelled.surrogate_hash()) == (plain.hash(), plain.surrogate_hash())
    for changed in (_data(candidates=["forest", "boosting"]), _data(cv_folds=3), _data(weighted=True)):
        other = CampaignConfig.from_dict(changed)
        assert other.surrogate_hash() != plain.surrogate_hash() and other.hash() != plain.hash()


def test_the_campaign_gives_each_candidate_its_settings_and_attention_the_space_elements():
    from evodesign.campaign.models import _surrogate_estimator
    from evodesign.representation import CompositionSpace
    from evodesign.surrogates import PropertyModel

    config = CampaignConfig.from_dict(
        _data(candidates=["ensemble", "forest", "boosting", "attention", "forest_median"], cv_folds=3, n_estimators=7,
              hidden=[16])
    )
    elements = ("Fe", "O", "Bi", "Te")
    auto = _surrogate_estimator(config, 11, elements=elements)
    assert auto.candidates == ("ensemble", "forest", "boosting", "attention", "forest_median") and auto.n_splits == 3
    assert auto.target_names == ["S_p"] and auto.random_state == 11 and auto.weighted is False
    assert _surrogate_estimator(CampaignConfig.from_dict(_data(weighted=True)), 0, elements=elements).weighted
    assert auto.candidate("forest").n_estimators == 7 and auto.candidate("forest").center == "mean"
    assert auto.candidate("forest_median").n_estimators == 7 and auto.candidate("forest_median").center == "median"
    assert auto.candidate("boosting").n_threads == 1
    assert auto.candidate("ensemble").hidden_layer_sizes == (16,)
    attention = auto.candidate("attention")
    assert tuple(attention.elements) == elements
    # the attention reads the last len(elements) feature columns: PropertyModel's fractions,
    # in the order of the space's elements
    space = CompositionSpace(list(elements))
    counts = np.array([[2, 3, 0, 0], [0, 0, 2, 3]], dtype=float)
    features = PropertyModel(space.elements, ["S_p"]).features.transform(counts)
    np.testing.assert_allclose(features[:, -len(elements):], counts / counts.sum(axis=1, keepdims=True))
    # only the candidates named are configured
    narrow = _surrogate_estimator(CampaignConfig.from_dict(_data(candidates=["forest"])), 0, elements=elements)
    assert set(narrow.candidate_params) == {"forest"}


def test_a_campaign_that_leaves_the_model_out_selects_per_target_and_records_it(small_csv, tmp_path):
    """The default path end to end, tiny: 2-fold CV of the default candidates on 120 rows,
    the winner refit and cached, the choice and the scores in the run's manifest (one
    target: test_models covers the choice per target)."""
    config = CampaignConfig.from_dict({
        "campaign": {"name": "auto", "dataset": str(small_csv), "seed": 0},
        "space": {"deny": ["Pb", "Cd"]},
        "surrogate": {"n_members": 2, "hidden": [16], "max_epochs": 3, "patience": 2, "n_estimators": 5,
                      "max_rows": 120, "cv_folds": 2},
        "objectives": [{"name": "S_p", "direction": "max"}, {"name": "hhi_production", "direction": "min"}],
        "search": {"pop_size": 10, "n_gen": 2, "operators": "classical", "sampling": "known"},
    })
    assert config.surrogate.model == "auto"
    campaign = Campaign(config, out_root=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    campaign.run(seed=0)
    (manifest_path,) = (tmp_path / "out").rglob("manifest.json")
    surrogate = json.loads(manifest_path.read_text())["artifacts"]["surrogate"]
    assert set(surrogate["selected"]) == {"S_p"}
    assert all(set(scores) == {"ensemble", "forest", "boosting", "blend"} for scores in surrogate["cv_mae"].values())
    estimator = campaign.prepare().surrogate.estimator_
    assert all(len(s["folds"]) == 2 for scores in estimator.cv_scores_.values() for s in scores.values())


def test_a_change_in_how_attention_trains_changes_the_key_only_where_attention_is_compared(monkeypatch):
    from evodesign.campaign.config import hashing

    with_attention = CampaignConfig.from_dict(_data(candidates=["forest", "attention"]))
    without = CampaignConfig.from_dict(_data(candidates=["forest", "boosting"]))
    before = (with_attention.surrogate_hash(), without.surrogate_hash())
    monkeypatch.setattr(hashing, "_ATTENTION_TRAINING", "another way of training")
    assert with_attention.surrogate_hash() != before[0]
    assert without.surrogate_hash() == before[1]
