"""Every code block of README.md is checked here.

What is executed and what is not:

- Every ```python block is executed as written, in order, each in a fresh namespace, in a
  temporary folder holding a copy of ``runs/`` (so nothing lands in the checkout) with the
  model cache in that folder too (``EVODESIGN_CACHE_DIR``). Two things are made small, not
  changed: ``load_dataset("transport")`` returns a seeded subset of 400 formulas instead of
  34,630, and the copied ``runs/thermoelectric.toml`` has a tiny budget (small networks, a
  few epochs, 2 generations of 10, the structure check of 1 design with 3 relaxation
  steps). The code shown is what a user runs; with the full data
  and file it takes minutes instead of seconds. Likewise the copied
  ``runs/microstructure.toml`` gets 16-pixel images, a library of 300, tiny generators and 2
  generations of 10, and ``evodesign datasets microstructures`` runs with ``--n 40 --size
  16`` (the default library takes minutes to build).
- The campaign lines of the shell blocks are executed through the CLI in that folder, in
  the README's order, with optional ``[...]`` parts left out: ``evodesign run
  runs/thermoelectric.toml``, ``screen``, ``report``, ``run runs/my_data.toml`` and
  ``datasets``; each must exit 0. Not executed: ``verify`` (CHGNet relaxations, minutes),
  ``train-operators`` and ``bench ...`` (minutes to hours on the full data), the dask line
  (needs a cluster) and ``make`` lines (they build a virtual environment).
- Every ``evodesign ...`` line is also checked: its command (and subcommand) exists, and
  every ``--option`` it shows is in that command's ``--help``; file arguments under
  ``runs/`` exist. Each ``make X`` line names a target of the Makefile.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evodesign.campaign.config import CampaignConfig, dumps_toml
from evodesign.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.M | re.S)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
SHELL = [code for lang, code in BLOCKS if lang in ("", "bash", "sh", "console")]
SUBSET_ROWS = 400


def _tiny_thermoelectric(path: Path) -> None:
    """runs/thermoelectric.toml with the same tables and a budget of seconds."""
    data = CampaignConfig.from_toml(ROOT / "runs" / "thermoelectric.toml").to_toml_dict()
    data["surrogate"].update(n_members=2, hidden=[16], max_epochs=3, patience=2)
    data["generators"].update(latent_dim=4, max_epochs=2, gan_steps=20)
    data["search"].update(pop_size=10, n_gen=2, max_tries=2)
    data["verify"].update(top=1, n_structures=1, relax_steps=3, max_atoms=8, n_jobs=1)
    path.write_text(dumps_toml(data), encoding="utf-8")
    CampaignConfig.from_toml(path)  # still a valid campaign


def _tiny_microstructure(path: Path) -> None:
    """runs/microstructure.toml with the same tables and a budget of seconds."""
    data = CampaignConfig.from_toml(ROOT / "runs" / "microstructure.toml").to_toml_dict()
    data["data"].update(n_images=300)
    data["space"].update(size=16)
    data["generators"].update(latent_dim=8, max_epochs=4, gan_steps=100)
    data["search"].update(pop_size=10, n_gen=2)
    path.write_text(dumps_toml(data), encoding="utf-8")
    CampaignConfig.from_toml(path)


#: extra arguments that make an executed README line small (see the module docstring)
def _tiny_loop(path: Path) -> None:
    """runs/microstructure_loop.toml with the same tables and a budget of seconds."""
    data = CampaignConfig.from_toml(path).to_toml_dict()
    data["data"].update(n_images=60)
    data["space"].update(size=16)
    data["surrogate"].update(n_members=2, channels=[4, 8], max_epochs=2, max_rows=40)
    data["search"].update(pop_size=10, n_gen=2, operators="classical", sampling="known")
    data["loop"].update(batch=3, update_epochs=1)
    path.write_text(dumps_toml(data), encoding="utf-8")
    CampaignConfig.from_toml(path)


SMALL = {("datasets", "microstructures"): ["--n", "40", "--size", "16"]}


@pytest.fixture()
def readme_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "runs", tmp_path / "runs", ignore=shutil.ignore_patterns("output"))
    _tiny_thermoelectric(tmp_path / "runs" / "thermoelectric.toml")
    _tiny_microstructure(tmp_path / "runs" / "microstructure.toml")
    _tiny_loop(tmp_path / "runs" / "microstructure_loop.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))

    import evodesign.campaign.models as campaign_models
    import evodesign.datasets as datasets

    full = datasets.load_dataset

    def subset(name: str, *args, **kwargs):
        data = full(name, *args, **kwargs)
        if hasattr(data, "images") or len(data) <= SUBSET_ROWS:  # a library's size is its config's
            return data
        rows = np.sort(np.random.default_rng(0).choice(len(data), SUBSET_ROWS, replace=False))
        frame = data.frame.iloc[rows].reset_index(drop=True)
        return dataclasses.replace(data, frame=frame)

    monkeypatch.setattr(datasets, "load_dataset", subset)
    monkeypatch.setattr(campaign_models, "load_dataset", subset)
    return tmp_path


def test_readme_has_the_blocks_this_file_checks() -> None:
    assert len(PYTHON) >= 3
    assert any("evodesign run" in block for block in SHELL)


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_block_runs(index: int, readme_folder: Path, capsys: pytest.CaptureFixture) -> None:
    code = PYTHON[index]
    # The campaign block runs twice: after `make run` (or a first run) it must still work.
    repeats = 2 if "Campaign.from_toml" in code else 1
    for _ in range(repeats):
        exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
        assert capsys.readouterr().out  # every block shows something
    if repeats == 2 and "thermoelectric" in code:
        assert (readme_folder / "runs/output/thermoelectric/seed0/pareto.csv").exists()
    if "campaign.loop" in code:  # the lab round trip: round 1 recorded (twice run: round 2 too)
        rounds = pd.read_csv(readme_folder / "runs/output/loop-demo/rounds.csv")
        assert rounds["round"].tolist() == [1, 2] and (rounds["n_measured"] == 3).all()


def _commands() -> list[str]:
    lines = []
    for block in SHELL:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith(("evodesign ", "make ")):
                lines.append(line)
    return lines


#: commands executed as the README shows them (see the module docstring)
EXECUTED = ("run", "screen", "report", "datasets")


def _runnable(line: str) -> list[str] | None:
    """The arguments of a README line that runs as written (optional parts dropped)."""
    command = re.split(r"\s{2,}", line)[0]  # the command-line table puts its words after 2+ spaces
    tokens = re.sub(r"\[[^\]]*\]", " ", command).split()[1:]
    if not tokens or tokens[0] not in EXECUTED or any(t.isupper() or ":" in t for t in tokens):
        return None
    return tokens


def test_campaign_shell_lines_run(readme_folder: Path) -> None:
    lines = [args for line in _commands() if line.startswith("evodesign ") and (args := _runnable(line))]
    assert [args[0] for args in lines][:3] == ["run", "screen", "report"]
    for args in lines:
        args = [*args, *SMALL.get(tuple(args[:2]), [])]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, f"`evodesign {' '.join(args)}` failed:\n{result.output}"
    assert (readme_folder / "runs/output/thermoelectric/seed0/pareto.csv").exists()
    assert (readme_folder / "runs/output/thermoelectric/screen-seed0/pareto.csv").exists()


def _help(words: list[str]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, f"`evodesign {' '.join(words)} --help` failed:\n{result.output}"
    return result.output


def _command_words(tokens: list[str]) -> list[str]:
    """The command path of ``evodesign a b ...``: ``[a]`` or ``[a, b]`` for a group."""
    words = [tokens[0]]
    top = _help([])
    assert re.search(rf"^\s+{re.escape(tokens[0])}\s", top, re.M), f"no command {tokens[0]!r}"
    listing = _help(words)
    if "Commands:" in listing:
        assert len(tokens) > 1 and re.search(rf"^\s+{re.escape(tokens[1])}\s", listing, re.M), (
            f"no command `evodesign {tokens[0]} {tokens[1] if len(tokens) > 1 else ''}`"
        )
        words.append(tokens[1])
    return words


@pytest.mark.parametrize("line", [c for c in _commands() if c.startswith("evodesign ")])
def test_shell_command_exists_with_its_options(line: str) -> None:
    tokens = line.split()[1:]
    words = _command_words(tokens)
    text = _help(words)
    for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
            f"README shows `{option}` for `evodesign {' '.join(words)}`, which has no such option"
        )
    for token in tokens[len(words):]:
        if token.startswith("runs/") and not token.startswith("runs/output"):
            assert (ROOT / token).exists(), f"README names {token}, which does not exist"


@pytest.mark.parametrize("line", [c for c in _commands() if c.startswith("make ")])
def test_make_targets_exist(line: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = line.split()[1]
    assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make target {target!r}"


def test_commands_are_found() -> None:
    commands = _commands()
    assert any(c.startswith("make run") for c in commands)
    assert any(c.startswith("evodesign bench search") for c in commands)
    assert os.path.exists(ROOT / "docs" / "config.md")
