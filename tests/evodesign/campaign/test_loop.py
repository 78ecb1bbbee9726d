"""The closed loop on a tiny microstructure campaign: the solver as a callable evaluator, a
lab round trip through files, resume, and the batch selection."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign import Campaign, CampaignConfig
from evodesign.campaign.evaluation import SolverEvaluator
from evodesign.campaign.loop import run_loop, select_batch
from evodesign.exceptions import DataError, UsageError
from evodesign.physics import effective_conductivity

CONDUCTIVITY = (1.0, 10.0)


def _config() -> dict:
    return {
        "campaign": {"name": "tiny-loop", "dataset": "microstructures", "seed": 0},
        "data": {"n_images": 60},
        "space": {"kind": "microstructure", "size": 16, "min_feature": 2},
        "physics": {"conductivity": list(CONDUCTIVITY)},
        "surrogate": {"model": "cnn", "n_members": 2, "channels": [4, 8], "max_epochs": 2, "max_rows": 40},
        "objectives": [
            {"name": "k_xx", "direction": "max"},
            {"name": "volume_fraction", "direction": "min"},
        ],
        "search": {"pop_size": 12, "n_gen": 2, "operators": "classical", "sampling": "known"},
        "loop": {"rounds": 2, "batch": 4, "update_epochs": 1},
    }


@pytest.fixture()
def campaign(tmp_path, monkeypatch):
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    config = CampaignConfig.from_dict(_config())
    return Campaign(config, out_root=tmp_path / "out", cache_dir=tmp_path / "cache" / "models", progress=False)


def test_loop_with_the_solver_measures_updates_and_logs_each_round(campaign, tmp_path):
    result = run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "loop")
    assert result.waiting is None
    rounds = result.rounds
    assert rounds["round"].tolist() == [1, 2] and (rounds["n_measured"] == 4).all()
    for column in ("n_failed", "best_k_xx", "mae_k_xx", "hypervolume", "search_s", "update_s"):
        assert column in rounds.columns, column
    assert rounds["hypervolume"].is_monotonic_increasing  # measured designs only accumulate
    measured, images = result.measurements, np.load(tmp_path / "loop" / "measurements.npz")["images"]
    assert len(measured) == 8 and images.shape == (8, 16, 16)
    np.testing.assert_allclose(measured["k_xx"], effective_conductivity(images, CONDUCTIVITY)[:, 0], atol=1e-9)
    # no design measured twice; each round's surrogate update saved
    assert len({im.tobytes() for im in images}) == 8
    assert (tmp_path / "loop" / "surrogate-001.json").is_file() and (tmp_path / "loop" / "surrogate-002.json").is_file()
    # a finished loop resumed changes nothing; further rounds go on from where it stopped
    again = run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "loop", resume=True)
    pd.testing.assert_frame_equal(again.rounds, rounds)
    with pytest.raises(UsageError, match="already holds a loop"):
        run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "loop")


def test_lab_round_trip_through_files(campaign, tmp_path):
    root = tmp_path / "lab"
    first = run_loop(campaign, evaluator="lab", out=root)
    assert first.waiting == 1 and "measured.csv" in first.message and len(first.rounds) == 0
    request = pd.read_csv(root / "round-001" / "to_measure.csv", dtype={"id": str})
    with np.load(root / "round-001" / "designs.npz") as saved:
        images = saved["images"]
    assert len(request) == 4 and images.shape == (4, 16, 16)
    # resuming before the file exists keeps waiting, nothing measured
    assert run_loop(campaign, evaluator="lab", out=root, resume=True).waiting == 1
    # a bad file is refused with its line named, and nothing changes
    k = effective_conductivity(images, CONDUCTIVITY)
    lines = ["id,k_xx"] + [f"{i},{v}" for i, v in zip(request["id"], k[:, 0])]
    bad = lines.copy()
    bad[2] = f"{request['id'][1]},high"
    (root / "round-001" / "measured.csv").write_text("\n".join(bad) + "\n")
    with pytest.raises(DataError, match="line 3"):
        run_loop(campaign, evaluator="lab", out=root, resume=True)
    assert not (root / "measurements.csv").exists()
    # the lab fills it in (one failed measurement left blank), resume: round 2 is proposed
    lines[4] = f"{request['id'][3]},"
    (root / "round-001" / "measured.csv").write_text("\n".join(lines) + "\n")
    second = run_loop(campaign, evaluator="lab", out=root, resume=True)
    assert second.waiting == 2 and (root / "round-002" / "to_measure.csv").is_file()
    assert second.rounds["n_failed"].tolist() == [1] and second.rounds["n_measured"].tolist() == [4]


def test_select_batch_takes_fronts_in_order_and_spreads_the_last():
    F = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.1, 0.95], [2.0, 2.0], [0.0, 0.0]])
    cv = np.array([0, 0, 0, 0, 0, 1.0])
    allowed = np.ones(6, bool)
    assert sorted(select_batch(F, cv, 4, allowed).tolist()) == [0, 1, 2, 3]
    # two of the first front: the extremes, not the near-duplicate of row 0
    assert sorted(select_batch(F, cv, 2, allowed).tolist()) == [0, 1]
    assert select_batch(F, cv, 6, allowed).tolist()[-1] == 5  # infeasible last
    allowed[0] = False
    assert 0 not in select_batch(F, cv, 5, allowed).tolist()


def test_a_loop_killed_after_measuring_resumes_without_repeating(campaign, tmp_path, monkeypatch):
    """Killed between recording round 1's measurements and updating the surrogate, the loop
    resumes from its files: round 1's measurements are not repeated (the evaluator is not
    called for them again) and the result equals an uninterrupted loop's."""
    import evodesign.campaign.loop as loop_module

    calls = []

    def counting(images):
        calls.append(len(images))
        return SolverEvaluator(CONDUCTIVITY)(images)

    original = loop_module._update

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as a kill would, after measurements.csv was written

    monkeypatch.setattr(loop_module, "_update", killed)
    with pytest.raises(KeyboardInterrupt):
        run_loop(campaign, evaluator=counting, out=tmp_path / "killed")
    assert calls == [4] and len(pd.read_csv(tmp_path / "killed" / "measurements.csv")) == 4
    monkeypatch.setattr(loop_module, "_update", original)
    resumed = run_loop(campaign, evaluator=counting, out=tmp_path / "killed", resume=True)
    assert calls == [4, 4]  # round 2 only
    straight = run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "straight")
    pd.testing.assert_frame_equal(resumed.measurements, straight.measurements)
    timing = [c for c in resumed.rounds.columns if c.endswith("_s")]
    pd.testing.assert_frame_equal(resumed.rounds.drop(columns=timing), straight.rounds.drop(columns=timing))


def test_composition_loop_with_a_callable_lab(campaign_factory, tmp_path):
    """Compositions: the evaluator reads the request's formula column; the measured rows join
    the ensemble's training data (warm start), and each round's search proposes new formulas."""
    from pymatgen.core import Composition

    def lab(designs):  # a made-up "measurement": numbers of the formula, one failure
        n_atoms = np.array([Composition(f).num_atoms for f in designs["formula"]], dtype=float)
        values = pd.DataFrame({"log10_PF_p": np.log10(n_atoms), "S_p": 100 + n_atoms})
        values.loc[0, "S_p"] = np.nan
        return values

    campaign = campaign_factory()
    result = run_loop(campaign, evaluator=lab, rounds=2, batch=5, out=tmp_path / "comp")
    measured = result.measurements
    assert len(measured) == 10 and measured["formula"].is_unique
    assert result.rounds["n_failed"].tolist() == [1, 1]
    known = set(campaign.models.data.frame["formula"])
    assert not set(measured["formula"]) & known  # never a compound of the data set
    assert np.isfinite(result.rounds["hypervolume"]).all()


def test_generators_fine_tuned_in_a_round_carry_over_to_the_next(tmp_path, monkeypatch):
    """[generators] adapt_every in a loop: round 1's search fine-tunes the generators, the loop
    keeps them as generators-001, and round 2's search starts from them (its manifest names
    that file), so the generators learn over the whole loop."""
    import json

    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    data = _config()
    data["data"]["n_images"] = 300  # generators as in test_adaptation_run (tinier ones collapse)
    data["search"].update(operators="learned", sampling="mix", n_gen=4)
    data["generators"] = {"latent_dim": 8, "max_epochs": 6, "gan_steps": 300, "adapt_every": 2}
    config = CampaignConfig.from_dict(data)
    campaign = Campaign(config, out_root=tmp_path / "out", cache_dir=tmp_path / "cache" / "models", progress=False)
    run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "loop")
    root = tmp_path / "loop"
    assert (root / "generators-001.json").is_file() and (root / "generators-002.json").is_file()
    manifest = json.loads((root / "round-002" / "search" / "manifest.json").read_text())
    assert manifest["artifacts"]["generators"]["path"] == str(root / "generators-001.json")
    first = json.loads((root / "round-001" / "search" / "manifest.json").read_text())
    assert first["artifacts"]["generators"]["path"] != str(root / "generators-001.json")


@pytest.mark.parametrize("model", ["auto", "forest"])
def test_composition_loop_updates_models_that_cannot_continue(model, make_config, small_csv, tmp_path):
    """The default surrogate ("auto") keeps its selection and updates its winners; a forest is
    refit (it cannot continue training): both loops run two rounds and their second round's
    surrogate differs from the first (the measured rows joined its data)."""
    from evodesign.surrogates import PropertyModel

    config = make_config(small_csv)
    surrogate = {**config.to_toml_dict()["surrogate"], "model": model, "n_estimators": 5, "cv_folds": 2}
    config = CampaignConfig.from_dict({**config.to_toml_dict(), "surrogate": surrogate})
    campaign = Campaign(config, out_root=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)

    def lab(designs):
        return pd.DataFrame({"log10_PF_p": np.full(len(designs), 3.0), "S_p": np.full(len(designs), 900.0)})

    result = run_loop(campaign, evaluator=lab, rounds=2, batch=4, out=tmp_path / model)
    assert len(result.measurements) == 8
    targets = list(config.surrogate_targets)
    first = PropertyModel.load(tmp_path / model / "surrogate-001", targets=targets)
    X = campaign.models.space.to_vectors(list(result.measurements["formula"]))
    assert not np.allclose(first.predict(X)[0], campaign.models.surrogate.predict(X)[0])


def _measured_adapt_campaign(tmp_path, **loop):
    data = _config()
    data["data"]["n_images"] = 300  # generators as in the carry-over test (tinier ones collapse)
    data["search"].update(operators="learned", sampling="mix")
    data["generators"] = {"latent_dim": 8, "max_epochs": 6, "gan_steps": 300}
    data["loop"].update(adapt="measured", **loop)
    config = CampaignConfig.from_dict(data)
    return Campaign(config, out_root=tmp_path / "out", cache_dir=tmp_path / "cache" / "models", progress=False)


def test_generators_adapted_on_measured_designs_between_rounds_resume_with_the_same_weights(tmp_path, monkeypatch):
    """[loop] adapt = "measured": after round 1's measurements the generators are fine-tuned
    (generators-001, one fine-tuning on the data set plus the measured designs) and round 2's
    search starts from them. A loop killed after that fine-tuning resumes with the very same
    weights and proposes what an uninterrupted loop proposes."""
    import json

    from safetensors.numpy import load_file

    import evodesign.campaign.loop as loop_module

    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    campaign = _measured_adapt_campaign(tmp_path)
    straight = run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "straight")
    root = tmp_path / "straight"
    assert (root / "generators-001.json").is_file() and not (root / "generators-002.json").exists()
    sidecar = json.loads((root / "generators-001.json").read_text())
    training = sidecar["training"]
    # the generators' own training designs plus round 1's 4 measured ones (a design once)
    assert training["adaptations"] == 1 and training["n_rows"] < training["adaptation"]["rows"] <= training["n_rows"] + 4
    manifest = json.loads((root / "round-002" / "search" / "manifest.json").read_text())
    assert manifest["artifacts"]["generators"]["path"] == str(root / "generators-001.json")
    original = load_file(str(campaign.models.generators_path.with_suffix(".safetensors")))
    adapted = load_file(str(root / "generators-001.safetensors"))
    assert any(not np.array_equal(original[k], adapted[k]) for k in original)

    propose = loop_module._propose

    def killed_in_round_2(campaign, models, surrogate, root, r, *args):
        if r == 2:
            raise KeyboardInterrupt  # after generators-001 was saved
        return propose(campaign, models, surrogate, root, r, *args)

    monkeypatch.setattr(loop_module, "_propose", killed_in_round_2)
    with pytest.raises(KeyboardInterrupt):
        run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "killed")
    saved = (tmp_path / "killed" / "generators-001.safetensors").read_bytes()
    monkeypatch.setattr(loop_module, "_propose", propose)
    resumed = run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "killed", resume=True)
    assert (tmp_path / "killed" / "generators-001.safetensors").read_bytes() == saved
    assert saved == (root / "generators-001.safetensors").read_bytes()  # seeded: the same fine-tuning
    pd.testing.assert_frame_equal(resumed.measurements, straight.measurements)


def test_measured_adaptation_refuses_adaptation_inside_the_search(tmp_path, monkeypatch):
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    campaign = _measured_adapt_campaign(tmp_path)
    data = campaign.config.to_toml_dict()
    data["generators"]["adapt_every"] = 1
    both = Campaign(CampaignConfig.from_dict(data), out_root=tmp_path / "out", progress=False)
    with pytest.raises(UsageError, match=r"adapt_every.*choose one"):
        run_loop(both, evaluator=SolverEvaluator(CONDUCTIVITY), out=tmp_path / "both")


def test_loop_adapt_at_its_default_keeps_the_hash_of_a_loop_table_set_away_from_defaults():
    """[loop] adapt was added after loops were run: at "none" it is left out of the run's hash
    even where other [loop] keys are set (those loops' folders still resume); "measured" counts."""
    data = _config()
    before = CampaignConfig.from_dict(data).hash()
    data["loop"]["adapt"] = "none"
    assert CampaignConfig.from_dict(data).hash() == before
    data["loop"]["adapt"] = "measured"
    assert CampaignConfig.from_dict(data).hash() != before


def test_a_loop_resumes_with_more_rounds_and_another_batch_but_not_another_campaign(campaign, tmp_path):
    """[loop] rounds and batch say how far a loop runs, not what it searches: a loop run for 2
    rounds goes on for a third with another batch size; a changed search is refused. A folder
    from before the loop hash (its marker holds only the campaign hash) still resumes."""
    root = tmp_path / "loop"
    run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=root)
    marker = root / "loop.json"
    saved = json.loads(marker.read_text())
    marker.write_text(json.dumps({"config_hash": saved["config_hash"], "evaluator": "callable"}))
    assert len(run_loop(campaign, evaluator=SolverEvaluator(CONDUCTIVITY), out=root, resume=True).measurements) == 8
    data = _config()
    data["loop"].update(rounds=3, batch=3)
    longer = Campaign(CampaignConfig.from_dict(data), out_root=tmp_path / "out", cache_dir=tmp_path / "cache" / "models",
                      progress=False)
    assert longer.config.hash() != campaign.config.hash()
    marker.write_text(json.dumps(saved))
    result = run_loop(longer, evaluator=SolverEvaluator(CONDUCTIVITY), out=root, resume=True)
    assert result.rounds["round"].tolist() == [1, 2, 3] and result.rounds["n_measured"].tolist() == [4, 4, 3]
    data["loop"]["kappa"] = 2.5
    other = Campaign(CampaignConfig.from_dict(data), out_root=tmp_path / "out", cache_dir=tmp_path / "cache" / "models",
                     progress=False)
    with pytest.raises(UsageError, match="started with another campaign"):
        run_loop(other, evaluator=SolverEvaluator(CONDUCTIVITY), out=root, resume=True)
