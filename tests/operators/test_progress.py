"""The one progress display of every training loop: content, labels, fallbacks, no effect."""

from __future__ import annotations

import sys

import torch
from toy_data import toy_vectors

from operators.progress import _Lines, labelled, progress_bar, run_label
from operators.training import fit_latent_gan, fit_vae


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_carry_label_stage_count_eta_and_status() -> None:
    clock, out = _Clock(), []
    lines = _Lines(200, "surrogate (5 networks trained together)", unit="epoch", label="seed1",
                   early_stop=True, interval=30, clock=clock, write=out.append)
    clock.now += 2
    lines.update(1, "best val error 0.5")  # the first update always prints
    for _ in range(9):
        clock.now += 2
        lines.update(1)  # within 30 s of the last line: silent
    assert len(out) == 1
    clock.now += 12
    lines.update(1, "best val error 0.4")  # 32 s after the first line
    clock.now += 5
    lines.close()
    assert out[0] == (
        "[seed1] surrogate (5 networks trained together): epoch 1/200 (0%), 0:02 elapsed, "
        "ETA <= 6:38 | best val error 0.5"
    )
    assert out[1].startswith("[seed1] surrogate (5 networks trained together): epoch 11/200 (5%)")
    assert "ETA <= " in out[1] and out[1].endswith("| best val error 0.4")
    assert out[2] == (
        "[seed1] surrogate (5 networks trained together): epoch 11/200, done in 0:37 "
        "(stopped early) | best val error 0.4"
    )


def test_run_label_reaches_bars_and_lines(capsys) -> None:
    assert labelled("gen 1/40") == "gen 1/40"
    with run_label("seed3"):
        assert labelled("gen 1/40") == "[seed3] gen 1/40"
        with progress_bar(3, "latent GAN", unit="step") as bar:  # stdout captured: lines
            for _ in range(3):
                bar.update(1, "FD 0.1")
    assert labelled("gen 1/40") == "gen 1/40"  # the block is left
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[seed3] latent GAN: step 1/3 (33%), 0:00 elapsed, ETA 0:00 | FD 0.1"
    assert out[-1] == "[seed3] latent GAN: step 3/3, done in 0:00 | FD 0.1"


def test_disabled_display_prints_nothing(capsys) -> None:
    with progress_bar(5, "VAE", enabled=False) as bar:
        bar.update(1, "x")
    assert capsys.readouterr().out == ""


def test_terminal_bar_keeps_brackets_and_nests_without_error(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    with run_label("seed0"):
        with progress_bar(4, "VAE [phase 1]", unit="epoch", early_stop=True) as bar:
            bar.update(1, "val [x] 0.3")
            with progress_bar(2, "inner", unit="step") as inner:  # a second live display
                inner.update(2)
            bar.update(1)
    out = capsys.readouterr().out
    assert "[seed0] VAE [phase 1]" in out  # no rich markup: brackets reach the screen
    # rich >= 14 stacks nested live displays; older rich refuses them and we print lines
    assert "[seed0] inner" in out


def test_generator_training_is_bit_identical_with_progress(capsys) -> None:
    X = toy_vectors(200, seed=2)
    small = dict(hidden=(16,), latent_dim=3, max_epochs=4, warmup_epochs=2, patience=2,
                 sharpen_epochs=2, random_state=5)
    a, ha = fit_vae(X, progress=False, **small)
    b, hb = fit_vae(X, progress=True, **small)
    for (key, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), key
    assert ha["val_loss"] == hb["val_loss"]
    tiny = dict(hidden=(8,), n_steps=6, eval_every=3, random_state=1)
    g1, _ = fit_latent_gan(a, X, progress=False, **tiny)
    g2, _ = fit_latent_gan(a, X, progress=True, **tiny)
    for (key, va), vb in zip(g1.state_dict().items(), g2.state_dict().values()):
        assert torch.equal(va, vb), key
    out = capsys.readouterr().out
    assert "generators: VAE" in out and "epoch" in out and "generators: latent GAN: step" in out
