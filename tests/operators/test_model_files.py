"""Model files as one atomic unit: the sidecar is the commit marker; errors say what to do."""

from __future__ import annotations

import pickle

import pytest
import torch

from operators import VAEGAN, load_generative_model, save_generative_model
from operators.exceptions import ArtifactError, ArtifactMismatchError, OperatorsError
from operators.model_files import (
    model_complete,
    model_paths,
    read_model_files,
    remove_model_files,
    write_model_files,
)

FMT = {"format": "test-model", "format_version": 1}


def write(path, value=1.0, **kwargs):
    return write_model_files(path, {"w": torch.full((3,), value)}, {"note": value}, **FMT, **kwargs)


def test_weights_without_sidecar_are_no_model_and_are_replaced(tmp_path):
    path = tmp_path / "m"
    tensors, sidecar = model_paths(path)
    tensors.write_bytes(b"half-written weights of a killed run")
    (tmp_path / ".m.safetensors.abc123.tmp").write_bytes(b"temp file of a kill")
    assert not model_complete(path)
    write(path)  # no overwrite needed: the orphan is an unfinished write
    assert model_complete(path)
    _, loaded, _ = read_model_files(path, **FMT)
    assert loaded["w"].tolist() == [1.0, 1.0, 1.0]
    # a sidecar without its weights (partial copy) is no model either, and says what to do
    tensors.unlink()
    assert not model_complete(path)
    with pytest.raises(ArtifactError, match=r"has no weights: .*m.safetensors does not exist") as err:
        read_model_files(path, **FMT)
    assert "delete" in str(err.value) and err.value.path == tensors
    removed = remove_model_files(path)
    assert sidecar in removed and not sidecar.exists()
    assert not list(tmp_path.glob(".m.*.tmp"))


def test_existing_model_is_kept_unless_overwrite_and_overwrite_drops_the_sidecar_first(tmp_path, monkeypatch):
    path = tmp_path / "m"
    write(path)
    with pytest.raises(ArtifactError, match="already exists; pass overwrite=True"):
        write(path, 2.0)
    # a kill while the new weights are written leaves no sidecar pairing with other weights
    import operators.model_files as mf

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mf, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        write(path, 2.0, overwrite=True)
    assert not model_complete(path) and not model_paths(path)[1].exists()
    assert not list(tmp_path.glob(".m.*.tmp"))


def test_flipped_bytes_name_the_file_and_what_to_do(tmp_path):
    path = tmp_path / "m"
    write(path)
    tensors, sidecar = model_paths(path)
    blob = bytearray(tensors.read_bytes())
    blob[-1] ^= 0xFF
    tensors.write_bytes(bytes(blob))
    with pytest.raises(ArtifactMismatchError) as err:
        read_model_files(path, **FMT)
    message = str(err.value)
    assert str(tensors) in message and "corrupted or was replaced" in message
    assert f"delete {sidecar} and {tensors}" in message and "retrain" in message
    assert isinstance(err.value, OperatorsError) and err.value.keys == ["sha256"]


def test_errors_survive_pickling_between_processes(tmp_path):
    error = ArtifactMismatchError("m.safetensors is corrupted", ["sha256"], tmp_path / "m.safetensors")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ArtifactMismatchError and str(back) == str(error)
    assert back.keys == ["sha256"] and back.path == error.path
    plain = pickle.loads(pickle.dumps(ArtifactError("gone")))
    assert str(plain) == "gone" and plain.path is None


def test_flipped_generator_weights_name_the_file_and_what_to_do(model, tmp_path):
    from evodesign.generators import load_generators

    path = tmp_path / "gen"
    save_generative_model(VAEGAN(model.vae), path)
    tensors, sidecar = model_paths(path)
    blob = bytearray(tensors.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    tensors.write_bytes(bytes(blob))
    for load in (load_generative_model, load_generators):
        with pytest.raises(OperatorsError, match=r"gen.safetensors does not match its sidecar") as err:
            load(path)
        assert f"delete {sidecar} and {tensors}" in str(err.value)
