"""The microstructure space's campaign parts (see :mod:`evodesign.campaign.space_parts`):
each front row's ``image`` (in memory), the nearest library image by differing pixels,
``designs.npz`` and ``gallery.png`` in the run folder, and the Wiener and Hashin-Shtrikman
bounds on pareto.png panels of a conductivity against the filler fraction.

No composition part applies: no repair preference, no guided check, no niches (plain
NSGA-II whatever ``[search] max_per_system`` says).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.campaign import space_parts

if TYPE_CHECKING:
    from numpy.typing import NDArray

    import pandas as pd

__all__ = [
    "DESIGNS_FILE",
    "GALLERY_FILE",
    "front_images",
    "gallery",
    "gallery_rows",
    "generator_options",
    "generator_vectors",
    "nearest_image",
]

KIND = "microstructure"
DESIGNS_FILE = "designs.npz"
GALLERY_FILE = "gallery.png"
#: designs drawn on gallery.png at most (the first rows of pareto.csv)
GALLERY_MAX = 30
#: properties drawn against the filler fraction with the bounds
CONDUCTIVITIES = ("k_xx", "k_yy")


def columns(space: Any, designs: NDArray[np.uint8]) -> dict[str, Any]:
    """Each design's `(H, W)` image, in memory (:data:`space_parts.IN_MEMORY_COLUMNS`)."""
    return {"image": list(np.asarray(designs, dtype=np.uint8))}


def nearest_image(
    space: Any, designs: NDArray[np.uint8], known: NDArray[np.uint8], chunk: int = 4096
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The known image nearest to each design and the share of pixels in which they differ.

    Hamming distances by one matrix product per chunk of known images:
    ``|a xor b| = |a| + |b| - 2 a.b`` for 0/1 vectors (float32 is exact below 2**24 pixels).

    Args:
        space: the microstructure space (unused; the part's signature).
        designs: `(n, H, W)` 0/1 images.
        known: `(m, H, W)` 0/1 known images.
        chunk: known images per product.

    Returns:
        ``(index, distance)``: `(n,)` row of ``known`` (the first on ties; -1 when there
        are none) and `(n,)` differing-pixel share in [0, 1] (NaN when there are none).
    """
    n = len(designs)
    if n == 0 or len(known) == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    A = np.asarray(designs, dtype=np.float32).reshape(n, -1)
    best = np.full(n, np.inf)
    index = np.zeros(n, dtype=np.int64)
    for start in range(0, len(known), chunk):
        B = np.asarray(known[start : start + chunk], dtype=np.float32).reshape(-1, A.shape[1])
        distance = A.sum(axis=1)[:, None] + B.sum(axis=1)[None, :] - 2.0 * (A @ B.T)
        local = distance.argmin(axis=1)
        value = distance[np.arange(n), local]
        better = value < best
        best[better], index[better] = value[better], local[better] + start
    return index, best / A.shape[1]


def front_images(table: pd.DataFrame, size: int) -> NDArray[np.uint8]:
    """`(n, size, size)` uint8 images of a results table's rows, in its order."""
    if len(table) == 0:
        return np.zeros((0, size, size), dtype=np.uint8)
    return np.stack([np.asarray(image, dtype=np.uint8) for image in table["image"]])


def write_files(run_dir: Path, config: Any, objectives: Any, table: pd.DataFrame) -> None:
    """``designs.npz`` (key ``images``: `(n, H, W)` uint8 0/1 in pareto.csv's row order,
    1 = filler) and ``gallery.png``."""
    from evodesign.campaign.checkpoint import atomic_write_bytes

    images = front_images(table, config.space.size)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images)
    atomic_write_bytes(Path(run_dir) / DESIGNS_FILE, buffer.getvalue())
    gallery(Path(run_dir) / GALLERY_FILE, images, table, objectives, title=getattr(config.campaign, "description", None) or config.campaign.name)


def gallery(path: Path, images: NDArray[np.uint8], table: pd.DataFrame, objectives: Any, title: str = "") -> None:
    """The front's designs as images (filler dark), each titled with its pareto.csv row and
    objective values; at most :data:`GALLERY_MAX`, spread along the front (:func:`gallery_rows`).

    Args:
        path: the PNG file.
        images: `(n, H, W)` 0/1 images, the rows of ``table``.
        table: the results table (the objectives' columns).
        objectives: the campaign's objectives (names, in order).
        title: the figure's title.
    """
    from evodesign.campaign.plots import _pyplot

    plt = _pyplot()
    shown = gallery_rows(len(images))
    n = len(shown)
    cols = max(1, min(6, n))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 2.9 * rows), squeeze=False)
    for slot, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if slot >= n:
            continue
        i = shown[slot]
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        values = [f"{o.name} {table[o.name].iloc[i]:.3g}" for o in objectives if o.name in table.columns]
        ax.set_title("\n".join([f"row {i}", *values]), fontsize=7)
    if n == 0:
        axes[0, 0].text(0.5, 0.5, "no feasible design", ha="center", va="center")
    spread = " spread along pareto.csv" if n < len(images) else ""
    fig.suptitle(f"{title}: {n} of {len(images)} front designs{spread} (filler dark)" if title else "", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def gallery_rows(n: int, most: int = GALLERY_MAX) -> NDArray[np.int64]:
    """Rows of a front of ``n`` designs that gallery.png shows: all of them, or ``most``
    evenly spaced along pareto.csv's order (its ends included), so the picture covers the
    whole trade-off rather than one end of it."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def bounds_overlay(ax: Any, x_name: str, y_name: str, config: Any) -> None:
    """Wiener and Hashin-Shtrikman bounds on a panel of k_xx or k_yy against the filler
    fraction (either way round), for ``[physics] conductivity``; other panels unchanged."""
    from evodesign.physics import hashin_shtrikman_bounds, wiener_bounds

    names = {x_name, y_name}
    if "volume_fraction" not in names or not names & set(CONDUCTIVITIES):
        return
    k_matrix, k_filler = config.physics.conductivity
    phi = np.linspace(0.0, 1.0, 201)
    curves = [
        (wiener_bounds(phi, k_matrix, k_filler), "0.35", "--", "Wiener bounds"),
        (hashin_shtrikman_bounds(phi, k_matrix, k_filler), "tab:red", "-", "Hashin–Shtrikman bounds"),
    ]
    for (lower, upper), colour, style, label in curves:
        for j, k in enumerate((lower, upper)):
            xy = (phi, k) if x_name == "volume_fraction" else (k, phi)
            ax.plot(*xy, color=colour, ls=style, lw=1.0, label=label if j == 0 else None, zorder=1)


def generator_vectors(config: Any, known: Any, space: Any, X_data: NDArray[np.float64]) -> NDArray[np.float64]:
    """The generators' training images: every image of the data set after the space's
    repair (threshold, ``min_feature`` opening/closing), each distinct one once.

    Not only the known designs (the images the repair leaves unchanged, e.g. ~10 % of the
    built-in library at ``min_feature = 2``): the search proposes repaired images, so the
    generators learn the repaired versions of the whole library.
    """
    X = space.repair(np.asarray(X_data, dtype=np.float64))
    _, first = np.unique(space.ids(space.decode(X)), return_index=True)
    return X[np.sort(first)]


def generator_options(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(vae_options, gan_options)``: square 0/1 images (the image codec: convolutional
    VAE) with the ``[generators]`` sizes."""
    g = config.generators
    return {"codec": "image", "latent_dim": g.latent_dim, "max_epochs": g.max_epochs}, {"n_steps": g.gan_steps}


space_parts.design_columns.register(KIND, "default", columns)
space_parts.generator_data.register(KIND, "default", generator_vectors)
space_parts.generator_options.register(KIND, "default", generator_options)
space_parts.nearest_designs.register(KIND, "default", nearest_image)
space_parts.run_files.register(KIND, "default", write_files)
space_parts.plot_overlays.register(KIND, "default", bounds_overlay)
