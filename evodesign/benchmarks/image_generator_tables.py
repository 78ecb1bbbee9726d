"""Tables, report section and picture of the image-generator benchmark
(:mod:`evodesign.benchmarks.image_generators`), from its result dict alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["format_image_generator_table", "image_generators_section", "plot_image_generators"]


def plot_image_generators(
    result: dict[str, Any], images: dict[str, dict[str, NDArray[np.uint8]]], path: str | Path
) -> Path:
    """One PNG: per model a row of originals, reconstructions and GAN samples, then S2(r)
    and filler-fraction histograms of samples against the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["models"])
    kinds = ("originals", "reconstructions", "gan")
    keep = min(len(v) for m in images.values() for k, v in m.items() if k in kinds)
    # every model is measured on the same originals: show them once
    rows = [("data", "originals", images[names[0]]["originals"])] + [
        (name, kind, images[name][kind]) for name in names for kind in kinds[1:]
    ]
    n_rows = len(rows)
    fig = plt.figure(figsize=(1.3 * max(keep, 6), 1.35 * n_rows + 3.5))
    grid = fig.add_gridspec(n_rows + 1, keep, height_ratios=[1] * n_rows + [2.6])
    for i, (name, kind, stack) in enumerate(rows):
        for j in range(keep):
            ax = fig.add_subplot(grid[i, j])
            ax.imshow(stack[j], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f"{name}\n{kind}", fontsize=7)
    half = keep // 2
    ax_s2 = fig.add_subplot(grid[-1, :half])
    ax_vf = fig.add_subplot(grid[-1, half:])
    data = result["models"][names[0]]["realism"]["data"]
    ax_s2.plot(data["s2_mean"], "k-", label="data")
    edges = np.linspace(0, 1, 21)
    ax_vf.stairs(data["volume_fraction_hist"], edges, color="k", label="data")
    for name in names:
        realism = result["models"][name]["realism"]
        for source, style in (("gan", "-"), ("vae", ":")):
            if source in realism:
                ax_s2.plot(realism[source]["s2_mean"], style, label=f"{name} {source}")
                ax_vf.stairs(realism[source]["volume_fraction_hist"], edges, linestyle=style,
                             label=f"{name} {source}")
    ax_s2.set_xlabel("r (px)")
    ax_s2.set_ylabel("S2(r), mean")
    ax_vf.set_xlabel("filler fraction (repaired)")
    ax_vf.set_ylabel("images")
    ax_s2.legend(fontsize=6)
    ax_vf.legend(fontsize=6)
    fig.suptitle("black = filler; samples and reconstructions after the space's repair", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def _pair(a: Any, b: Any, spec: str = ".3f") -> str:
    return f"{_f(a, spec)} / {_f(b, spec)}"


def _row(label: str, cells: list[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


#: reconstruction rows: label and the cell of one model's ``reconstruction`` dict
_RECONSTRUCTION_ROWS: list[tuple[str, Any]] = [
    ("pixel accuracy (encoder mean, hard)", lambda r: _f(r["pixel_accuracy"], ".4f")),
    ("  10th percentile over images", lambda r: _f(r["pixel_accuracy_p10"], ".4f")),
    ("  images within 1 % of pixels", lambda r: _f(r["within_1_percent"])),
    ("pixel accuracy after repair", lambda r: _f(r["pixel_accuracy_repaired"], ".4f")),
    ("  images exact after repair", lambda r: _f(r["exact_repaired"])),
    ("filler fraction: originals / reconstructions", lambda r: _pair(
        r["volume_fraction_original_mean"], r["volume_fraction_reconstruction_mean"])),
    ("filler fraction MAE", lambda r: _f(r["volume_fraction_mae"], ".4f")),
    *[
        row for k in ("k_xx", "k_yy") for row in (
            (f"{k} rel. error, median / 90th pct", lambda r, k=k: _pair(
                r[k]["median_rel_error"], r[k]["p90_rel_error"])),
            (f"{k} Pearson r (reconstruction vs original)",
             lambda r, k=k: _f(r[k]["pearson"], ".4f")),
        )
    ],
    ("percolating x / y: originals", lambda r: _pair(r["percolating_x"][0], r["percolating_y"][0])),
    ("percolating x / y: reconstructions",
     lambda r: _pair(r["percolating_x"][1], r["percolating_y"][1])),
]

#: realism rows: label and the cell of one source's (or the data's) statistics
_REALISM_ROWS: list[tuple[str, Any]] = [
    ("filler fraction mean (std)",
     lambda r: f"{r['volume_fraction_mean']:.3f} ({r['volume_fraction_std']:.3f})"),
    ("filler fraction < 0.05", lambda r: _f(r.get("volume_fraction_below_0.05"))),
    ("filler fraction as decoded, mean", lambda r: _f(r.get("volume_fraction_decoded_mean"))),
    ("KS statistic vs data (p)", lambda r: "-" if "volume_fraction_ks" not in r else (
        f"{r['volume_fraction_ks']:.3f} ({r['volume_fraction_ks_p']:.2g})")),
    ("largest S2(r) gap to data", lambda r: _f(r.get("s2_max_gap"), ".4f")),
    ("percolating x / y", lambda r: _pair(r["percolating_x"], r["percolating_y"])),
    ("distinct", lambda r: _f(r.get("distinct"))),
    ("unchanged by the repair", lambda r: _f(r.get("unchanged_by_repair"))),
    ("copies of a training image", lambda r: _f(r.get("in_training_set"))),
]


def _table(result: dict[str, Any]) -> list[str]:
    models = result["models"]
    names = list(models)
    lines = [_row("reconstruction", names), "|---|" + "---:|" * len(names)]
    lines.append(_row("training images", [_f(models[n].get("n_training"), ",") for n in names]))
    lines.append(_row("evaluation images seen in training",
                      ["yes" if models[n]["seen_in_training"] else "no" for n in names]))
    lines += [
        _row(label, [cell(models[n]["reconstruction"]) for n in names])
        for label, cell in _RECONSTRUCTION_ROWS
    ]
    cols = [("data", models[names[0]]["realism"]["data"])] + [
        (f"{n} {src}", models[n]["realism"][src])
        for n in names for src in ("gan", "vae") if src in models[n]["realism"]
    ]
    lines += ["", _row("samples (repaired)", [c for c, _ in cols]), "|---|" + "---:|" * len(cols)]
    lines += [_row(label, [cell(r) for _, r in cols]) for label, cell in _REALISM_ROWS]
    heads = [f"{n}: pixel acc. / k_xx / k_yy median rel. error" for n in names]
    lines += ["", _row("family (n)", heads), "|---|" + "---:|" * len(names)]
    for fam, first in models[names[0]]["reconstruction"]["per_family"].items():
        cells = []
        for n in names:
            f = models[n]["reconstruction"]["per_family"].get(fam)
            cells.append("-" if f is None else f"{f['pixel_accuracy']:.4f} / " + _pair(
                f["k_xx_median_rel_error"], f["k_yy_median_rel_error"]))
        lines.append(_row(f"{fam} ({first['n']})", cells))
    return lines


def format_image_generator_table(result: dict[str, Any]) -> str:
    """The benchmark's numbers as Markdown tables (printed by the command)."""
    return "\n".join(_table(result))


def image_generators_section(r: dict[str, Any]) -> list[str]:
    """The docs/benchmarks.md section for an image-generator benchmark result."""
    s = r["settings"]
    lines = [
        "## Image generators: reconstruction and realism on the microstructure library",
        "",
        f"Command: `{r.get('command', 'run_image_generator_benchmark(...)')}`",
        "",
        f"The {s['n_library']:,}-image {s['size']} px library (seed {s['library_seed']}), "
        f"repaired as the campaign's space does (min_feature {s['min_feature']}); "
        f"{s['n_eval']:,} evaluation images from a seeded {s['holdout']:.0%} hold-out (seed "
        f"{s['seed']}), compared as repaired images. `campaign`: the model the microstructure "
        "campaign trains and uses (on every repaired distinct library image, so the evaluation "
        f"images were in its training set); `split`: the same settings ({s['training']}) "
        f"trained on the other {1 - s['holdout']:.0%} only (training images equal to a "
        "held-out one after repair dropped). Reconstruction: encoder mean, hard decoding "
        f"(p > 0.5); k: the solver at conductivity {s['conductivity']} on the repaired "
        f"reconstruction vs the repaired original. Samples: {s['n_eval']:,} per latent source "
        "(GAN; VAE prior N(0, I) for scale), decoded and repaired.",
        "",
        *_table(r),
        "",
    ]
    if r.get("figure"):
        lines += [f"![image generators](benchmarks/{r['figure']})", ""]
    lines += [f"The whole benchmark took {r['seconds'] / 60:.1f} min.", ""]
    return lines
