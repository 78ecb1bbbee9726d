"""The microstructure families, the seeded library and its cache, and bring-your-own images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evodesign.datasets import microstructures as ms
from evodesign.datasets.microstructure_families import FAMILIES, _stamp, render, sample_params
from evodesign.datasets.microstructure_images import load_images
from evodesign.exceptions import DataError

# --- families --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize("size", [16, 24])
def test_every_family_renders_binary_images_anywhere_in_its_bounds(name: str, size: int) -> None:
    spec = FAMILIES[name]
    rng = np.random.default_rng(3)
    params = np.vstack([spec.lower, spec.upper, sample_params(name, 6, rng)])
    images = render(name, params, size, rng)
    assert images.shape == (8, size, size)
    assert images.dtype == np.uint8
    assert set(np.unique(images)) <= {0, 1}
    single = render(name, params[2], size, rng)
    assert single.shape == (size, size)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_sampled_params_lie_in_bounds_and_integers_are_whole(name: str) -> None:
    spec = FAMILIES[name]
    values = sample_params(name, 400, np.random.default_rng(0))
    assert values.shape == (400, spec.n_params)
    assert (values >= spec.bounds[:, 0]).all() and (values <= spec.bounds[:, 1]).all()
    ints = np.asarray(spec.integer)
    assert np.array_equal(values[:, ints], np.round(values[:, ints]))
    if ints.any():  # both integer end points are drawn
        column = values[:, ints][:, 0]
        assert column.min() == spec.bounds[ints][0, 0] and column.max() == spec.bounds[ints][0, 1]


@pytest.mark.parametrize("name", ["grf_isotropic", "grf_anisotropic"])
def test_gaussian_fields_hit_the_filler_fraction_exactly(name: str) -> None:
    spec = FAMILIES[name]
    params = sample_params(name, 10, np.random.default_rng(1))
    images = render(name, params, 20, np.random.default_rng(2))
    fraction = params[:, spec.parameters.index("fraction")]
    assert np.array_equal(images.sum(axis=(1, 2)), np.round(fraction * 400))


def test_inclusion_families_hit_their_target_fraction_on_average() -> None:
    rng = np.random.default_rng(0)
    for name, params in [
        ("discs", [0.4, 3.0, 0.2]),
        ("ellipses", [0.4, 5.0, 2.0, 30.0, 90.0]),
        ("fibres", [0.4, 16.0, 2.0, 0.0, 0.0]),
    ]:
        mean = render(name, np.tile(params, (20, 1)), 64, rng).mean()
        assert abs(mean - 0.4) < 0.04, (name, mean)


def test_anisotropic_field_along_x_is_longer_along_x() -> None:
    params = np.tile([8.0, 4.0, 0.0, 0.5], (8, 1))
    images = render("grf_anisotropic", params, 64, np.random.default_rng(0))
    changes_along_x = np.abs(np.diff(images.astype(int), axis=2)).sum()
    changes_along_y = np.abs(np.diff(images.astype(int), axis=1)).sum()
    assert changes_along_y > 2 * changes_along_x


def test_aligned_laminates_are_exact_stripes() -> None:
    rng = np.random.default_rng(0)
    along_x = render("laminate", [4, 0.5, 0.0, 0.0, 1.0], 16, rng)
    # layers run along x: every row is uniform, each period of 4 rows holds 2 filler rows
    assert (along_x == along_x[:, :1]).all()
    assert along_x[:, 0].reshape(4, 4).sum(axis=1).tolist() == [2, 2, 2, 2]
    along_y = render("laminate", [4, 0.25, 90.0, 0.0, 1.0], 16, rng)
    assert (along_y == along_y[:1, :]).all()
    assert along_y[0].sum() == 4


def test_laminate_defects_flip_the_phase() -> None:
    clean = render("laminate", [2, 0.5, 0.0, 0.0, 2.0], 32, np.random.default_rng(5))
    defective = render("laminate", [2, 0.5, 0.0, 0.2, 2.0], 32, np.random.default_rng(5))
    assert (clean != defective).any()
    assert not (defective == defective[:, :1]).all()  # rows are no longer uniform


def test_stamp_wraps_around_the_periodic_borders() -> None:
    one = np.array([1.0])
    disc = _stamp(8, np.array([[0.0, 0.0]]), one, one, np.zeros(1), "ellipse")
    expected = np.zeros((8, 8), dtype=np.uint8)
    expected[[0, 0, 1, 0, 7], [0, 1, 0, 7, 0]] = 1
    assert np.array_equal(disc, expected)


def test_thicker_voronoi_walls_contain_the_thinner_ones() -> None:
    thin = render("voronoi", [12, 1.5], 32, np.random.default_rng(4))
    thick = render("voronoi", [12, 4.0], 32, np.random.default_rng(4))
    assert thin.sum() < thick.sum()
    assert (thick[thin == 1] == 1).all()


def test_render_rejects_bad_params_with_the_name_and_bounds() -> None:
    with pytest.raises(DataError, match=r"fraction = 0\.9 is outside its bounds \[0\.05, 0\.8\]"):
        render("grf_isotropic", [3.0, 0.9], 16)
    with pytest.raises(DataError, match="takes 2 parameters"):
        render("grf_isotropic", [3.0], 16)
    with pytest.raises(DataError, match="unknown microstructure family 'blobs'; valid: grf_"):
        render("blobs", [3.0], 16)
    with pytest.raises(DataError, match="image size must be an integer >= 8"):
        render("discs", [0.3, 2.0, 0.0], 4)


# --- the library -------------------------------------------------------------------------


def test_library_images_are_seeded_and_cover_every_family() -> None:
    images, family, params = ms.generate_library_images(28, 16, seed=0)
    again = ms.generate_library_images(28, 16, seed=0)
    other = ms.generate_library_images(28, 16, seed=1)
    assert np.array_equal(images, again[0]) and np.array_equal(family, again[1])
    assert np.array_equal(params, again[2], equal_nan=True)
    assert not np.array_equal(images, other[0])
    counts = {name: int((family == name).sum()) for name in FAMILIES}
    assert sum(counts.values()) == 28 and min(counts.values()) >= 2
    for name in FAMILIES:  # each row's parameters are its family's, padded with NaN
        spec = FAMILIES[name]
        rows = params[family == name]
        assert np.isnan(rows[:, spec.n_params :]).all()
        assert (rows[:, : spec.n_params] >= spec.bounds[:, 0]).all()
        assert (rows[:, : spec.n_params] <= spec.bounds[:, 1]).all()


def test_library_fractions_span_the_stated_range() -> None:
    images, family, _ = ms.generate_library_images(700, 32, seed=0)
    fraction = images.mean(axis=(1, 2))
    assert fraction.min() > 0.0 and fraction.max() < 1.0
    assert np.quantile(fraction, 0.05) < 0.15 and np.quantile(fraction, 0.95) > 0.65


def _stand_in(calls: list):
    """A solver that records its calls; k = fraction-weighted means, no physics."""

    def solve(images, conductivity=(1.0, 10.0)):
        calls.append(len(images))
        phi = np.asarray(images).mean(axis=(1, 2))
        k_matrix, k_filler = conductivity
        return np.column_stack([k_matrix + phi * (k_filler - k_matrix), 1.0 + phi])

    return solve


@pytest.fixture
def solver_calls(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    monkeypatch.setattr(ms, "_solver", lambda: _stand_in(calls))
    return calls


def test_library_cache_round_trip(tmp_path: Path, solver_calls: list) -> None:
    built = ms.build_library(n=21, size=16, seed=2, progress=False, cache_dir=tmp_path, n_jobs=1)
    path = tmp_path / "microstructures-16px-21-seed2.npz"
    assert solver_calls == [21] and path.is_file()
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["n"] == 21 and record["size"] == 16 and record["seed"] == 2
    assert record["conductivity"] == [1.0, 10.0]
    assert record["generator_version"] == ms.GENERATOR_VERSION and len(record["sha256"]) == 64
    with np.load(path, allow_pickle=False) as archive:  # no pickled objects inside
        assert archive["images_packed"].shape == (21, 32)  # 256 pixels -> 32 bytes per image
    loaded = ms.build_library(n=21, size=16, seed=2, progress=False, cache_dir=tmp_path)
    assert solver_calls == [21]  # loaded, not solved again
    assert np.array_equal(loaded.images, built.images)
    for key in ("k_xx", "k_yy", "volume_fraction", "family"):
        assert np.array_equal(getattr(loaded, key), getattr(built, key))
    assert np.array_equal(loaded.params, built.params, equal_nan=True)
    assert loaded.conductivity == (1.0, 10.0) and loaded.seed == 2
    assert np.allclose(built.volume_fraction, built.images.mean(axis=(1, 2)))
    assert np.allclose(built.k_xx, 1 + 9 * built.volume_fraction)
    first = int(np.flatnonzero(built.family == "voronoi")[0])
    assert set(built.params_of(first)) == {"n_cells", "wall_thickness"}


def test_library_with_other_settings_is_rebuilt(tmp_path: Path, solver_calls: list) -> None:
    path = tmp_path / "lib.npz"
    ms.build_library(n=14, size=16, seed=0, progress=False, path=path, n_jobs=1)
    other = ms.build_library(
        n=14, size=16, seed=0, conductivity=(1.0, 5.0), progress=False, path=path, n_jobs=1
    )
    assert solver_calls == [14, 14]
    assert other.conductivity == (1.0, 5.0)
    assert json.loads(path.with_suffix(".json").read_text())["conductivity"] == [1.0, 5.0]
    ms.build_library(n=14, size=16, seed=0, conductivity=(1.0, 5.0), progress=False, path=path)
    assert solver_calls == [14, 14]
    ms.build_library(
        n=14, size=16, seed=0, conductivity=(1.0, 5.0), progress=False, path=path,
        rebuild=True, n_jobs=1,
    )
    assert solver_calls == [14, 14, 14]


def test_a_corrupted_cache_is_refused_with_a_clear_message(
    tmp_path: Path, solver_calls: list
) -> None:
    path = tmp_path / "lib.npz"
    ms.build_library(n=14, size=16, seed=0, progress=False, path=path, n_jobs=1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    corrupt = r"lib\.npz does not match the sha256 in lib\.json .*; delete .* to build it again"
    with pytest.raises(DataError, match=corrupt):
        ms.build_library(n=14, size=16, seed=0, progress=False, path=path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(DataError, match=r"lib\.json is unreadable"):
        ms.build_library(n=14, size=16, seed=0, progress=False, path=path)


def test_library_settings_are_checked() -> None:
    with pytest.raises(DataError, match="library size n must be an integer >= 7"):
        ms.build_library(n=3, progress=False)
    with pytest.raises(DataError, match=r"conductivity must be two positive numbers"):
        ms.build_library(n=14, conductivity=(1.0, -2.0), progress=False)


def test_library_labels_come_from_the_solver_within_the_wiener_bounds(tmp_path: Path) -> None:
    library = ms.build_library(n=14, size=16, seed=0, progress=False, cache_dir=tmp_path, n_jobs=1)
    phi = library.volume_fraction
    lower = 1.0 / ((1 - phi) / 1.0 + phi / 10.0)
    upper = (1 - phi) * 1.0 + phi * 10.0
    for k in (library.k_xx, library.k_yy):
        assert (k >= lower - 1e-9).all() and (k <= upper + 1e-9).all()
    from evodesign.physics import effective_conductivity

    assert np.allclose(
        np.column_stack([library.k_xx, library.k_yy]),
        effective_conductivity(library.images, conductivity=(1.0, 10.0)),
    )


# --- bring your own ------------------------------------------------------------------------


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    from PIL import Image

    Image.fromarray(array, mode=mode).save(path)
    return path


def test_a_folder_of_pngs_becomes_a_binary_stack(tmp_path: Path) -> None:
    first = np.zeros((8, 8), dtype=np.uint8)
    first[:, :3] = 255
    second = np.full((8, 8), 100, dtype=np.uint8)
    second[0, 0] = 200
    _png(tmp_path / "a.png", first)
    _png(tmp_path / "b.png", second)
    (tmp_path / "notes.txt").write_text("ignored")
    images = load_images(tmp_path)
    assert images.shape == (2, 8, 8) and images.dtype == np.uint8
    assert images[0].sum() == 24 and (images[0][:, :3] == 1).all()
    assert images[1].sum() == 1 and images[1][0, 0] == 1  # 200 > 127.5 > 100
    assert load_images(tmp_path, threshold=0.3)[1].sum() == 64  # 100 > 76.5
    assert np.array_equal(load_images(tmp_path, invert=True), 1 - images)
    assert np.array_equal(load_images(tmp_path / "a.png"), images[:1])


def test_colour_16_bit_and_multipage_files_are_read(tmp_path: Path) -> None:
    from PIL import Image

    rgb = np.zeros((6, 6, 3), dtype=np.uint8)
    rgb[2] = 255
    assert load_images(_png(tmp_path / "rgb.png", rgb))[0][2].tolist() == [1] * 6
    deep = np.zeros((6, 6), dtype=np.uint16)
    deep[:, 0] = 60000
    deep[:, 1] = 20000  # bright in 8-bit terms, dark at 16 bits
    assert load_images(_png(tmp_path / "deep.png", deep)).sum() == 6
    pages = [
        Image.fromarray(np.eye(6, dtype=np.uint8) * 255),
        Image.fromarray(np.zeros((6, 6), np.uint8)),
    ]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    stack = load_images(tmp_path / "stack.tif")
    assert stack.shape == (2, 6, 6) and stack[0].trace() == 6 and stack[1].sum() == 0


def test_numpy_stacks(tmp_path: Path) -> None:
    stack = (np.random.default_rng(0).random((3, 5, 5)) > 0.5).astype(np.int64)
    np.save(tmp_path / "s.npy", stack)
    assert np.array_equal(load_images(tmp_path / "s.npy"), stack)
    np.savez(tmp_path / "s.npz", images=stack.astype(float))
    assert np.array_equal(load_images(tmp_path / "s.npz"), stack)
    np.save(tmp_path / "one.npy", stack[0].astype(bool))
    assert load_images(tmp_path / "one.npy").shape == (1, 5, 5)
    np.save(tmp_path / "gray.npy", (stack * 200).astype(np.uint8))
    assert np.array_equal(load_images(tmp_path / "gray.npy"), stack)


def _npy(folder: Path, array: np.ndarray, name: str = "x.npy") -> Path:
    np.save(folder / name, array)
    return folder / name


def _empty(folder: Path) -> Path:
    (folder / "empty").mkdir()
    return folder / "empty"


def _csv(folder: Path) -> Path:
    (folder / "x.csv").write_text("1")
    return folder / "x.csv"


def _npz_without_images(folder: Path) -> Path:
    np.savez(folder / "x.npz", stack=np.zeros((2, 4, 4)))
    return folder / "x.npz"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", r"missing: no such file or folder"),
        (_empty, r"empty: no image files in this folder \(it is empty\)"),
        (lambda d: _npy(d, np.zeros((2, 2, 4, 4))),
         r"x\.npy: expected an \(n, H, W\) stack or one \(H, W\) image, got an array of "
         r"shape \(2, 2, 4, 4\)"),
        (_npz_without_images, r"x\.npz: no array 'images' in this archive \(it holds: stack\)"),
        (lambda d: _npy(d, np.stack([np.zeros((4, 4)), np.full((4, 4), 1.5)])),
         r"x\.npy, index 1: float values must lie in \[0, 1\] \(found 1\.5 \.\. 1\.5\)"),
        (lambda d: _npy(d, np.full((1, 4, 4), 2, dtype=np.int64)),
         r"x\.npy, index 0: values 2 \.\. 2 of type int64 are neither 0/1 nor 8/16-bit"),
        (lambda d: _npy(d, np.full((1, 4, 4), np.nan)), r"x\.npy, index 0: holds NaN"),
        (lambda d: _npy(d, np.zeros((1, 4, 6))),
         r"x\.npy, index 0: the image is 4x6 \(H x W\), not square"),
        (_csv, r"x\.csv: unsupported file type '\.csv'"),
    ],
)
def test_bring_your_own_errors_name_the_file_and_the_problem(
    tmp_path: Path, make, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        load_images(make(tmp_path))


def test_images_of_different_sizes_name_both(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", np.zeros((8, 8), dtype=np.uint8))
    _png(tmp_path / "b.png", np.zeros((6, 6), dtype=np.uint8))
    sizes = r"b\.png: the image is 6x6 but the first one, a\.png, is 8x8; all images must have"
    with pytest.raises(DataError, match=sizes):
        load_images(tmp_path)
    (tmp_path / "b.png").unlink()
    _png(tmp_path / "c.png", np.zeros((8, 5), dtype=np.uint8))
    with pytest.raises(DataError, match=r"c\.png: the image is 8x5 \(H x W\), not square"):
        load_images(tmp_path)
    with pytest.raises(DataError, match="threshold must lie strictly between 0 and 1"):
        load_images(tmp_path, threshold=1.0)


# --- command line --------------------------------------------------------------------------


def test_cli_builds_summarises_and_draws(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evodesign.cli import app

    out = tmp_path / "lib.npz"
    runner = CliRunner()
    args = ["datasets", "microstructures", "--n", "14", "--size", "16", "--seed", "3"]
    args += ["--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in FAMILIES:
        assert name in result.output
    assert "cached in" in result.output and out.is_file() and out.with_suffix(".png").is_file()
    again = runner.invoke(app, [*args, "--plot", str(tmp_path / "grid.png")])
    assert "loaded the microstructure library" in again.output
    assert (tmp_path / "grid.png").is_file()
    wrong = runner.invoke(app, ["datasets", "transport", "--n", "5"])
    assert wrong.exit_code == 2
    assert "only 'evodesign datasets microstructures' takes --n" in wrong.output


def test_library_images_are_equal_in_another_process() -> None:
    import hashlib
    import subprocess
    import sys

    code = (
        "import hashlib; "
        "from evodesign.datasets.microstructures import generate_library_images as g; "
        "print(hashlib.sha256(g(14, 16, seed=5)[0].tobytes()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = hashlib.sha256(ms.generate_library_images(14, 16, seed=5)[0].tobytes()).hexdigest()
    assert out.stdout.strip() == here
