from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evodesign.cli import app

runner = CliRunner()


def test_datasets_list_and_summary():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0, result.output
    assert "transport" in result.output and "34630" in result.output
    result = runner.invoke(app, ["datasets", "transport"])
    assert result.exit_code == 0, result.output
    assert "47737 raw rows" in result.output and "log10_PF_p" in result.output


def test_unknown_dataset_is_a_clear_error():
    result = runner.invoke(app, ["datasets", "transprot"])
    assert result.exit_code == 2
    assert "unknown data set 'transprot'" in result.output and "did you mean 'transport'" in result.output


@pytest.fixture()
def tiny_bench(monkeypatch):
    """Shrink the models so that the CLI path runs in seconds."""
    import evodesign.benchmarks.surrogate as bench

    original = bench.run_surrogate_benchmark

    def small(*args, **kwargs):
        kwargs.update(
            ensemble_params=dict(n_members=2, hidden_layer_sizes=(16,), max_epochs=3),
            forest_params=dict(n_estimators=5, n_jobs=1),
            progress=False,
        )
        return original(*args, **kwargs)

    monkeypatch.setattr(bench, "run_surrogate_benchmark", small)


def test_bench_surrogate_writes_json_and_never_overwrites(tmp_path, tiny_bench):
    out = tmp_path / "s.json"
    args = ["bench", "surrogate", "--targets", "log10_PF_p,S_p", "--max-rows", "400", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"log10_PF_p", "S_p"}
    for target in data["results"].values():
        assert {"mae", "rmse", "r2", "spearman", "coverage90", "fit_seconds"} <= set(target["ensemble"])
        assert {"mae", "rmse", "r2", "spearman", "fit_seconds"} <= set(target["rf"])
    assert data["n_train"] + data["n_test"] == 400
    before = out.read_text()
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "already exists; pass --overwrite" in result.output
    assert out.read_text() == before


def test_bench_surrogate_unknown_target(tmp_path, tiny_bench):
    result = runner.invoke(app, ["bench", "surrogate", "--targets", "PF_P", "--max-rows", "100"])
    assert result.exit_code == 2
    assert "unknown target(s) ['PF_P']" in result.output and "log10_PF_p" in result.output


def test_bench_report_from_json(tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "featurizer.json").write_text(json.dumps({
        "n": 2000, "matminer_per_second": 700.0, "ours_per_second": 70000.0, "speedup": 100.0,
        "max_abs_diff": 1e-12, "max_rel_diff": 1e-14, "n_features": 132,
    }))
    (folder / "NOTES.md").write_text("## Notes\n\nhand-written commentary")
    out = tmp_path / "benchmarks.md"
    result = runner.invoke(app, ["bench", "report", "--results", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| **speedup** | **100x** |" in text and "hand-written commentary" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["bench", "report", "--results", str(empty), "--out", str(out)])
    assert result.exit_code == 2 and "no benchmark JSON files" in result.output


def test_bench_operators_smoke(tmp_path):
    out = tmp_path / "ops.json"
    args = ["bench", "operators", "--max-rows", "400", "--max-epochs", "2", "--gan-steps", "30",
            "--n-offspring", "200", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data["results"]) == {
        "crossover", "gan_mutation", "sbx_pm", "random", "gan_samples", "vae_samples",
        "crossover_guided", "gan_mutation_guided", "sbx_pm_guided", "gan_mutation_difference_guided",
    }
    for name, arm in data["results"].items():
        for decoding in ("plain", "repair"):
            m = arm[decoding]
            assert 0 <= m["strict_validity"] <= m["cdvae_validity"] <= 1
            assert 0 < m["uniqueness"] <= 1 and 0 <= m["novelty"] <= 1
            assert m["offspring_per_second"] > 0
        # the repair never lowers validity: it only swaps in formulas that pass the check
        # (guided arms draw their plain and repair rows separately, so only unguided ones)
        if not name.endswith("_guided"):
            assert arm["repair"]["strict_validity"] >= arm["plain"]["strict_validity"]
    assert 0 <= data["reconstruction_exact"] <= 1
    assert "mean_parent_distance" in data["results"]["crossover"]["plain"]
    (tmp_path / "bench").mkdir()
    out.rename(tmp_path / "bench" / "operators.json")
    report = tmp_path / "b.md"
    result = runner.invoke(app, ["bench", "report", "--results", str(tmp_path / "bench"), "--out", str(report)])
    assert result.exit_code == 0, result.output
    assert "VAE exact-formula reconstruction" in report.read_text()


def test_bench_surrogate_joint_residual_and_bad_ensemble_settings(tmp_path):
    from evodesign.benchmarks.surrogate import run_surrogate_benchmark

    result = run_surrogate_benchmark(
        "transport", ["log10_PF_p", "S_p"], max_rows=400, joint=True, progress=False,
        ensemble_params=dict(n_members=2, hidden_layer_sizes=(16, 16), max_epochs=3, architecture="residual",
                             dropout=0.1, lr_schedule="cosine", warmup_epochs=1),
        forest_params=dict(n_estimators=5, n_jobs=1),
    )
    assert result["joint"] and result["ensemble_params"]["architecture"] == "residual"
    pf, s = result["results"]["log10_PF_p"]["ensemble"], result["results"]["S_p"]["ensemble"]
    assert pf["fit_seconds"] == s["fit_seconds"]  # one model for both targets
    assert pf["mae"] > 0 and s["mae"] > 0 and 0 <= s["coverage90"] <= 1
    bad = runner.invoke(app, ["bench", "surrogate", "--ensemble", '{"architecture": "residual", "dropuot": 0.1}'])
    assert bad.exit_code == 2 and "unknown setting(s) ['dropuot']" in bad.output and "'dropout'" in bad.output
    bad = runner.invoke(app, ["bench", "surrogate", "--ensemble", "{architecture: residual}"])
    assert bad.exit_code == 2 and "--ensemble is not valid JSON" in bad.output


def test_help_and_messages_keep_their_brackets(tmp_path):
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0 and "[campaign] seed" in result.output
    taken = tmp_path / "[x]" / "s.json"
    taken.parent.mkdir()
    taken.write_text("{}")
    result = runner.invoke(app, ["bench", "featurizer", "--json", str(taken)])
    assert result.exit_code == 2
    assert f"error: {taken} already exists; pass --overwrite" in result.output


def test_messages_are_not_wrapped_or_styled(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[campaign]\nname = "d"\n\n[[objectives]]\nname = "S_p"\ndirection = "max"\n\n'
                      "[search]\npop_sise = 8\n")
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    line = next(t for t in result.output.splitlines() if "pop_sise" in t)
    # one line, whatever the terminal width: the valid keys are not broken onto the next line
    assert "n_gen, operators" in line and "checkpoint_every" in line
    assert "unknown key 'pop_sise' in [search] (did you mean 'pop_size'?)" in line
    assert not (tmp_path / "out").exists()


def test_bench_tables_are_drawn_not_repr(monkeypatch):
    from rich.table import Table

    from evodesign.cli.console import console, say

    table = Table(title="t")
    table.add_column("target")
    table.add_row("S_p")
    printed = []
    monkeypatch.setattr(console, "print", lambda *a, **k: printed.append(a[0]))
    say(table)
    say("[search] stays")
    assert printed[0] is table and printed[1] == "[search] stays"


def test_tables_in_a_log_file_are_drawn_wide(monkeypatch):
    """Under nohup a command's stdout is a file: rich would draw 80 columns and cut cells."""
    import io

    from rich.table import Table

    from evodesign.cli.console import LOG_WIDTH, _width

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("COLUMNS", raising=False)
    assert _width(io.StringIO()) == LOG_WIDTH
    assert _width(Terminal()) is None
    monkeypatch.setenv("COLUMNS", "100")
    assert _width(io.StringIO()) is None
    from rich.console import Console

    cells = ["transport/log10_PF_p", "forest_median", "0.36891234", "0.55081234", "0.37412345", "0.64212345",
             "0.90312345", "selected: weighted"]
    table = Table(*[f"column {i}" for i in range(len(cells))])
    table.add_row(*cells)
    drawn = {}
    for width in (80, LOG_WIDTH):
        log = io.StringIO()
        Console(file=log, width=width).print(table)
        drawn[width] = log.getvalue()
    assert "transport/log10_PF_p" not in drawn[80]  # what rich does at its default width
    assert all(cell in drawn[LOG_WIDTH] for cell in cells)
