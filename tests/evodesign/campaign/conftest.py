"""Shared fixtures of the campaign tests: a small CSV slice of the transport data, tiny budgets."""

from __future__ import annotations

import pytest
import torch

from evodesign.campaign import Campaign, CampaignConfig


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory):
    from evodesign.datasets import load_dataset

    frame = load_dataset("transport").frame.sample(600, random_state=0)[["formula", "log10_PF_p", "S_p"]]
    path = tmp_path_factory.mktemp("data") / "small.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def _make_config(small_csv, **search):
    data = {
        "campaign": {"name": "tiny", "dataset": str(small_csv), "seed": 0},
        "space": {"deny": ["Pb", "Cd"]},
        "surrogate": {"model": "ensemble", "n_members": 2, "hidden": [32], "max_epochs": 5, "patience": 3},
        "objectives": [
            {"name": "log10_PF_p", "direction": "max"},
            {"name": "S_p", "direction": "max"},
            {"name": "hhi_production", "direction": "min"},
        ],
        "generators": {"latent_dim": 8, "max_epochs": 40, "gan_steps": 200},
        "search": {"pop_size": 20, "n_gen": 4, "operators": "classical", "sampling": "known", **search},
        "screen": {"n_samples": 500, "source": "random"},
    }
    return CampaignConfig.from_dict(data)


@pytest.fixture()
def campaign_factory(small_csv, cache_dir, tmp_path):
    def make(out=None, **search):
        return Campaign(_make_config(small_csv, **search), out_root=out or tmp_path / "out", cache_dir=cache_dir, progress=False)

    return make


@pytest.fixture(scope="session")
def make_config():
    """``make_config(csv_path, **search_overrides)`` -> a tiny validated CampaignConfig."""
    return _make_config
