"""AttentionEnsembleRegressor: element tokens with pretrained embeddings, a calibrated ensemble."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from evodesign.exceptions import DataError
from evodesign.surrogates import AttentionEnsembleRegressor, load_model, save_model
from evodesign.surrogates.attention import element_embeddings
from evodesign.surrogates.selection import CANDIDATES

ELEMENTS = ["Fe", "Ni", "Cu", "Al", "Si", "O", "Zr"]
SMALL = {"n_members": 2, "d_model": 16, "n_heads": 2, "n_layers": 1, "max_epochs": 40, "patience": 40,
         "learning_rate": 3e-3, "batch_size": 64}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Two torch threads on a busy 2-core machine wait for each other (measured ~9x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy(n, seed):
    """Fractions of 1-4 of 7 elements; the target depends on which elements and how much of
    them (a linear term plus an Al-O interaction), with 3 Magpie-like leading columns."""
    rng = np.random.default_rng(seed)
    F = rng.random((n, len(ELEMENTS))) * (rng.random((n, len(ELEMENTS))) < 0.4)
    F[F.sum(1) == 0, 0] = 1.0
    F /= F.sum(1, keepdims=True)
    y = F @ np.array([1.0, -2.0, 0.5, 3.0, 0.0, -1.0, 2.0]) + 4.0 * F[:, 3] * F[:, 5]
    return np.c_[rng.normal(size=(n, 3)), F], y


@pytest.fixture(scope="module")
def fitted():
    X, y = toy(300, 0)
    return AttentionEnsembleRegressor(ELEMENTS, random_state=0, **SMALL).fit(X[:240], y[:240]), X, y


def test_learns_element_and_fraction_target_better_than_the_mean(fitted):
    model, X, y = fitted
    mean, std = model.predict(X[240:], return_std=True)
    mae = np.abs(mean - y[240:]).mean()
    baseline = np.abs(y[:240].mean() - y[240:]).mean()
    assert mean.shape == std.shape == (60,)
    assert mae < 0.5 * baseline, (mae, baseline)
    assert (std > 0).all()
    assert model.n_missing_ == 0 and model.std_scale_.shape == (1,)


def test_same_seed_same_predictions_other_seed_differs(fitted):
    model, X, y = fitted
    again = AttentionEnsembleRegressor(ELEMENTS, random_state=0, **{**SMALL, "max_epochs": 40}).fit(X[:240], y[:240])
    np.testing.assert_array_equal(model.predict(X[240:]), again.predict(X[240:]))
    other = AttentionEnsembleRegressor(ELEMENTS, random_state=1, **SMALL).fit(X[:240], y[:240])
    assert not np.allclose(model.predict(X[240:]), other.predict(X[240:]))


def test_save_load_round_trip(fitted, tmp_path):
    model, X, _ = fitted
    save_model(model, tmp_path / "att", metadata={"elements": ELEMENTS})
    loaded = load_model(tmp_path / "att", expect={"elements": ELEMENTS})
    assert isinstance(loaded, AttentionEnsembleRegressor)
    for a, b in zip(model.predict(X, return_std=True), loaded.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)


def test_permuting_columns_and_elements_consistently_gives_the_same_prediction(fitted):
    """The model sees a set of (element, fraction) tokens: the column order is irrelevant,
    and the padding of rows with fewer elements is masked out."""
    model, X, _ = fitted
    perm = np.random.default_rng(3).permutation(len(ELEMENTS))
    permuted = AttentionEnsembleRegressor([ELEMENTS[i] for i in perm], **SMALL)
    permuted.set_params(random_state=0)
    # same weights: the members index the table through the vocabulary, so permute the table
    permuted.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    remap = torch.as_tensor(perm)
    net = copy.deepcopy(model.net_)
    net.table, net.missing = net.table[remap], net.missing[remap]
    for member in net.members:
        member.remap = member.remap[remap]
    permuted.net_ = net
    Xp = np.c_[X[:, :3], X[:, 3:][:, perm]]
    np.testing.assert_allclose(permuted.predict(Xp), model.predict(X), rtol=1e-5, atol=1e-5)
    # a row with one element padded in a batch of rows with four: same as predicted alone
    single = np.flatnonzero((X[:, 3:] > 0).sum(1) == 1)[0]
    np.testing.assert_allclose(model.predict(X[[single]]), model.predict(X)[[single]], rtol=1e-5, atol=1e-5)


def test_fraction_rows_alone_and_scale_invariance():
    X, y = toy(120, 1)
    F = X[:, 3:]
    small = {**SMALL, "max_epochs": 3}
    model = AttentionEnsembleRegressor(ELEMENTS, random_state=0, **small).fit(F, y)
    # amounts are normalised: 2x the amounts is the same composition
    np.testing.assert_allclose(model.predict(2 * F), model.predict(F), rtol=1e-6)


def test_bad_inputs_are_refused(fitted):
    model, X, y = fitted
    with pytest.raises(DataError, match="last columns"):
        AttentionEnsembleRegressor(ELEMENTS, **SMALL).fit(X[:, :5], y)
    bad = X.copy()
    bad[4, 5] = -0.1
    with pytest.raises(DataError, match=r"row 4: the fraction of Cu \(column 5\)"):
        AttentionEnsembleRegressor(ELEMENTS, **SMALL).fit(bad, y)
    empty = X.copy()
    empty[7, 3:] = 0.0
    with pytest.raises(DataError, match="row 7 has no element"):
        AttentionEnsembleRegressor(ELEMENTS, **SMALL).fit(empty, y)
    with pytest.raises(DataError, match="distinct"):
        AttentionEnsembleRegressor(["Fe", "Fe"], **SMALL).fit(X[:, -2:], y)
    with pytest.raises(DataError, match="multiple of n_heads"):
        AttentionEnsembleRegressor(ELEMENTS, **{**SMALL, "n_heads": 3}).fit(X, y)
    with pytest.raises(DataError, match="unknown element embedding 'nope'"):
        AttentionEnsembleRegressor(ELEMENTS, **{**SMALL, "embedding": "nope"}).fit(X, y)
    with pytest.raises(DataError, match=r"shape \(n, 10\)"):
        model.predict(X[:, 1:])
    with pytest.raises(DataError, match="not fitted"):
        AttentionEnsembleRegressor(ELEMENTS).predict(X)


def test_elements_missing_from_the_table_get_a_learned_vector():
    table, missing = element_embeddings(["Fe", "Xx", "O"])
    assert table.shape == (3, 200) and missing.tolist() == [False, True, False]
    assert not table[1].any() and np.abs(table[0]).sum() > 0
    X = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.4, 0.6]] * 10)
    model = AttentionEnsembleRegressor(["Fe", "Xx", "O"], random_state=0, **{**SMALL, "max_epochs": 2})
    model.fit(X, np.arange(30.0) % 3)
    assert model.n_missing_ == 1 and tuple(model.net_.members[0].learned.shape) == (1, 200)


def test_the_other_tables_are_matminers_vectors_by_element(tmp_path):
    """megnet (a list by atomic number) and cgcnn (keyed by atomic number as text) map to the
    right element: compared with matminer's own reader, and CGCNN's one-hot rows by hand."""
    from matminer.utils.data import MEGNetElementData

    megnet, missing = element_embeddings(["H", "O", "Bi", "Xx"], "megnet")
    assert megnet.shape == (4, 16) and missing.tolist() == [False, False, False, True]
    reader = MEGNetElementData()
    for i, el in enumerate(["H", "O", "Bi"]):
        expected = [reader.all_element_data[el][f"embedding {k}"] for k in range(1, 17)]
        np.testing.assert_allclose(megnet[i], expected, rtol=1e-6)
    cgcnn, missing = element_embeddings(["H", "O", "Xx"], "cgcnn")
    assert cgcnn.shape == (3, 92) and missing.tolist() == [False, False, True]
    # one-hot bins: the group at column g (columns 0-18), then the period p at column 18 + p
    assert np.flatnonzero(cgcnn[0, :19]).tolist() == [1] and np.flatnonzero(cgcnn[1, :19]).tolist() == [16]
    assert np.flatnonzero(cgcnn[0, 19:26]).tolist() == [0] and np.flatnonzero(cgcnn[1, 19:26]).tolist() == [1]
    with pytest.raises(DataError, match="valid: matscholar, megnet, cgcnn"):
        element_embeddings(["H"], "word2vec")
    X, y = toy(120, 1)
    model = AttentionEnsembleRegressor(ELEMENTS, embedding="megnet", random_state=0, **{**SMALL, "max_epochs": 3})
    model.fit(X, y)
    assert tuple(model.net_.table.shape) == (len(ELEMENTS), 16)
    save_model(model, tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(X), model.predict(X), atol=1e-6)


def test_is_a_selection_candidate():
    assert CANDIDATES["attention"] is AttentionEnsembleRegressor


def test_auto_surrogate_selects_and_saves_the_attention_candidate(tmp_path):
    from evodesign.surrogates import AutoSurrogate

    X, y = toy(80, 2)
    auto = AutoSurrogate(candidates=("attention",), n_splits=2, blend=False, random_state=0,
                         candidate_params={"attention": {"elements": ELEMENTS, **SMALL, "max_epochs": 3}}).fit(X, y)
    assert auto.selected_ == {"0": "attention"}
    save_model(auto, tmp_path / "auto")
    loaded = load_model(tmp_path / "auto")
    np.testing.assert_array_equal(loaded.predict(X), auto.predict(X))
    with pytest.raises(DataError, match="elements"):
        AutoSurrogate(candidates=("attention",)).candidate("attention")


def test_device_names_are_checked():
    X, y = toy(40, 4)
    with pytest.raises(DataError, match="'gpu0' is not a torch device"):
        AttentionEnsembleRegressor(ELEMENTS, device="gpu0", **SMALL).fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(DataError, match="sees no CUDA GPU"):
            AttentionEnsembleRegressor(ELEMENTS, device="cuda", **SMALL).fit(X, y)


def test_explicit_cpu_device_is_the_default(fitted):
    model, X, y = fitted
    again = AttentionEnsembleRegressor(ELEMENTS, random_state=0, device="cpu", **SMALL).fit(X[:240], y[:240])
    np.testing.assert_array_equal(model.predict(X[240:]), again.predict(X[240:]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fits_on_a_gpu_and_comes_back_to_the_cpu(fitted, tmp_path):
    model, X, y = fitted
    gpu = AttentionEnsembleRegressor(ELEMENTS, random_state=0, device="cuda", **SMALL).fit(X[:240], y[:240])
    assert all(p.device.type == "cpu" for p in gpu.net_.parameters())
    mean = gpu.predict(X[240:])
    baseline = np.abs(y[:240].mean() - y[240:]).mean()
    assert np.abs(mean - y[240:]).mean() < 0.5 * baseline
    again = AttentionEnsembleRegressor(ELEMENTS, random_state=0, device="cuda", **SMALL).fit(X[:240], y[:240])
    np.testing.assert_allclose(again.predict(X[240:]), mean, rtol=1e-4, atol=1e-4)
    save_model(gpu, tmp_path / "gpu", metadata={"elements": ELEMENTS})
    np.testing.assert_array_equal(load_model(tmp_path / "gpu").predict(X[240:]), mean)


def test_written_out_encoder_block_is_torchs_layer():
    from evodesign.surrogates.attention_layers import _encoder_block

    gen = torch.Generator().manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
    with torch.no_grad():
        for p in layer.parameters():  # not the init's zeros and ones: every parameter plays a part
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    x = torch.randn(50, 5, 16, generator=gen)
    pad = torch.arange(5)[None, :] >= torch.randint(1, 6, (50, 1), generator=gen)  # 1-5 real tokens per row
    layer.train()  # the path training takes (no fused inference kernel)
    expected = layer(x, src_key_padding_mask=pad)
    got = _encoder_block(layer, x, pad)
    real = ~pad
    torch.testing.assert_close(got[real], expected[real], rtol=1e-5, atol=1e-5)
    # a padded token changes no real token's output
    x2 = x.clone()
    x2[pad] = 100.0
    torch.testing.assert_close(_encoder_block(layer, x2, pad)[real], got[real], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_train, bs, sorted_batches", [(300, 20, False), (2000, 64, True)])
def test_each_epoch_sees_every_row_once_in_batches_padded_little(n_train, bs, sorted_batches):
    from evodesign.surrogates.attention import _LENGTH_GROUPS, _SORTED_MIN_BATCHES

    lengths = torch.randint(1, 9, (n_train + 7,), generator=torch.Generator().manual_seed(0))
    train = torch.arange(7, n_train + 7)  # row indices, not 0..n-1
    batches = AttentionEnsembleRegressor._batches(train, lengths, bs, torch.Generator().manual_seed(1))
    assert (len(batches) >= _SORTED_MIN_BATCHES) == sorted_batches
    rows = torch.cat([r for batch in batches for r in batch])
    assert sorted(rows.tolist()) == train.tolist()
    assert all(sum(len(r) for r in batch) <= bs for batch in batches)
    if sorted_batches:  # one group per batch, of one or two neighbouring counts
        assert all(len(batch) == 1 for batch in batches)
        spans = [int(lengths[b[0]].max() - lengths[b[0]].min()) for b in batches]
        assert max(spans) <= 1
    else:  # random batches, each split into the length groups
        edges = (0, *_LENGTH_GROUPS, 99)
        for batch in batches:
            for r in batch:
                g = [i for i in range(len(edges) - 1) if edges[i] < int(lengths[r[0]]) <= edges[i + 1]][0]
                assert ((lengths[r] > edges[g]) & (lengths[r] <= edges[g + 1])).all()
        # a random batch mixes counts (a sorted one would not)
        assert max(len(batch) for batch in batches) == len(_LENGTH_GROUPS) + 1
    again = AttentionEnsembleRegressor._batches(train, lengths, bs, torch.Generator().manual_seed(1))
    again = [r for batch in again for r in batch]  # the same generator state: the same batches
    assert len(again) == sum(len(b) for b in batches)
    assert all(torch.equal(a, b) for a, b in zip(again, [r for batch in batches for r in batch]))


def test_batch_size_is_chosen_from_the_rows_unless_given():
    from evodesign.surrogates.attention import auto_batch_size

    assert [auto_batch_size(n) for n in (200, 3_300, 12_000, 25_000, 100_000)] == [128, 128, 256, 512, 512]
    X, y = toy(120, 3)
    model = AttentionEnsembleRegressor(ELEMENTS, random_state=0, **{**SMALL, "max_epochs": 1, "batch_size": None})
    assert model.fit(X, y).batch_size_ == 128
    assert AttentionEnsembleRegressor(ELEMENTS, random_state=0, **{**SMALL, "max_epochs": 1}).fit(X, y).batch_size_ == 64
    with pytest.raises(DataError, match="batch_size must be a positive integer or None"):
        AttentionEnsembleRegressor(ELEMENTS, **{**SMALL, "batch_size": 0}).fit(X, y)


def test_cosine_schedule_trains_and_bad_schedules_are_refused(capsys):
    X, y = toy(200, 5)
    small = {**SMALL, "max_epochs": 6, "patience": 6}
    constant = AttentionEnsembleRegressor(ELEMENTS, random_state=0, **small).fit(X, y)
    cosine = AttentionEnsembleRegressor(ELEMENTS, random_state=0, lr_schedule="cosine", warmup_epochs=1,
                                        verbose=True, **small).fit(X, y)
    assert not np.allclose(cosine.predict(X), constant.predict(X))
    out = capsys.readouterr().out
    assert "attention surrogate, network 1/2" in out and "network 2/2" in out and "best val error" in out
    with pytest.raises(DataError, match="lr_schedule must be 'constant' or 'cosine', got 'linear'"):
        AttentionEnsembleRegressor(ELEMENTS, lr_schedule="linear", **SMALL).fit(X, y)


def test_descriptors_beside_the_tokens_are_read_saved_and_checked(tmp_path):
    """descriptors=True: the columns before the fractions reach the head. A target that
    depends on one of them is learned, which the tokens alone cannot do; the column
    statistics travel with the model file; bad descriptor inputs are named."""
    X, y = toy(300, 6)
    y = y + 2.0 * X[:, 0]  # the first "Magpie" column, invisible to the tokens
    small = {**SMALL, "max_epochs": 40}
    tokens = AttentionEnsembleRegressor(ELEMENTS, random_state=0, **small).fit(X[:240], y[:240])
    hybrid = AttentionEnsembleRegressor(ELEMENTS, descriptors=True, random_state=0, **small).fit(X[:240], y[:240])
    mae_tokens = np.abs(tokens.predict(X[240:]) - y[240:]).mean()
    mae_hybrid = np.abs(hybrid.predict(X[240:]) - y[240:]).mean()
    assert mae_hybrid < 0.6 * mae_tokens, (mae_hybrid, mae_tokens)
    assert hybrid.x_mean_.shape == (X.shape[1],) and (hybrid.x_min_ <= hybrid.x_max_).all()
    # inputs beyond the training range are clipped to it, as the deep ensemble's
    far = X[240:].copy()
    far[:, 0] = hybrid.x_max_[0] + 100.0
    edge = X[240:].copy()
    edge[:, 0] = hybrid.x_max_[0]
    np.testing.assert_array_equal(hybrid.predict(far), hybrid.predict(edge))
    save_model(hybrid, tmp_path / "hyb", metadata={"elements": ELEMENTS})
    loaded = load_model(tmp_path / "hyb", expect={"elements": ELEMENTS})
    assert loaded.descriptors
    for a, b in zip(hybrid.predict(X, return_std=True), loaded.predict(X, return_std=True)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="descriptors=True needs columns before the 7 element fractions"):
        AttentionEnsembleRegressor(ELEMENTS, descriptors=True, **SMALL).fit(X[:, 3:], y)
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError, match=r"row 5, column 1 \(a descriptor\) is nan"):
        hybrid.predict(bad)


def test_files_without_column_statistics_still_load(fitted):
    """Model files written before the descriptor option hold no x_* arrays."""
    model, X, _ = fitted
    tensors = {k: v for k, v in model._state_tensors().items() if not k.startswith("x_")}
    assert {"x_mean_", "x_scale_", "x_min_", "x_max_"} <= set(model._state_tensors()) - set(tensors)
    old = AttentionEnsembleRegressor._from_state(model.get_params(), model._fitted_info(), tensors)
    np.testing.assert_array_equal(old.predict(X), model.predict(X))
    assert np.isinf(old.x_max_).all()
