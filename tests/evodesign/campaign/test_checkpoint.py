"""Checkpoints: nothing in one can run code, corruption is caught, resume is bit-identical."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign import CheckpointError, RunExistsError
from evodesign.campaign.checkpoint import CHECKPOINT, MAGIC, read_checkpoint
from evodesign.campaign.runner import cli_wording


def front(result):
    return result.designs.drop(columns=["composition"]).reset_index(drop=True)


class Killed(Exception):
    pass


def kill_at(generation):
    def callback(gen):
        if gen == generation:
            raise Killed

    return callback


def split(raw: bytes) -> tuple[dict, bytes]:
    end = raw.find(b"\n", len(MAGIC))
    return json.loads(raw[len(MAGIC) : end]), raw[end + 1 :]


def forge(header: dict, body: bytes) -> bytes:
    """A checkpoint with a valid header for ``body`` (what an attacker can always write)."""
    header = {**header, "body_sha256": hashlib.sha256(body).hexdigest(), "body_bytes": len(body)}
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + body


def body_arrays(path) -> tuple[dict, dict]:
    """The header and the arrays of a checkpoint's body."""
    header, body = split(path.read_bytes())
    with np.load(io.BytesIO(body)) as npz:
        return header, {name: npz[name] for name in npz.files}


def write_arrays(path, header: dict, arrays: dict) -> None:
    """A checkpoint with these arrays as its body and a matching header."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(forge(header, buffer.getvalue()))


class Payload:
    """Unpickling this runs code: it creates the file named by ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def finished(campaign_factory):
    campaign = campaign_factory()
    result = campaign.run(seed=0)
    return campaign, result.run_dir / CHECKPOINT


@pytest.mark.parametrize("operators, generation", [("classical", 1), ("classical", 3), ("learned", 1), ("learned", 2)])
def test_resume_after_a_kill_is_bit_identical(campaign_factory, tmp_path, operators, generation):
    search = {"operators": operators, "n_gen": 4}
    if operators == "learned":
        search["sampling"] = "mix"
    full = campaign_factory(out=tmp_path / "full", **search).run(seed=3)
    with pytest.raises(Killed):
        campaign_factory(out=tmp_path / "cut", **search).run(seed=3, on_generation=kill_at(generation))
    resumed = campaign_factory(out=tmp_path / "cut", **search).run(seed=3, resume=True)
    pd.testing.assert_frame_equal(front(resumed), front(full))
    pd.testing.assert_frame_equal(resumed.history.drop(columns="seconds"), full.history.drop(columns="seconds"))


def test_checkpoint_is_small_plain_data(finished):
    _, path = finished
    raw = path.read_bytes()
    assert len(raw) < 200_000  # a population of 20, not a pickle of the whole algorithm
    header, body = split(raw)
    assert header["body_sha256"] == hashlib.sha256(body).hexdigest()
    with np.load(io.BytesIO(body), allow_pickle=False) as npz:  # plain arrays only
        assert {"pop.X", "pop.F", "pop.G", "pop.CV", "meta.json"} <= set(npz.files)
        assert all(npz[name].dtype != object for name in npz.files)


def test_crafted_pickle_body_does_not_run(finished, tmp_path):
    campaign, path = finished
    header, _ = split(path.read_bytes())
    marker = tmp_path / "pwned"
    path.write_bytes(forge(header, pickle.dumps(Payload(marker))))
    with pytest.raises(CheckpointError, match="not a search state"):
        campaign.run(seed=0, resume=True)
    assert not marker.exists()


def test_crafted_npz_with_a_pickled_member_does_not_run(finished, tmp_path):
    campaign, path = finished
    header, arrays = body_arrays(path)
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = Payload(marker)
    arrays["pop.X"] = evil  # saved with allow_pickle=True by the attacker
    write_arrays(path, header, arrays)
    with pytest.raises(CheckpointError, match="not a search state"):
        campaign.run(seed=0, resume=True)
    assert not marker.exists()


def test_old_pickle_checkpoint_is_refused_unread(finished, tmp_path):
    campaign, path = finished
    marker = tmp_path / "pwned"
    path.unlink()
    (path.parent / "checkpoint.pkl").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError, match="older evodesign"):
        campaign.run(seed=0, resume=True)
    assert not marker.exists()


def test_flipped_byte_in_the_body_is_caught(finished):
    campaign, path = finished
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        campaign.run(seed=0, resume=True)


def test_header_copied_onto_another_body_is_caught(finished, campaign_factory):
    campaign, path = finished
    other = campaign_factory().run(seed=1).run_dir / CHECKPOINT
    header_line = path.read_bytes().split(b"\n", 2)[1]
    _, other_body = split(other.read_bytes())
    path.write_bytes(MAGIC + header_line + b"\n" + other_body)
    with pytest.raises(CheckpointError, match="checksum"):
        campaign.run(seed=0, resume=True)


def test_valid_npz_of_something_else_is_refused_by_name(finished):
    campaign, path = finished
    header, arrays = body_arrays(path)
    del arrays["pop.F"]
    write_arrays(path, header, arrays)
    with pytest.raises(CheckpointError, match="'pop.F'"):
        campaign.run(seed=0, resume=True)
    write_arrays(path, header, {"weights": np.zeros(3)})
    with pytest.raises(CheckpointError, match="not a search state"):
        campaign.run(seed=0, resume=True)


def test_wrong_population_shape_is_refused(finished):
    campaign, path = finished
    header, arrays = body_arrays(path)
    arrays["pop.X"] = arrays["pop.X"][:, :5]
    write_arrays(path, header, arrays)
    with pytest.raises(CheckpointError, match=r"'pop.X' has shape \(20, 5\)"):
        campaign.run(seed=0, resume=True)


def test_config_change_names_the_changed_keys(finished, campaign_factory):
    campaign, path = finished
    changed = campaign_factory(out=campaign.out_root, mutation_prob=0.5)
    with pytest.raises(CheckpointError, match=r"these keys changed since it was written: search\.mutation_prob"):
        changed.run(seed=0, resume=True)


def test_folder_without_checkpoint_says_overwrite(finished):
    campaign, path = finished
    path.unlink()
    with pytest.raises(CheckpointError, match="holds no checkpoint.*overwrite=True"):
        campaign.run(seed=0, resume=True)
    with pytest.raises(RunExistsError) as info:
        campaign.run(seed=0)
    message = str(info.value)
    assert "no checkpoint" in message and "resume=True" not in message and "overwrite=True" in message
    assert "--overwrite" in cli_wording(message) and "overwrite=True" not in cli_wording(message)


def test_leftover_temporary_file_is_removed_on_resume(finished):
    campaign, path = finished
    leftover = path.parent / f".{CHECKPOINT}.abc123.tmp"
    leftover.write_bytes(b"half a checkpoint")
    campaign.run(seed=0, resume=True)
    assert not leftover.exists()


def test_read_checkpoint_gives_the_population(finished):
    _, path = finished
    header, state = read_checkpoint(path)
    pop = state.population()
    assert pop.get("X").shape == (20, len(state.arrays["pop.X"][0]))
    assert header["generation"] == len(state.history) == 4


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    from evodesign.campaign.checkpoint import atomic_write_text

    path = tmp_path / "pareto.csv"
    atomic_write_text(path, "formula\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("formula\n")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_cli_resume_of_a_crafted_checkpoint_exits_2_without_running_it(make_config, small_csv, cache_dir, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from evodesign.cli import app

    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(cache_dir))
    config = tmp_path / "c.toml"
    make_config(small_csv).write_toml(config)
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(config), "--out", str(out), "--quiet"]).exit_code == 0
    path = out / "tiny" / "seed0" / CHECKPOINT
    header, _ = split(path.read_bytes())
    marker = tmp_path / "pwned"
    path.write_bytes(forge(header, pickle.dumps(Payload(marker))))
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    result = runner.invoke(app, ["run", str(config), "--out", str(out), "--resume", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "not a search state" in result.output and "Traceback" not in result.output
    assert not marker.exists()
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before
    result = runner.invoke(app, ["run", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and "--resume to continue it" in result.output and "resume=True" not in result.output
