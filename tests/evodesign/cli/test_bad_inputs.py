"""Bad inputs through the command line: each ends with exit code 2 and one message that
names the file, key, row or column and what would be valid; no traceback; and nothing is
written (no run folder, no model cache, no file changed).

Every case must fail before any model is trained: a case that trains shows a check that
happens too late. The whole file runs in-process (typer's CliRunner) in a few seconds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evodesign.cli import app

runner = CliRunner()

CSV = """\
formula,band_gap,seebeck
Fe2O3,2.0,150
NaCl,5.0,-20
MgO,7.0,30
CuO,1.2,300
ZnS,3.6,80
CuSO4·5H2O,3.1,10
"""

HEAD = """\
[campaign]
name = "demo"
dataset = "data.csv"
"""

OBJECTIVE = """
[[objectives]]
name = "band_gap"
direction = "max"
"""

SEARCH = """
[search]
pop_size = 8
n_gen = 2
"""

GOOD = HEAD + OBJECTIVE + SEARCH


def campaign(*, head: str = HEAD, objectives: str = OBJECTIVE, extra: str = "") -> str:
    """A small campaign file with one part replaced or added."""
    return head + objectives + SEARCH + extra


def objective(body: str) -> str:
    return "\n[[objectives]]\n" + body + "\n"


# Each case: (id, files written into the folder, argv ({d} is the folder), substrings that the
# message must hold). The files always include data.csv unless the case replaces it.
CASES: list[tuple[str, dict[str, str | bytes], list[str], list[str]]] = [
    # ----------------------------------------------------------------- the TOML file itself
    ("toml-syntax", {"c.toml": HEAD + '[search]\npop_size = "8\n'},
     ["run", "{d}/c.toml"], ["c.toml, line 5, column 14", "not valid TOML", "^"]),
    ("toml-duplicate-key", {"c.toml": GOOD + "\n[search]\nn_gen = 3\n"},
     ["run", "{d}/c.toml"], ["c.toml, line", "not valid TOML"]),
    ("config-missing", {}, ["run", "{d}/nothere.toml"],
     ["campaign file", "nothere.toml not found"]),
    ("config-missing-close-match", {"thermo.toml": GOOD}, ["run", "{d}/therno.toml"],
     ["therno.toml not found", "(did you mean 'thermo.toml'?)", "TOML files there: thermo.toml"]),
    ("config-is-folder", {"folder.toml/x": "x"}, ["run", "{d}/folder.toml"],
     ["folder.toml is a folder, not a TOML file"]),
    ("config-not-utf8", {"c.toml": b"[campaign]\nname = \"d\xe9mo\"\n"}, ["run", "{d}/c.toml"],
     ["c.toml: not UTF-8 text"]),
    # ----------------------------------------------------------------- keys and tables
    ("unknown-key", {"c.toml": GOOD.replace("pop_size", "pop_sise")}, ["run", "{d}/c.toml"],
     ["[search].pop_sise (line 10)", "unknown key 'pop_sise' in [search]",
      "(did you mean 'pop_size'?)", "valid keys: pop_size, n_gen"]),
    ("unknown-table", {"c.toml": GOOD + "\n[serch]\nn_gen = 3\n"}, ["run", "{d}/c.toml"],
     ["[serch] (line 13)", "unknown table [serch] (did you mean [search]?)",
      "valid tables: [campaign], [space], [surrogate], [[objectives]]"]),
    ("objectives-single-brackets", {"c.toml": campaign(objectives='\n[objectives]\nname = "band_gap"\ndirection = "max"\n')},
     ["run", "{d}/c.toml"], ["[[objectives]]", "write [[objectives]] (two brackets)"]),
    ("no-campaign-table", {"c.toml": OBJECTIVE + SEARCH}, ["run", "{d}/c.toml"],
     ["[campaign]", "needs a [campaign] table with name = "]),
    ("no-objectives", {"c.toml": HEAD + SEARCH}, ["run", "{d}/c.toml"],
     ["[[objectives]]", "add at least one [[objectives]] table"]),
    ("wrong-type-string-for-int", {"c.toml": GOOD.replace("pop_size = 8", 'pop_size = "8"')},
     ["run", "{d}/c.toml"], ["[search].pop_size (line 10)", "got '8'", "valid integer"]),
    ("wrong-type-bool-for-int", {"c.toml": GOOD.replace("n_gen = 2", "n_gen = true")},
     ["run", "{d}/c.toml"], ["[search].n_gen (line 11)", "got true"]),
    ("wrong-type-float-for-int", {"c.toml": GOOD.replace("n_gen = 2", "n_gen = 2.5")},
     ["run", "{d}/c.toml"], ["[search].n_gen", "got 2.5"]),
    ("table-given-a-value", {"c.toml": "space = 3\n" + GOOD},
     ["run", "{d}/c.toml"], ["[space]", "got 3: expected a table of keys"]),
    # ----------------------------------------------------------------- [campaign]
    ("campaign-name-with-space", {"c.toml": GOOD.replace('name = "demo"', 'name = "my demo"')},
     ["run", "{d}/c.toml"], ["[campaign].name (line 2)", "got 'my demo'", "letters, digits, '_' and '-'"]),
    ("dataset-typo", {"c.toml": GOOD.replace('"data.csv"', '"transprot"')}, ["run", "{d}/c.toml"],
     ["[campaign].dataset (line 3)", "(did you mean 'transport'?)", "or the path of a .csv file"]),
    ("campaign-seed-negative", {"c.toml": GOOD.replace('dataset = "data.csv"', 'dataset = "data.csv"\nseed = -1')},
     ["run", "{d}/c.toml"], ["[campaign].seed (line 4)", "got -1", "greater than or equal to 0"]),
    # ----------------------------------------------------------------- [[objectives]]
    ("direction-missing", {"c.toml": campaign(objectives=objective('name = "band_gap"'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].direction", "'max' or 'min'", "target = [low, high]"]),
    ("direction-target", {"c.toml": campaign(objectives=objective('name = "band_gap"\ndirection = "target"'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].direction (line 7)", "got 'target'",
                             "remove direction and give target = [low, high]"]),
    ("direction-maximize", {"c.toml": campaign(objectives=objective('name = "band_gap"\ndirection = "maximize"'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].direction", "(did you mean 'max'?)"]),
    ("range-target-nan", {"c.toml": campaign(objectives=objective('name = "band_gap"\ntarget = [nan, 3.0]'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].target (line 7)", "got [nan, 3.0]",
                             "two finite numbers [low, high]"]),
    ("range-target-inf", {"c.toml": campaign(objectives=objective('name = "band_gap"\ntarget = [1.0, inf]'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].target", "got [1.0, inf]"]),
    ("range-target-reversed", {"c.toml": campaign(objectives=objective('name = "band_gap"\ntarget = [3.0, 1.0]'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].target", "low must be smaller than high", "e.g. [1.0, 3.0]"]),
    ("range-target-equal", {"c.toml": campaign(objectives=objective('name = "band_gap"\ntarget = [2.0, 2.0]'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].target", "got [2.0, 2.0]", "narrow interval"]),
    ("range-target-one-number", {"c.toml": campaign(objectives=objective('name = "band_gap"\ntarget = [2.0]'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].target", "got [2.0]", "[low, high]"]),
    ("range-target-maximised", {"c.toml": campaign(objectives=objective('name = "band_gap"\ndirection = "max"\ntarget = [1.0, 2.0]'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].direction", "a range target is minimised", "[low, high]"]),
    ("kappa-on-analytic", {"c.toml": campaign(extra=objective('name = "hhi_production"\ndirection = "min"\nkappa = 1.0'))},
     ["run", "{d}/c.toml"], ["[[objectives]][2].kappa", "computed exactly from the design; remove kappa"]),
    ("kappa-inf", {"c.toml": campaign(objectives=objective('name = "band_gap"\ndirection = "max"\nkappa = inf'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].kappa", "got inf"]),
    ("objective-twice", {"c.toml": campaign(extra=OBJECTIVE)}, ["run", "{d}/c.toml"],
     ["[[objectives]][2].name", "again (already objective 1)"]),
    ("objective-not-in-data", {"c.toml": campaign(objectives=objective('name = "band_gapp"\ndirection = "max"'))},
     ["run", "{d}/c.toml"], ["[[objectives]][1].name (line 6)", "got 'band_gapp'", "not a target of data set 'data.csv'",
                             "(did you mean 'band_gap'?)", "valid: 'band_gap', 'seebeck', 'hhi_production'"]),
    # ----------------------------------------------------------------- [space]
    ("allow-smaller-than-min-elements", {"c.toml": GOOD + '\n[space]\nallow = ["O"]\nmin_elements = 2\n'},
     ["run", "{d}/c.toml"], ["[space].allow (line 14)", "only 1 element allowed ('O')",
                             "min_elements = 2", "set min_elements = 1"]),
    ("min-above-max-elements", {"c.toml": GOOD + "\n[space]\nmax_elements = 2\nmin_elements = 3\n"},
     ["run", "{d}/c.toml"], ["[space].min_elements (line 15)", "must be at most max_elements = 2"]),
    ("max-atoms-below-max-elements", {"c.toml": GOOD + "\n[space]\nmax_elements = 4\nmax_atoms = 3\n"},
     ["run", "{d}/c.toml"], ["[space].max_atoms", "set max_atoms >= max_elements"]),
    ("max-elements-too-many", {"c.toml": GOOD + "\n[space]\nmax_elements = 9\n"},
     ["run", "{d}/c.toml"], ["[space].max_elements (line 14)", "got 9", "less than or equal to 8"]),
    ("allow-not-a-symbol", {"c.toml": GOOD + '\n[space]\nallow = ["Fe", "Xx"]\n'},
     ["run", "{d}/c.toml"], ["[space].allow[2]", "'Xx' is not an element symbol"]),
    ("allow-lowercase-symbol", {"c.toml": GOOD + '\n[space]\nallow = ["fe", "O"]\n'},
     ["run", "{d}/c.toml"], ["[space].allow[1]", "(did you mean 'Fe'?)"]),
    ("allow-and-deny-overlap", {"c.toml": GOOD + '\n[space]\nallow = ["Fe", "O"]\ndeny = ["O"]\n'},
     ["run", "{d}/c.toml"], ["[space].allow", "'O' both allowed and denied"]),
    ("deny-everything", {"c.toml": GOOD + '\n[space]\ndeny = ["Fe", "O", "Na", "Cl", "Mg", "Cu", "Zn", "S", "H"]\n'},
     ["run", "{d}/c.toml"], ["[space].deny (line 14)", "denies every element of data set 'data.csv'"]),
    ("deny-leaves-one", {"c.toml": GOOD + '\n[space]\ndeny = ["Fe", "Na", "Cl", "Mg", "Cu", "Zn", "S", "H"]\n'},
     ["run", "{d}/c.toml"], ["[space].deny", "leaves 1 element of data set 'data.csv' ('O')",
                             "min_elements = 2", "set min_elements = 1"]),
    ("allow-absent-from-data", {"c.toml": GOOD + '\n[space]\nallow = ["Fe", "O", "Au"]\n'},
     ["run", "{d}/c.toml"], ["[space].allow", "'Au' not in data set 'data.csv'"]),
    # ----------------------------------------------------------------- [surrogate]
    ("surrogate-model-typo", {"c.toml": GOOD + '\n[surrogate]\nmodel = "forrest"\n'},
     ["run", "{d}/c.toml"], ["[surrogate].model (line 14)", "got 'forrest'", "'ensemble', 'forest', 'auto' or 'cnn'"]),
    ("surrogate-hidden-zero", {"c.toml": GOOD + "\n[surrogate]\nhidden = [64, 0]\n"},
     ["run", "{d}/c.toml"], ["[surrogate].hidden[2]", "got 0"]),
    ("surrogate-hidden-huge", {"c.toml": GOOD + "\n[surrogate]\nhidden = [1000000]\n"},
     ["run", "{d}/c.toml"], ["[surrogate].hidden[1]", "got 1000000", "16384"]),
    ("surrogate-residual-widths", {"c.toml": GOOD + '\n[surrogate]\narchitecture = "residual"\nhidden = [64, 32]\n'},
     ["run", "{d}/c.toml"], ["[surrogate]", "one repeated width in hidden", "[64, 32]"]),
    ("surrogate-members", {"c.toml": GOOD + "\n[surrogate]\nn_members = 1000\n"},
     ["run", "{d}/c.toml"], ["[surrogate].n_members", "got 1000", "64"]),
    # ----------------------------------------------------------------- [constraints]
    ("charge-balance-typo", {"c.toml": GOOD + '\n[constraints]\ncharge_balance = "strct"\n'},
     ["run", "{d}/c.toml"], ["[constraints].charge_balance", "got 'strct'", "'strict', 'cdvae' or 'off'"]),
    ("max-std-unknown-target", {"c.toml": GOOD + "\n[constraints]\nmax_std = {band_gp = 0.5}\n"},
     ["run", "{d}/c.toml"], ["[constraints].max_std.band_gp", "(did you mean 'band_gap'?)", "valid keys: 'band_gap'"]),
    ("max-std-negative", {"c.toml": GOOD + "\n[constraints]\nmax_std = {band_gap = -1.0}\n"},
     ["run", "{d}/c.toml"], ["[constraints].max_std.band_gap", "a std bound is a positive number"]),
    ("max-std-word", {"c.toml": GOOD + '\n[constraints]\nmax_std = "sometimes"\n'},
     ["run", "{d}/c.toml"], ["[constraints].max_std", "'auto', 'off' or a table {target = bound}"]),
    # ----------------------------------------------------------------- [search], [screen]
    ("pop-size-huge", {"c.toml": GOOD.replace("pop_size = 8", "pop_size = 100000000000")},
     ["run", "{d}/c.toml"], ["[search].pop_size (line 10)", "got 100000000000", "less than or equal to 100000"]),
    ("pop-size-odd", {"c.toml": GOOD.replace("pop_size = 8", "pop_size = 201")},
     ["run", "{d}/c.toml"], ["[search].pop_size", "must be even", "use 200 or 202"]),
    ("pop-size-tiny", {"c.toml": GOOD.replace("pop_size = 8", "pop_size = 2")},
     ["run", "{d}/c.toml"], ["[search].pop_size", "got 2", "greater than or equal to 4"]),
    ("n-gen-zero", {"c.toml": GOOD.replace("n_gen = 2", "n_gen = 0")},
     ["run", "{d}/c.toml"], ["[search].n_gen (line 11)", "got 0"]),
    ("crossover-prob-above-one", {"c.toml": GOOD + "crossover_prob = 1.5\n"},
     ["run", "{d}/c.toml"], ["[search].crossover_prob (line 12)", "got 1.5", "less than or equal to 1"]),
    ("operators-typo", {"c.toml": GOOD + 'operators = "learnt"\n'},
     ["run", "{d}/c.toml"], ["[search].operators", "got 'learnt'", "'learned', 'classical' or 'adaptive'"]),
    ("screen-samples-huge", {"c.toml": GOOD + "\n[screen]\nn_samples = 1000000000000\n"},
     ["screen", "{d}/c.toml"], ["[screen].n_samples (line 14)", "less than or equal to 10000000"]),
    ("screen-source-typo", {"c.toml": GOOD + '\n[screen]\nsource = "GAN"\n'},
     ["screen", "{d}/c.toml"], ["[screen].source", "got 'GAN'", "'gan', 'prior', 'known' or 'random'"]),
    ("two-problems-at-once", {"c.toml": GOOD.replace("pop_size = 8", "pop_size = 7").replace("n_gen = 2", "n_gen = -1")},
     ["run", "{d}/c.toml"], ["(2 problems)", "[search].pop_size", "[search].n_gen"]),
    # ----------------------------------------------------------------- command-line options
    ("seeds-zero", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--seeds", "0"], ["--seeds", "greater than or equal to 1"]),
    ("seed-negative", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--seed", "-1"], ["--seed", "greater than or equal to 0"]),
    ("seed-not-a-number", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--seed", "one"], ["'--seed'", "valid integer"]),
    ("n-jobs-zero", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--seeds", "2", "--n-jobs", "0"],
     ["--n-jobs 0", "-1 for all cores"]),
    ("n-jobs-negative", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--n-jobs", "-3"], ["--n-jobs -3", "1 or more"]),
    ("resume-and-overwrite", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--resume", "--overwrite"],
     ["--resume and --overwrite", "pass one"]),
    ("backend-typo", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--backend", "lokky"],
     ["--backend lokky", "(did you mean loky?)", "valid: loky, threading, dask"]),
    ("scheduler-without-dask", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--scheduler", "tcp://x:8786"],
     ["--scheduler is only used with --backend dask"]),
    ("dask-without-scheduler", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--seeds", "2", "--backend", "dask"],
     ["--backend dask needs --scheduler ADDRESS"]),
    ("out-is-a-file", {"c.toml": GOOD, "taken": "x"}, ["run", "{d}/c.toml", "--out", "{d}/taken"],
     ["--out", "taken is a file"]),
    ("unknown-option", {"c.toml": GOOD}, ["run", "{d}/c.toml", "--seeed", "1"], ["--seeed"]),
    ("screen-seeds-zero", {"c.toml": GOOD}, ["screen", "{d}/c.toml", "--seeds", "0"], ["--seeds"]),
    ("report-missing-folder", {}, ["report", "{d}/runs/seed0"], ["seed0 does not exist", "takes a run folder"]),
    ("report-not-a-run-folder", {"empty/x.txt": "x"}, ["report", "{d}/empty"],
     ["empty is not a finished run folder", "missing pareto.csv"]),
    ("datasets-typo", {}, ["datasets", "transprot"], ["unknown data set 'transprot'", "did you mean 'transport'"]),
    # ----------------------------------------------------------------- the CSV data set
    ("csv-missing", {"c.toml": GOOD.replace("data.csv", "missing.csv"), "data.csv": CSV},
     ["run", "{d}/c.toml"], ["c.toml, [campaign].dataset (line 3)", "missing.csv not found", "CSV files there: data.csv"]),
    ("csv-is-folder", {"c.toml": GOOD.replace("data.csv", "folder.csv"), "folder.csv/x": "x"},
     ["run", "{d}/c.toml"], ["[campaign].dataset (line 3)", "folder.csv is a folder, not a CSV file"]),
    ("csv-empty", {"c.toml": GOOD, "data.csv": ""}, ["run", "{d}/c.toml"],
     ["data.csv is empty (0 bytes)", "a header line naming a 'formula' column"]),
    ("csv-formula-column-absent", {"c.toml": GOOD.replace('dataset = "data.csv"', 'dataset = "data.csv"\nformula_column = "compound"')},
     ["run", "{d}/c.toml"], ["data.csv", "'compound'", "'formula'"]),
    ("csv-no-formula-column", {"c.toml": GOOD, "data.csv": CSV.replace("formula,", "Formula,")},
     ["run", "{d}/c.toml"], ["data.csv", "'formula'", "did you mean 'Formula'?"]),
    ("csv-unknown-element", {"c.toml": GOOD, "data.csv": CSV.replace("MgO,", "Foo2O3,")},
     ["run", "{d}/c.toml"], ["data.csv, row 3 (line 4), column 'formula'", "unknown element 'Foo'",
                             "symbols that start with 'F': 'F', 'Fe'"]),
    ("csv-lowercase-formula", {"c.toml": GOOD, "data.csv": CSV.replace("NaCl,", "nacl,")},
     ["run", "{d}/c.toml"], ["row 2 (line 3), column 'formula'", "did you mean 'NaCl'?"]),
    ("csv-hydrate-zero-multiplier", {"c.toml": GOOD, "data.csv": CSV.replace("CuSO4·5H2O", "CuSO4·0H2O")},
     ["run", "{d}/c.toml"], ["row 6 (line 7), column 'formula'", "zero multiplier 0", "'CuSO4·5H2O'"]),
    ("csv-element-name", {"c.toml": GOOD, "data.csv": CSV.replace("Fe2O3,", "Iron2O3,")},
     ["run", "{d}/c.toml"], ["row 1 (line 2), column 'formula'", "did you mean 'Fe' (iron)?"]),
    ("csv-text-in-target", {"c.toml": GOOD, "data.csv": CSV.replace("7.0,", "seven,")},
     ["run", "{d}/c.toml"], ["data.csv, row 3 (line 4), column 'band_gap'", "non-numeric value 'seven'"]),
    ("csv-not-a-csv-dataset", {"c.toml": GOOD.replace("data.csv", "data.txt"), "data.txt": CSV},
     ["run", "{d}/c.toml"], ["[campaign].dataset", "got 'data.txt'", "the path of a .csv file"]),
]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes and its mtime."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_dir():
            out[key] = "dir"
        else:
            out[key] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mtime_ns}"
    return out


def test_at_least_45_cases_with_distinct_ids():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 45


@pytest.mark.parametrize(("files", "argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(tmp_path, monkeypatch, files, argv, expected):
    folder = tmp_path / "work"
    folder.mkdir()
    files = {"data.csv": CSV, **files}
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    # models would be cached here (or under --out); neither may appear
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # the default --out (runs/output) is relative to here
    argv = [a.replace("{d}", str(folder)) for a in argv]
    if argv[0] in ("run", "screen") and "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    before = _snapshot(tmp_path)

    result = runner.invoke(app, argv)

    output = result.output
    assert result.exit_code == 2, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    for part in expected:
        assert part in output, f"{part!r} not in:\n{output}"
    assert _snapshot(tmp_path) == before, "the command created or changed files"
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------
# Errors raised deep inside a command reach the user the same way: one verbatim line.


def _raise(err: BaseException):
    def run(*args, **kwargs):
        raise err

    return run


def _mismatch() -> BaseException:
    from operators.exceptions import ArtifactMismatchError

    return ArtifactMismatchError(
        "generators file /x/generators-1.safetensors has sha256 ab12..., its sidecar [meta] "
        "says cd34...; the file is corrupted: delete it and run again to retrain", ["sha256"]
    )


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [
        (_mismatch(), 2, ["error: generators file /x/generators-1.safetensors", "[meta]", "delete it"]),
        (MemoryError(), 2, ["error: out of memory", "[search] pop_size", "[screen] n_samples"]),
        (PermissionError(13, "Permission denied", "/x/[out]/seed0"), 2,
         ["error: Permission denied: /x/[out]/seed0"]),
        (KeyboardInterrupt(), 130, ["error: interrupted", "--resume"]),
        (RuntimeError("boom [x]"), 1, ["error: unexpected RuntimeError: boom [x] (a bug in evodesign",
                                       "the traceback is in"]),
    ],
    ids=["operators-artifact-mismatch", "memory", "permission", "ctrl-c", "bug"],
)
def test_errors_inside_a_command_become_one_line(tmp_path, monkeypatch, error, code, expected):
    from evodesign.campaign import Campaign

    (tmp_path / "data.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "c.toml").write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(Campaign, "run", _raise(error))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where a bug's traceback is saved
    result = runner.invoke(app, ["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for part in expected:
        assert part in result.output, result.output
    if code == 1:
        saved = list(tmp_path.glob("evodesign-error-*.txt"))
        assert len(saved) == 1 and "Traceback" in saved[0].read_text() and "boom [x]" in saved[0].read_text()
