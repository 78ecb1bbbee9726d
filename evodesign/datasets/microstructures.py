"""The built-in microstructure library: seeded images from every family, labelled by the solver.

:func:`build_library` renders ``n`` periodic two-phase images from the families of
:mod:`~evodesign.datasets.microstructure_families` in the proportions of
:data:`PROPORTIONS`, labels each with the finite-volume solver
(:func:`evodesign.physics.effective_conductivity`: ``k_xx``, ``k_yy``) and its filler
fraction, and caches the result: the first call takes minutes, later ones a second::

    >>> from evodesign.datasets.microstructures import build_library
    >>> library = build_library(n=20000, size=64, seed=0)  # doctest: +SKIP
    >>> library.images.shape, library.k_xx.shape  # doctest: +SKIP
    ((20000, 64, 64), (20000,))

The cache is ``<cache>/datasets/microstructures-<size>px-<n>-seed<seed>.npz`` (images
bit-packed with ``np.packbits``; no pickles) plus a JSON sidecar written last, holding the
generator version, the settings and the archive's sha256. A cache made with other settings
(conductivity, generator version) is rebuilt; one whose sha256 does not match is refused
with a message that says how to rebuild it. ``<cache>`` is ``$EVODESIGN_CACHE_DIR`` or
the per-user cache folder (``platformdirs``), as for the trained models.

Segmented micrographs of your own come in through :func:`load_images` (from
:mod:`~evodesign.datasets.microstructure_images`, re-exported here).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evodesign.datasets.microstructure_families import FAMILIES, render, sample_params
from evodesign.datasets.microstructure_images import load_images
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "GENERATOR_VERSION",
    "PROPORTIONS",
    "MicrostructureLibrary",
    "build_library",
    "default_cache_dir",
    "generate_library_images",
    "library_path",
    "load_images",
    "plot_library",
]

#: Bumped whenever the same seed would render different images: older caches are rebuilt.
GENERATOR_VERSION = 1
#: Share of each family in the library (sums to 1).
PROPORTIONS: dict[str, float] = {
    "grf_isotropic": 0.20,
    "grf_anisotropic": 0.15,
    "discs": 0.12,
    "ellipses": 0.12,
    "fibres": 0.13,
    "voronoi": 0.13,
    "laminate": 0.15,
}
_CACHE_ENV = "EVODESIGN_CACHE_DIR"
# images per solver call: large enough to batch, small enough to spread over workers
_SOLVE_CHUNK = 500


@dataclass(frozen=True, eq=False)
class MicrostructureLibrary:
    """Images with their solver labels and the family parameters that made them.

    Attributes:
        images: ``(n, H, W)`` uint8 0/1, 1 = filler.
        k_xx: ``(n,)`` effective conductivity along x (columns).
        k_yy: ``(n,)`` effective conductivity along y (rows).
        volume_fraction: ``(n,)`` filler fraction of each image.
        family: ``(n,)`` str, the family key of each image.
        params: ``(n, max_params)`` float64, each row the family's parameter vector padded
            with NaN (see :meth:`params_of`).
        conductivity: ``(k_matrix, k_filler)`` the labels were solved with.
        seed: the library's seed.
    """

    images: np.ndarray
    k_xx: np.ndarray
    k_yy: np.ndarray
    volume_fraction: np.ndarray
    family: np.ndarray
    params: np.ndarray
    conductivity: tuple[float, float]
    seed: int

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        n, height, width = self.images.shape
        return (
            f"MicrostructureLibrary(n={n}, size={height}x{width}, "
            f"conductivity={self.conductivity}, seed={self.seed})"
        )

    def params_of(self, index: int) -> dict[str, float]:
        """Image ``index``'s family parameters by name."""
        names = FAMILIES[str(self.family[index])].parameters
        return {name: float(v) for name, v in zip(names, self.params[index, : len(names)])}

    def summary(self) -> list[dict]:
        """Per family: ``family, count`` and ``[min, max]`` of fraction, k_xx and k_yy.

        Returns:
            One plain-Python dict per family present, in :data:`FAMILIES` order.
        """
        rows = []
        for name in FAMILIES:
            rows_of = self.family == name
            if not rows_of.any():
                continue
            row: dict = {"family": name, "count": int(rows_of.sum())}
            for key in ("volume_fraction", "k_xx", "k_yy"):
                values = getattr(self, key)[rows_of]
                row[key] = [float(values.min()), float(values.max())]
            rows.append(row)
        return rows


def default_cache_dir() -> Path:
    """Where built-in data sets are cached: ``$EVODESIGN_CACHE_DIR/datasets``, else the
    per-user cache folder + ``datasets`` (``~/.cache/evodesign/datasets`` on Linux)."""
    env = os.environ.get(_CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser() / "datasets"
    import platformdirs

    return Path(platformdirs.user_cache_dir("evodesign", appauthor=False)) / "datasets"


def library_path(n: int, size: int, seed: int, cache_dir: str | Path | None = None) -> Path:
    """The cache file of a library: ``<cache_dir>/microstructures-<size>px-<n>-seed<seed>.npz``."""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir)
    return folder / f"microstructures-{size}px-{n}-seed{seed}.npz"


def build_library(
    n: int = 20000,
    size: int = 64,
    seed: int = 0,
    conductivity: tuple[float, float] = (1.0, 10.0),
    progress: bool = True,
    *,
    path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    n_jobs: int = 2,
    rebuild: bool = False,
) -> MicrostructureLibrary:
    """The seeded microstructure library, loaded from its cache or built and cached.

    Args:
        n: number of images (>= the number of families, so each gets one).
        size: side of the square images in pixels.
        seed: seeds the family parameters and the random placements.
        conductivity: ``(k_matrix, k_filler)`` for the solver's labels.
        progress: print what is being done and how long it took.
        path: the ``.npz`` cache file (None: :func:`library_path` in ``cache_dir``).
        cache_dir: folder of the default cache file (None: :func:`default_cache_dir`).
        n_jobs: worker processes for the solver (joblib); the images themselves are
            rendered in this process, so the library does not depend on ``n_jobs``.
        rebuild: build again even if a valid cache exists.

    Returns:
        The library, images in a seeded random order of families.

    Raises:
        DataError: bad settings, or a cache file whose contents do not match its sidecar's
            sha256 (corrupted or edited; the message says how to rebuild).
    """
    settings = _settings(n, size, seed, conductivity)
    target = library_path(n, size, seed, cache_dir) if path is None else Path(path)
    if not rebuild:
        cached = _load_cache(target, settings)
        if cached is not None:
            _say(progress, f"loaded the microstructure library from {target}")
            return cached
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(target.name + ".lock")
    # one builder at a time: a second process waits (minutes) and then loads the result
    # instead of spending the same minutes of solver time again
    with FileLock(lock):
        if not rebuild:
            cached = _load_cache(target, settings)
            if cached is not None:
                _say(
                    progress,
                    f"loaded the microstructure library from {target} (built meanwhile by "
                    f"another process)",
                )
                return cached
        return _build(target, settings, n_jobs, progress)


def _build(target: Path, settings: dict, n_jobs: int, progress: bool) -> MicrostructureLibrary:
    n, size, seed = settings["n"], settings["size"], settings["seed"]
    _say(progress, f"building the microstructure library ({n:,} images of {size}x{size}, seed {seed}; "
                   "once, then cached): rendering, then solving each image")
    started = time.perf_counter()
    images, family, params = generate_library_images(n, size, seed)
    _say(progress, f"rendered {n} images of {size}x{size} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    k = _label(images, settings["conductivity"], n_jobs, progress)
    _say(progress, f"solved k_xx and k_yy of {n} images in {time.perf_counter() - started:.1f} s")
    library = MicrostructureLibrary(
        images=images, k_xx=k[:, 0], k_yy=k[:, 1],
        volume_fraction=images.mean(axis=(1, 2), dtype=np.float64),
        family=family, params=params,
        conductivity=tuple(settings["conductivity"]), seed=seed,
    )
    _write_cache(target, library, settings)
    _say(progress, f"cached the library in {target}")
    return library


def generate_library_images(
    n: int, size: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The library's images without labels (the solver is the slow part).

    Each family gets ``round(n * share)`` images (the rounding remainder goes to the
    families with the largest fractional parts); each family draws from its own child of
    ``SeedSequence(seed)``, and the rows are finally shuffled by another child.

    Args:
        n: number of images.
        size: image side in pixels.
        seed: the seed.

    Returns:
        ``images`` ``(n, size, size)`` uint8, ``family`` ``(n,)`` str and ``params``
        ``(n, max_params)`` float64 (NaN-padded).
    """
    counts = _family_counts(n)
    children = np.random.SeedSequence(seed).spawn(len(PROPORTIONS) + 1)
    width = max(spec.n_params for spec in FAMILIES.values())
    images = np.empty((n, size, size), dtype=np.uint8)
    family = np.empty(n, dtype=f"<U{max(map(len, FAMILIES))}")
    params = np.full((n, width), np.nan)
    start = 0
    for (name, count), child in zip(counts.items(), children):
        rng = np.random.default_rng(child)
        values = _library_params(name, count, size, rng)
        stop = start + count
        images[start:stop] = render(name, values, size, rng)
        family[start:stop] = name
        params[start:stop, : values.shape[1]] = values
        start = stop
    order = np.random.default_rng(children[-1]).permutation(n)
    return images[order], family[order], params[order]


def _library_params(name: str, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Parameters for the library: uniform in the bounds, with a few families steered so
    that aligned and random, clean and defective, thin and thick walls all appear and the
    filler fraction spans ~0.05-0.8."""
    spec = FAMILIES[name]
    values = sample_params(name, count, rng)
    column = {p: i for i, p in enumerate(spec.parameters)}
    thirds = rng.integers(0, 3, size=count)
    if "orientation_spread" in column:
        # a third perfectly aligned, a third fully random, a third in between
        spread = values[:, column["orientation_spread"]]
        values[:, column["orientation_spread"]] = np.select(
            [thirds == 0, thirds == 1], [0.0, 90.0], spread
        )
    if name == "laminate":
        # a third without defects (exact laminates), a third along x or y
        values[thirds == 0, column["defect_density"]] = 0.0
        axis = rng.integers(0, 2, size=count) * 90.0
        values[thirds == 1, column["orientation"]] = axis[thirds == 1]
    if name == "voronoi":
        # few cells are needed for thin sparse networks: cell counts log-uniform
        lo, hi = spec.lower[column["n_cells"]], spec.upper[column["n_cells"]]
        cells = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi), size=count)))
        values[:, column["n_cells"]] = cells
        # walls of a Poisson-Voronoi network have length 2 sqrt(cells) / size per unit
        # area; overlap at the junctions is covered by 1 - exp(-...), pixelation by the
        # factor 1.2 (measured at 64 px): pick the thickness for a uniform target fraction
        target = rng.uniform(0.05, 0.8, size=count)
        thickness = -np.log1p(-target) * size / (2.4 * np.sqrt(cells))
        lo, hi = spec.lower[column["wall_thickness"]], spec.upper[column["wall_thickness"]]
        values[:, column["wall_thickness"]] = np.clip(thickness, lo, hi)
    return values


def _family_counts(n: int) -> dict[str, int]:
    shares = np.array([PROPORTIONS[name] for name in FAMILIES]) * n
    counts = np.floor(shares).astype(int)
    remainder = n - counts.sum()
    counts[np.argsort(-(shares - counts), kind="stable")[:remainder]] += 1
    return dict(zip(FAMILIES, counts.tolist()))


def _label(
    images: np.ndarray, conductivity: list[float], n_jobs: int, progress: bool
) -> np.ndarray:
    """``(n, 2)`` k_xx, k_yy by the solver, in chunks spread over ``n_jobs`` processes."""
    solve = _solver()
    chunks = [images[i : i + _SOLVE_CHUNK] for i in range(0, len(images), _SOLVE_CHUNK)]
    if n_jobs == 1 or len(chunks) == 1:
        parts = [solve(chunk, conductivity=tuple(conductivity)) for chunk in chunks]
    else:
        from joblib import Parallel, delayed, parallel_config

        # one BLAS thread per worker: two workers of two threads each on two cores were
        # slower than one process (measured: 600 images 15.4 s serial, 11.2 s this way)
        with parallel_config(backend="loky", inner_max_num_threads=1):
            parts = Parallel(n_jobs=n_jobs, verbose=5 if progress else 0)(
                delayed(solve)(chunk, conductivity=tuple(conductivity)) for chunk in chunks
            )
    return np.concatenate([np.asarray(part, dtype=np.float64) for part in parts])


def _solver() -> Callable[..., np.ndarray]:
    # imported here: the physics package is only needed when a library is built
    from evodesign.physics import effective_conductivity

    return effective_conductivity


def _settings(n: int, size: int, seed: int, conductivity: tuple[float, float]) -> dict:
    if int(n) != n or n < len(FAMILIES):
        raise DataError(
            f"library size n must be an integer >= {len(FAMILIES)} (one image per family), "
            f"got {n!r}"
        )
    if int(size) != size or size < 8:
        raise DataError(f"image size must be an integer >= 8 pixels, got {size!r}")
    if int(seed) != seed or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    values = np.asarray(conductivity, dtype=float)
    if values.shape != (2,) or not np.isfinite(values).all() or (values <= 0).any():
        raise DataError(
            f"conductivity must be two positive numbers [k_matrix, k_filler], got {conductivity!r}"
        )
    return {
        "generator_version": GENERATOR_VERSION,
        "n": int(n),
        "size": int(size),
        "seed": int(seed),
        "conductivity": [float(v) for v in values],
        "proportions": dict(PROPORTIONS),
    }


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_cache(path: Path, library: MicrostructureLibrary, settings: dict) -> None:
    """The archive first, the sidecar last, each through a temporary file and a rename:
    a sidecar exists only next to a complete archive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n, height, width = library.images.shape
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        np.savez_compressed(
            handle,
            images_packed=np.packbits(library.images.reshape(n, -1).astype(bool), axis=1),
            shape=np.array([n, height, width]),
            k_xx=library.k_xx, k_yy=library.k_yy,
            volume_fraction=library.volume_fraction,
            family=library.family, params=library.params,
        )
    os.replace(temporary, path)
    record = dict(settings, sha256=_sha256(path), file=path.name)
    sidecar_tmp = _sidecar(path).with_name(f".{_sidecar(path).name}.{os.getpid()}.tmp")
    sidecar_tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(sidecar_tmp, _sidecar(path))


def _load_cache(path: Path, settings: dict) -> MicrostructureLibrary | None:
    """The cached library, or None when there is none or it was made with other settings."""
    sidecar = _sidecar(path)
    if not path.is_file() or not sidecar.is_file():
        return None
    rebuild = (
        f"delete {path} and {sidecar.name} (or pass rebuild=True / --rebuild) to build it again"
    )
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(
            f"microstructure cache sidecar {sidecar} is unreadable ({err}); {rebuild}"
        ) from err
    if not isinstance(record, dict) or any(record.get(k) != v for k, v in settings.items()):
        return None
    if record.get("sha256") != _sha256(path):
        raise DataError(
            f"microstructure cache {path} does not match the sha256 in {sidecar.name} "
            f"(corrupted or changed since it was built); {rebuild}"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            n, height, width = (int(v) for v in archive["shape"])
            bits = np.unpackbits(archive["images_packed"], axis=1, count=height * width)
            return MicrostructureLibrary(
                images=bits.reshape(n, height, width),
                k_xx=archive["k_xx"], k_yy=archive["k_yy"],
                volume_fraction=archive["volume_fraction"],
                family=archive["family"], params=archive["params"],
                conductivity=tuple(record["conductivity"]), seed=int(record["seed"]),
            )
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"microstructure cache {path} cannot be read ({err}); {rebuild}") from err


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


def plot_library(
    library: MicrostructureLibrary, path: str | Path, per_family: int = 6
) -> Path:
    """A grid of example images: one row per family, its fraction and k_xx/k_yy above each.

    Args:
        library: the library.
        path: the picture to write (``.png``; its folder is created).
        per_family: images shown per family (the first ones of each, in library order).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in FAMILIES if (library.family == name).any()]
    fig, axes = plt.subplots(
        len(names), per_family, figsize=(1.6 * per_family, 1.75 * len(names)), squeeze=False
    )
    for row, name in zip(axes, names):
        picks = np.flatnonzero(library.family == name)[:per_family]
        for column, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(picks):
                ax.axis("off")
                continue
            i = picks[column]
            ax.imshow(library.images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(
                f"phi {library.volume_fraction[i]:.2f}\n"
                f"k {library.k_xx[i]:.2f} / {library.k_yy[i]:.2f}",
                fontsize=7,
            )
        row[0].set_ylabel(name, fontsize=8)
    k_matrix, k_filler = library.conductivity
    fig.suptitle(
        f"microstructure library: black = filler (k {k_filler:g}), white = matrix "
        f"(k {k_matrix:g}); k = k_xx / k_yy",
        fontsize=9,
    )
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
