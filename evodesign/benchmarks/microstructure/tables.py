"""Text table, figures and the docs/benchmarks.md section of ``evodesign bench microstructure``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["format_microstructure_table", "microstructure_section", "plot_microstructure"]

_COLUMNS = (
    ("oracle_hv", "oracle HV", 4),
    ("feasible_fraction", "feasible", 3),
    ("n_front", "front", 0),
    ("s2_gap", "S2 gap", 3),
    ("vf_std", "vf std", 3),
    ("hs_ratio_median", "k/HS med", 3),
    ("hs_ratio_max", "k/HS max", 3),
    ("search_s", "time s", 0),
)


def _cell(stat: dict[str, float], digits: int) -> str:
    med, lo, hi = stat["median"], stat["min"], stat["max"]
    if not np.isfinite(med):
        return "n/a"
    if digits == 0:
        return f"{med:,.0f} [{lo:,.0f}, {hi:,.0f}]"
    return f"{med:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _rows(r: dict[str, Any]) -> list[list[str]]:
    return [
        [r["arm_labels"][arm]] + [_cell(a["summary"][m], d) for m, _, d in _COLUMNS]
        for arm, a in r["arms"].items()
    ]


def _verdict(r: dict[str, Any]) -> str:
    c = r["comparison"]
    if not c.get("competitors"):
        return "no competitor arm ran"
    shares = ", ".join("never" if x is None else f"{x:.2f}" for x in c["eval_share_to_reach_best"])
    per_seed = ", ".join(f"{x:.3f}" for x in c["per_seed_ratio_to_best"])
    verdict = "met" if c["target_met"] else "NOT met"
    return (
        f"(a) vs the best of {', '.join(c['competitors'])} (by median: {c['best_competitor']}): "
        f"median oracle HV ratio {c['ratio_median_hv']:.3f}, per seed vs that seed's best "
        f"[{per_seed}], (a) ahead on {c['seeds_won']} of {c['n_seeds']} seeds; share of the "
        f"budget (a) needed to reach that seed's best final HV: [{shares}]. "
        f"Target ({c['target']}): {verdict}.{_ceiling_text(r)}"
    )


def _ceiling_text(r: dict[str, Any]) -> str:
    """The medians as shares of the physical ceiling, and the share the target needs."""
    ceiling, c = r.get("hv_ceiling"), r["comparison"]
    if not ceiling or not c.get("competitors"):
        return ""
    top = ceiling["g_closure"]
    medians = c["median_oracle_hv"]
    shares = ", ".join(f"{arm} {hv / top:.3f}" for arm, hv in medians.items())
    need = 1.2 * medians[c["best_competitor"]] / top
    return (
        f" Physical ceiling of the oracle HV (2D G-closure upper bound): {top:.4f} "
        f"(isotropic designs on the Hashin-Shtrikman bound: {ceiling['isotropic_hs']:.4f}); "
        f"median HV as a share of it: {shares}; 1.2x the best competitor would need "
        f"{need:.3f} of it."
    )


def _reconstruction(g: dict[str, Any]) -> str:
    rec = g.get("reconstruction", {})
    nan = float("nan")
    return (
        f"reconstruction pixel accuracy {rec.get('pixel_accuracy', nan):.3f}, "
        f"exact {rec.get('exact_share', nan):.3f}"
    )


def format_microstructure_table(r: dict[str, Any]) -> str:
    """Plain-text table: median [min, max] over seeds per arm, then the verdict."""
    header = ["arm"] + [label for _, label, _ in _COLUMNS]
    rows = [header] + _rows(r)
    widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    g, s = r["generative_model"], r["settings"]
    lines += [
        "",
        f"budget {r['budget_per_arm_and_seed']:,} solves per arm and seed, {s['n_seeds']} seeds, "
        f"{s['size']} px; generative model trained in {g['training_s']:.0f} s on "
        f"{g['n_images']:,} images (latent {g['latent_dim']}; {_reconstruction(g)}); "
        f"wall {r['wall_s']:.0f} s",
        _verdict(r),
    ]
    return "\n".join(lines)


def plot_microstructure(
    r: dict[str, Any], best_images: dict[str, np.ndarray], prefix: str | Path
) -> list[Path]:
    """``<prefix>_hv.png`` (median oracle HV vs evaluations per arm, min-max band over
    seeds) and ``<prefix>_gallery.png`` (each arm's best design).

    Returns:
        The paths written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)  # files only, no display
    import matplotlib.pyplot as plt

    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    budget = r["budget_per_arm_and_seed"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    grid = np.linspace(0, budget, 121)
    for arm, a in r["arms"].items():
        label = r["arm_labels"][arm]
        if arm == "library":
            ax.axhline(a["summary"]["oracle_hv"]["median"], color="0.4", ls=":", label=label)
            continue
        curves = []
        for run in a["runs"]:
            c = np.asarray(run["curve"], dtype=np.float64).reshape(-1, 2)
            # a step function: the HV reached once n evaluations were spent
            idx = np.searchsorted(c[:, 0], grid, side="right") - 1
            curves.append(
                np.where(idx >= 0, c[np.clip(idx, 0, None), 1], 0.0)
                if len(c)
                else np.zeros_like(grid)
            )
        curves_arr = np.asarray(curves)
        (line,) = ax.plot(grid, np.median(curves_arr, axis=0), label=label)
        ax.fill_between(
            grid, curves_arr.min(axis=0), curves_arr.max(axis=0), color=line.get_color(), alpha=0.15
        )
    ax.set_xlabel("solver calls")
    ax.set_ylabel("oracle hypervolume (normalised)")
    ax.set_title(
        f"{r['settings']['size']} px, {r['settings']['n_seeds']} seeds (median, min-max band)",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    hv_path = prefix.with_name(prefix.name + "_hv.png")
    fig.savefig(hv_path, dpi=110)
    plt.close(fig)

    arms = [arm for arm in r["arms"] if arm in best_images]
    fig, axes = plt.subplots(
        1, max(1, len(arms)), figsize=(2.3 * max(1, len(arms)), 2.9), squeeze=False
    )
    for ax, arm in zip(axes[0], arms):
        ax.imshow(best_images[arm], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        best = max(r["arms"][arm]["runs"], key=lambda run: run["oracle_hv"])["best"] or {}
        values = " ".join(f"{k} {v:.3g}" for k, v in best.items() if k != "volume_fraction")
        phi = best.get("volume_fraction", float("nan"))
        ax.set_title(f"{r['arm_labels'][arm][:3]} {arm}\nphi {phi:.3f}\n{values}", fontsize=6)
    fig.suptitle("each arm's best design (largest own HV box, best seed; filler dark)", fontsize=8)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.88))  # room for the title above the panel titles
    gallery_path = prefix.with_name(prefix.name + "_gallery.png")
    fig.savefig(gallery_path, dpi=110)
    plt.close(fig)
    return [hv_path, gallery_path]


def microstructure_section(r: dict[str, Any]) -> list[str]:
    """The docs/benchmarks.md section for a ``bench microstructure`` result."""
    header = ["arm"] + [label for _, label, _ in _COLUMNS]
    g, s = r["generative_model"], r["settings"]
    command = "evodesign bench microstructure --json docs/benchmarks/microstructure.json"
    lines = [
        "## Microstructures: do learned operators find better microstructures?",
        "",
        f"Command: `{r.get('command', command)}`",
        "",
        f"Campaign `{r['config']}` at {s['size']}x{s['size']} px (max k_xx, max k_yy, min filler "
        "fraction; filler percolating along x and y, min_feature 2, novel; conductivity "
        f"{r['conductivity']}), the solver as fitness. Budget: {r['budget_per_arm_and_seed']:,} "
        f"distinct solver calls per arm and seed (pop {s['pop_size']} x {s['n_gen']} generations), "
        f"{s['n_seeds']} seeds. Oracle HV: the feasible front of every design solved within the "
        f"budget; {r['normalisation']}. Generative model (one for all seeds, image codec "
        f"defaults, latent {g['latent_dim']}) trained in {g['training_s']:.0f} s on "
        f"{g['n_images']:,} library images; {_reconstruction(g)} (known designs). Arm (e) costs "
        f"no solver call (library labels). Wall time {r['wall_s'] / 60:.0f} min.",
        "",
        "Median [min, max] over seeds (S2 gap: largest gap of the mean normalised two-point "
        "autocorrelation to the library's; k/HS: min(k_xx, k_yy) over the Hashin-Shtrikman upper "
        "bound at the design's filler fraction, over the front):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(r)]
    lines += [
        "",
        _verdict(r),
        "",
        "![HV vs evaluations](benchmarks/microstructure_hv.png) "
        "![best designs](benchmarks/microstructure_gallery.png)",
        "",
    ]
    return lines
