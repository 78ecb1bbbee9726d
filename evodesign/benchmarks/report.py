"""``evodesign bench report``: docs/benchmarks.md generated from the benchmark JSON files.

Every number in the Markdown comes from a JSON file that a ``evodesign bench ...`` command
wrote; hand-written commentary lives in ``NOTES.md`` beside the JSON files and is copied
in verbatim, so re-running the benchmarks and this command refreshes the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evodesign.benchmarks.image_generator_tables import image_generators_section
from evodesign.benchmarks.loop import loop_section, loop_variant_sections
from evodesign.benchmarks.microstructure.tables import microstructure_section
from evodesign.benchmarks.solver import solver_section
from evodesign.benchmarks.surrogate_suite import suite_section
from evodesign.exceptions import DataError

__all__ = ["render_report", "write_report"]

_TARGETS = {
    "featurizer_speedup": 50.0,
    "mae_ratio": 0.9,
    "coverage": (0.85, 0.95),
}


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON: {err}") from err


def _mark(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def _featurizer_section(r: dict[str, Any]) -> list[str]:
    ok = r["speedup"] >= _TARGETS["featurizer_speedup"]
    return [
        "## Featurizer: vectorized Magpie statistics vs matminer",
        "",
        "Command: `evodesign bench featurizer --json docs/benchmarks/featurizer.json`",
        "",
        f"The same {r['n']} compositions from the transport data set, one core "
        "(`threadpoolctl` limits BLAS to 1 thread), in one run.",
        "",
        "| featurizer | compositions / s |",
        "|---|---:|",
        f"| matminer `ElementProperty.from_preset('magpie')` | {r['matminer_per_second']:,.0f} |",
        f"| evodesign `MagpieFeaturizer` | {r['ours_per_second']:,.0f} |",
        f"| **speedup** | **{r['speedup']:,.0f}x** |",
        "",
        f"Agreement with matminer on these compositions: max abs diff {r['max_abs_diff']:.2e}, "
        f"max rel diff {r['max_rel_diff']:.2e} over {r['n_features']} features.",
        "",
        f"Target speedup >= {_TARGETS['featurizer_speedup']:.0f}x: {_mark(ok)}.",
        "",
    ]


def _surrogate_section(r: dict[str, Any], heading: str = "## Surrogates: deep ensemble vs random forest") -> list[str]:
    lo, hi = _TARGETS["coverage"]
    command = r.get("command") or (
        f"evodesign bench surrogate --dataset transport --targets {','.join(r['targets'])} "
        "--json docs/benchmarks/surrogate.json"
    )
    settings = r.get("ensemble_params")
    lines = [
        heading,
        "",
        f"Command: `{command}`",
        "",
    ]
    if settings:
        shown = ", ".join(
            f"{k} {v}" for k, v in settings.items()
            if k in ("architecture", "hidden_layer_sizes", "n_members", "dropout", "lr_schedule", "warmup_epochs",
                     "max_epochs", "patience", "likelihood")
        )
        lines += [f"Ensemble: {shown}; {'one model for all targets' if r.get('joint') else 'one model per target'}.", ""]
    lines += [
        f"Data set `{r['dataset']}`, one seeded split ({r['split']}; seed {r['seed']}): "
        f"{r['n_train']} training and {r['n_test']} test formulas. Both models get the same "
        f"{r['n_features']} features ({r['features']}). coverage90 is the fraction of test "
        "points inside the ensemble's 90% interval (mean +/- 1.645 std after calibration on "
        "the ensemble's validation split).",
        "",
        "| target | model | MAE | RMSE | R2 | Spearman | coverage90 | fit s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for target, rows in r["results"].items():
        for model in ("ensemble", "rf"):
            m = rows[model]
            cov = f"{m['coverage90']:.3f}" if "coverage90" in m else "-"
            lines.append(
                f"| {target} | {model} | {m['mae']:.4g} | {m['rmse']:.4g} | {m['r2']:.3f} | "
                f"{m['spearman']:.3f} | {cov} | {m['fit_seconds']:.1f} |"
            )
        ratio = rows["mae_ratio"]
        cov = rows["ensemble"]["coverage90"]
        verdicts.append(
            f"- {target}: ensemble MAE / RF MAE = {ratio:.3f} (target <= "
            f"{_TARGETS['mae_ratio']}: {_mark(ratio <= _TARGETS['mae_ratio'])}); coverage90 = "
            f"{cov:.3f} (target {lo}-{hi}: {_mark(lo <= cov <= hi)})."
        )
    env = r.get("environment", {})
    speed = [
        f"- {target}: the ensemble scores {rows['ensemble']['predict_per_second']:,.0f} "
        "compositions per second (features + mean + std, batches of 20,000)."
        for target, rows in r["results"].items()
        if "predict_per_second" in rows["ensemble"]
    ]
    return [
        *lines,
        "",
        *verdicts,
        *speed,
        "",
        f"Environment: torch {env.get('torch')}, scikit-learn {env.get('scikit-learn')}, "
        f"{env.get('torch_threads')} torch threads.",
        "",
    ]


def _operators_section(r: dict[str, Any]) -> list[str]:
    lines = [
        "## Learned operators: validity, uniqueness, novelty of offspring",
        "",
        "Command: `evodesign bench operators --dataset transport --max-epochs 150 --json "
        "docs/benchmarks/operators.json`",
        "",
        f"The VAE + latent GAN were trained on {r['n_train']} SMACT strict-valid compositions "
        f"(<= 4 elements, <= 20 atoms) in {r['train_seconds']:.0f} s; parents are drawn from "
        f"{r['n_held_out']} held-out compounds; {r['n_offspring']} offspring per arm. `plain` "
        "is the integer decoding alone, `repair` the decoding that prefers the nearest "
        "SMACT-valid ratio within 0.1 (L1). Novelty: reduced formula not among the training "
        "compositions. dist: mean L1 distance (fractions) from a child to its nearest parent. "
        "`*_guided` arms redraw (up to "
        f"{r.get('max_tries', 4)} draws) children whose formula fails SMACT strict or equals "
        "a parent's, filtering with the same decoding as the row's.",
        "",
        "| arm | decode | strict | CDVAE | unique | novel | elements | dist | offspring/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, rows in r["results"].items():
        for decoding, m in rows.items():
            dist = f"{m['mean_parent_distance']:.3f}" if "mean_parent_distance" in m else "-"
            lines.append(
                f"| {arm} | {decoding} | {m['strict_validity']:.3f} | {m['cdvae_validity']:.3f} | "
                f"{m['uniqueness']:.3f} | {m['novelty']:.3f} | {m['mean_n_elements']:.2f} | "
                f"{dist} | {m['offspring_per_second']:,.0f} |"
            )
    res = r["results"]
    verdicts = [
        "",
        f"- VAE exact-formula reconstruction of held-out compounds: "
        f"{r['reconstruction_exact']:.3f} (target >= 0.95: "
        f"{_mark(r['reconstruction_exact'] >= 0.95)}).",
    ]
    rec = r.get("reconstruction")
    if rec:
        verdicts.append(
            f"  With {r.get('refine_steps')} refinement steps per code; the encoder's mean "
            f"alone: {rec['amortized']['exact']:.3f} (wrong elements "
            f"{rec['amortized']['wrong_elements']:.3f}, right elements but wrong "
            f"stoichiometry {rec['amortized']['wrong_stoichiometry']:.3f})."
        )
    for arm in ("crossover", "gan_mutation", "crossover_guided", "gan_mutation_guided", "gan_mutation_difference_guided"):
        if arm not in res:
            continue
        # like with like: guided arms against SBX+PM guided by the same filter
        guided = arm.endswith("_guided") and "sbx_pm_guided" in res
        baseline = "sbx_pm_guided" if guided else "sbx_pm"
        for decoding in ("plain", "repair"):
            m = res[arm][decoding]
            ok = (
                m["strict_validity"] >= 0.90 and m["uniqueness"] >= 0.95
                and m["novelty"] >= 0.80 and m["cdvae_validity"] >= 0.97
            )
            speed = m["offspring_per_second"] / res[baseline][decoding]["offspring_per_second"]
            verdicts.append(
                f"- {arm} ({decoding}): strict {m['strict_validity']:.3f} (>= 0.90), unique "
                f"{m['uniqueness']:.3f} (>= 0.95), novel {m['novelty']:.3f} (>= 0.80), CDVAE "
                f"{m['cdvae_validity']:.3f} (>= 0.97): {_mark(ok)}; speed {speed:.2f}x "
                f"{baseline} (>= 0.2x: {_mark(speed >= 0.2)})."
            )
    return [*lines, *verdicts, ""]


def _overhead_section(r: dict[str, Any]) -> list[str]:
    s, env = r["settings"], r.get("environment", {})
    target = r.get("target", {})
    lines = [
        "## NSGA-II overhead per generation (fitness excluded)",
        "",
        "Command: `evodesign bench overhead --json docs/benchmarks/overhead.json`",
        "",
        f"NSGA-II over the {s['n_var']} transport elements, {s['n_obj']} trivial vectorized "
        "objectives, offspring = population; the arms start from the same population and are "
        "stepped in turn in one process (seed "
        f"{s['seed']}). Time of `algorithm.next()` minus the problem's `_evaluate`, median over "
        "the timed generations; the other columns are means per generation. `matings`: how "
        "often pymoo mated to fill the offspring after removing duplicates; `made`: offspring "
        "created per generation.",
        "",
    ]
    lines += [f"- `{arm}`: {desc}" for arm, desc in s["arms"].items()]
    lines += [
        "",
        "| pop | arm | median ms | vs pymoo | selection | variation | repair | dedup | "
        "survival | matings | made | gens |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pop, arms in r["results"].items():
        for arm, m in arms.items():
            ratio = "1" if arm == "pymoo" else f"{m.get('ratio_to_pymoo', float('nan')):.3f}"
            lines.append(
                f"| {int(pop):,} | {arm} | {m['median_ms']:.1f} | {ratio} | "
                f"{m['selection_ms']:.1f} | {m['variation_ms']:.1f} | {m['repair_ms']:.1f} | "
                f"{m['dedup_ms']:.1f} | {m['survival_ms']:.1f} | {m['matings_per_gen']:.2f} | "
                f"{m['offspring_made_per_gen']:,.0f} | {m['n_gen']} |"
            )
    lines.append("")
    for arm, ok in target.get("met", {}).items():
        at = r["results"][str(target["pop_size"])]
        ms = at[arm]["median_ms"]
        if "ratio_to_classical" in target:  # a ratio to the classical arm of the same run
            lines.append(
                f"- {arm} at population {target['pop_size']:,}: {ms:.1f} ms, "
                f"{ms / at['classical']['median_ms']:.2f}x the classical arm's "
                f"{at['classical']['median_ms']:.1f} ms (target <= "
                f"{target['ratio_to_classical']:g}x: {_mark(ok)})."
            )
        else:
            lines.append(
                f"- {arm} at population {target['pop_size']:,}: {ms:.1f} ms (target <= "
                f"{target['ms']:.0f} ms: {_mark(ok)})."
            )
    model = r.get("model")
    if model and model.get("trained") == "saved model":
        lines.append(
            f"- learned arms' model: the saved model {model['path']} (latent "
            f"{model['latent_dim']}, up to {model['refine_steps']} refinement steps per "
            "encoded row; a trained model reconstructs most rows at once, so it refines less)."
        )
    elif model:
        lines.append(
            f"- learned arms' model: VAE latent {model['vae']['latent_dim']}, hidden "
            f"{tuple(model['vae']['hidden'])}; GAN noise {model['gan']['noise_dim']}, hidden "
            f"{tuple(model['gan']['hidden'])}; trained {model['train_seconds']:.0f} s on "
            f"{model['train_rows']:,} random compositions (the architecture sets the time of "
            "a network pass; the encoder's refinement, which stops on rows it reconstructs, "
            "runs its full steps on nearly every row of so short-trained a model)."
        )
    lines += [
        "",
        f"Environment: {env.get('cpus_usable')} usable of {env.get('cpu_count')} CPUs (1-min "
        f"load {env.get('load_average_1m', float('nan')):.1f} at start), numpy "
        f"{env.get('numpy')}, pymoo {env.get('pymoo')}, torch {env.get('torch')} with "
        f"{env.get('torch_threads')} thread(s).",
        "",
    ]
    return lines


def _cell(stat: dict[str, Any] | None, digits: int = 3) -> str:
    """``median [q25, q75]`` of a summary, or ``-``."""
    if not stat or stat.get("median") is None:
        return "-"
    m = f"{stat['median']:.{digits}g}"
    if stat["n"] > 1 and stat["q25"] != stat["q75"]:
        m += f" [{stat['q25']:.{digits}g}, {stat['q75']:.{digits}g}]"
    return m


def _search_section(r: dict[str, Any], folder: Path) -> list[str]:
    from evodesign.benchmarks.search.tables import plot_search

    s, split, oracle = r["settings"], r["split"], r["oracle"]
    plots = plot_search(r, folder)
    quick = " (quick settings: a data slice, small models, tiny budgets; not the real numbers)" if r.get("quick") else ""
    lines = [
        "## Search: do the learned operators find better materials?" + quick,
        "",
        f"Command: `{r.get('command', 'evodesign bench search --json docs/benchmarks/search.json')}`",
        "",
        f"Oracle protocol on the default campaign (`{s['config']}`: "
        + ", ".join(f"{o['direction']} {o['name']}" for o in s["objectives"])
        + "; its constraints and decoding). The search sees a training split of "
        f"{split['n_train']:,} of {split['n_data']:,} compounds: held out are the true Pareto-optimal "
        f"compounds ({split['n_pareto_feasible']} that the campaign's hard constraints allow, the "
        f"rediscovery targets, plus {split['n_pareto_unconstrained']} unconstrained) and everything "
        f"beyond the {split['percentile']:.0f}th percentile of an objective ("
        + ", ".join(f"{k} {v:.4g}" for k, v in split["thresholds"].items())
        + "). The campaign's surrogate and generators are trained on the split only. "
        "The oracle is another model family trained on all the data: "
        f"{oracle['model']}. Its own cross-validated accuracy"
        + (f" (on a random {oracle['cv_rows']:,}-compound subsample: pessimistic, each fold's model sees "
           "fewer compounds than the oracle)" if oracle.get("cv_rows") else "")
        + ":",
        "",
        "| target | folds | MAE | RMSE | R2 |",
        "|---|---:|---:|---:|---:|",
    ]
    for t, m in oracle["cv"].items():
        lines.append(f"| {t} | {m['n_folds']} | {m['mae']:.4g} | {m['rmse']:.4g} | {m['r2']:.3f} |")
    lines += [
        "",
        f"Every arm: {s['n_seeds']} seeds (run i uses SeedSequence({s['seed']}, spawn_key=(i,))), "
        f"budget {s['budget']:,} surrogate evaluations (population {s['pop_size']} x {s['n_gen']} "
        "generations; each distinct formula costs one), the same constraints and formula repair. "
        f"Final designs: the feasible non-dominated set under the surrogate (at most {s['max_designs']}). "
        "HV: objectives normalised by the full data's range (0 = best known value, 1 = worst), "
        f"reference point {s['hv_reference_point']} in each. IGD/GD: against the oracle-scored "
        "front of the full data's feasible compounds (same normalisation). gap: HV under the "
        "surrogate / HV under the oracle (> 1: the surrogate flatters the designs). redisc.: "
        "held-out Pareto compounds proposed (exact reduced formula). evals to (b): share of the "
        "budget after which the arm's front first reached arm (b)'s final oracle HV of the same "
        "seed (from every generation's front, re-scored by the oracle). Cells: median "
        "[25th, 75th percentile] over seeds; p: paired two-sided Wilcoxon signed-rank test of the "
        "oracle HV against arm (a).",
        "",
        "| arm | oracle HV | surrogate HV | gap | IGD | GD | redisc. | novel | valid | unique | designs | evals | evals to (b) | s | p (HV vs a) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, a in r["arms"].items():
        m = a["summary"]
        test = a.get("vs_learned", {}).get("hv_oracle", {})
        p = test.get("p_value")
        lines.append(
            f"| {a['label']} | {_cell(m['hv_oracle'], 4)} | {_cell(m['hv_surrogate'], 4)} | "
            f"{_cell(m['optimism_gap'])} | {_cell(m['igd'])} | {_cell(m['gd'])} | {_cell(m['rediscovered'])} | "
            f"{_cell(m['novelty_all'])} | {_cell(m['strict_validity'])} | {_cell(m['uniqueness'])} | "
            f"{_cell(m['n_designs'])} | {_cell(m['n_evaluations'], 5)} | "
            f"{_cell(m['evals_fraction_to_classical_hv'], 2)} | {_cell(m['search_s'])} | "
            f"{'-' if p is None else f'{p:.3g}'} |"
        )
    v, targets = r["verdict"], r["targets"]
    frac = v["evals_fraction_to_classical_hv"]
    if r.get("reference_front"):
        import numpy as np
        from pymoo.indicators.hv import HV

        front = np.asarray(r["reference_front"], dtype=float)
        ref_hv = HV(ref_point=np.full(front.shape[1], s["hv_reference_point"]))(front)
        lines += [
            "",
            f"For scale: the oracle-scored front of all {split['n_data']:,} known compounds has HV "
            f"{ref_hv:.4f} on this scale (the most a design set could reach is about "
            f"{s['hv_reference_point'] ** front.shape[1]:.3f}, with every objective at its best known value).",
        ]
    lines += [
        "",
        f"- Oracle HV (a) / (b) = {v['hv_ratio_vs_classical']:.3f} (target >= "
        f"{targets['hv_ratio_vs_classical']}: {_mark(v['hv_ratio_vs_classical'] >= targets['hv_ratio_vs_classical'])}).",
    ]
    if v.get("hv_ratio_vs_screen") is not None:
        lines.append(
            f"- Oracle HV (a) / (d) = {v['hv_ratio_vs_screen']:.3f} (target >= {targets['hv_ratio_vs_screen']}: "
            f"{_mark(v['hv_ratio_vs_screen'] >= targets['hv_ratio_vs_screen'])})."
        )
    lines.append(
        "- (a) reaches (b)'s final oracle HV after "
        + ("never, in the median seed" if frac is None else f"{frac:.2f} of the budget (median)")
        + f" (target <= {targets['evals_fraction']}: {_mark(frac is not None and frac <= targets['evals_fraction'])})."
    )
    for key, arm in (("beats_train_best", "(e)"), ("beats_random", "(f)")):
        if v.get(key) is not None:
            lines.append(f"- (a) beats {arm} in median oracle HV: {_mark(bool(v[key]))}.")
    red = [v.get("rediscovered_learned"), v.get("rediscovered_classical"), v.get("rediscovered_screen")]
    if None not in red:
        ok = red[0] > red[1] and red[0] > red[2]
        lines.append(
            f"- Held-out Pareto compounds rediscovered (median): (a) {red[0]:g}, (b) {red[1]:g}, (d) {red[2]:g} "
            f"(target: (a) more than (b) and (d): {_mark(ok)})."
        )
    lines += ["", "Speed and scale:", ""]
    eps = r.get("speed", {}).get("evals_per_second", {})
    if eps:
        lines.append(
            "- Evaluations per second of the whole pipeline (variation, decoding and repair, features, "
            "surrogate, constraints; median over seeds): "
            + ", ".join(f"{arm} {x:,.0f}" for arm, x in eps.items() if x) + "."
        )
    par = r.get("parallel")
    if par:
        lines.append(
            f"- {par['n_seeds']} seeds of arm (a) (population {par['pop_size']} x {par['n_gen']} generations) "
            f"with `run_seeds`: {par['seconds_n_jobs_1']:.0f} s one after another, {par['seconds_n_jobs_2']:.0f} s "
            f"with 2 workers: {par['speedup']:.2f}x on {par['cpus_usable']} usable CPUs (1-min load "
            f"{par['load_average_1m']:.1f} when it ended)."
        )
    z = r.get("zdt1")
    if z:
        lines.append(
            f"- ZDT1 regression (pymoo NSGA-II, SBX/PM, {z['n_var']} variables, population {z['pop_size']}, "
            f"{z['n_gen']} generations): HV at (1.1, 1.1) = {', '.join(f'{h:.4f}' for h in z['hv'])} "
            f"(>= {z['target']} in every seed: {_mark(z['met'])})."
        )
    lines.append("- Per-generation NSGA-II overhead vs population: see the overhead section (`evodesign bench overhead`).")
    if isinstance(r.get("deap"), str):
        lines.append(f"- DEAP cross-check of (a): {r['deap']}.")
    elif "deap" in r["arms"]:
        d, a = r["arms"]["deap"]["summary"], r["arms"]["learned"]["summary"]
        lines.append(
            f"- DEAP cross-check of (a) ({d['hv_oracle']['n']} seeds, same operators, budget and repair; "
            f"`selTournamentDCD` + `selNSGA2`): oracle HV {_cell(d['hv_oracle'], 4)} vs (a) "
            f"{_cell(a['hv_oracle'], 4)}; {_cell(d['search_s'])} s per run vs {_cell(a['search_s'])} s "
            "(DEAP calls the operators one pair at a time)."
        )
    lines += ["", *[f"![{p.stem}]({p.parent.name}/{p.name})" for p in plots], ""]
    env = r.get("environment", {})
    lines += [
        f"Environment: {env.get('cpus_usable')} usable of {env.get('cpu_count')} CPUs (1-min load "
        f"{env.get('load_average_1m', float('nan')):.1f} at the end), pymoo {env.get('pymoo')}, torch "
        f"{env.get('torch')}, scikit-learn {env.get('scikit-learn')}; the whole benchmark took "
        f"{r['seconds'] / 60:.0f} min (model training {r['models']['prepare_s'] / 60:.1f} min of it).",
        "",
    ]
    return lines


def _verify_section(r: dict[str, Any]) -> list[str]:
    """Calibration of ``evodesign verify`` (pyxtal + CHGNet) on known compounds."""
    s, st, t = r["summary"], r["settings"], r["timings"]
    lines = [
        "## Structure verification: calibration on known compounds",
        "",
        f"Command: `{r.get('command', 'evodesign bench verify --json docs/benchmarks/verify.json')}`",
        "",
        f"The `verify` procedure (pyxtal candidates over {len(st['space_groups'])} common space "
        f"groups, {2 * st['n_structures']} drawn and {st['n_structures']} relaxed per compound, "
        f"<= {st['relax_steps']} CHGNet FIRE steps, <= {st['max_atoms']} atoms per cell; elemental "
        "references found and relaxed the same way) on "
        f"{s['n_compounds']} known compounds of the transport data whose ground-state prototype "
        "pymatgen/ase builds. delta = E(found) - E(known prototype relaxed the same way), eV/atom. "
        f"{st['n_jobs']} worker(s); verify {t['verify_s']:.0f} s, prototypes {t['prototype_s']:.0f} s "
        f"(load {r['machine']['load_1min_at_start']:.1f} on {r['machine']['cpu_count']} cores at start).",
        "",
        f"- structure found: {s['n_ok']}/{s['n_compounds']}",
        f"- E_form < 0: {s['n_e_form_negative']}/{s['n_ok']}"
        + (f" ({100 * s['fraction_e_form_negative']:.0f}%)" if s["fraction_e_form_negative"] is not None else ""),
    ]
    if s["n_delta"]:
        lines += [
            f"- found within 0.05 eV/atom of the known prototype: {100 * s['fraction_within_0.05']:.0f}% "
            f"(within 0.2: {100 * s['fraction_within_0.2']:.0f}%); median delta {s['median_delta']:+.3f}, "
            f"worst {s['max_delta']:+.3f} eV/atom",
        ]
    lines += ["", "| compound | prototype | found | E_form (eV/atom) | delta (eV/atom) |", "|---|---|---|---:|---:|"]
    for c in r["compounds"]:
        e = "" if c["e_form_chgnet"] is None else f"{c['e_form_chgnet']:.3f}"
        d = "" if c["delta"] is None else f"{c['delta']:+.3f}"
        found = c["spacegroup_found"] if c["status"] == "ok" else c["status"]
        lines.append(f"| {c['formula']} | {c['prototype']} | {found} | {e} | {d} |")
    return lines + [""]


def _search_followups_section(folder: Path) -> list[str]:
    """One compact table per ``search-*.json`` (follow-up and diagnostic runs of the search
    benchmark: subsets of arms, variants, the oracle as fitness)."""
    files = sorted(folder.glob("search-*.json"))
    if not files:
        return []
    lines = [
        "## Search: follow-up and diagnostic runs",
        "",
        "Each table is one `evodesign bench search` run with the same split, oracle, models and seeds "
        "as above unless its settings line says otherwise (commentary in the notes below). "
        "`fitness = oracle`: the search optimised the oracle itself (std 0, no trust bound), so "
        "the arms differ only in how their variation explores. Cells: median [25th, 75th "
        "percentile] over seeds; p: paired Wilcoxon test of the oracle HV against arm (a) of "
        "the same run.",
        "",
    ]
    for path in files:
        r = json.loads(path.read_text())
        s = r["settings"]
        lines += [
            f"### `{path.name}`",
            "",
            f"Command: `{r.get('command', '?')}`",
            "",
            f"Settings: fitness = {s.get('fitness', 'surrogate')}, {s['n_seeds']} seeds, population "
            f"{s['pop_size']} x {s['n_gen']} generations (budget {s['budget']:,} evaluations per run)"
            + (f", {s['campaign_search']['max_tries']} draws per child" if "campaign_search" in s else "") + ".",
            "",
            "| arm | oracle HV | surrogate HV | IGD | redisc. | novel | designs | evals | s | p (HV vs a) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for arm, a in r["arms"].items():
            m = a["summary"]
            p = a.get("vs_learned", {}).get("hv_oracle", {}).get("p_value")
            lines.append(
                f"| {a['label']} | {_cell(m['hv_oracle'], 4)} | {_cell(m['hv_surrogate'], 4)} | "
                f"{_cell(m['igd'], 3)} | {_cell(m['rediscovered'], 2)} | {_cell(m['novelty_all'], 3)} | "
                f"{_cell(m['n_designs'], 3)} | {_cell(m['n_evaluations'], 4)} | {_cell(m['search_s'], 3)} | "
                f"{'-' if p is None else f'{p:.3g}'} |"
            )
        v = r["verdict"]
        lines += [
            "",
            f"Oracle HV (a)/(b) = {v['hv_ratio_vs_classical']:.3f}"
            + (f", (a)/(d) = {v['hv_ratio_vs_screen']:.3f}" if v.get("hv_ratio_vs_screen") else "")
            + f"; {r['seconds'] / 60:.0f} min in all.",
            "",
        ]
    return lines


def _constraints_section(r: dict[str, Any]) -> list[str]:
    """How many known compounds each design rule of a campaign would reject."""
    lines = [
        "## Design rules: known compounds each would reject",
        "",
        f"Command: `{r.get('command', 'evodesign bench constraints --json docs/benchmarks/constraints.json')}`",
        "",
        f"The rules of `{r['config']}` applied to the {r['n_known']:,} known formulas of `{r['dataset']}` "
        "(a rule that rejects many known compounds is strict, not wrong: the known data hold "
        "metals, molecules and large cells a campaign does not want).",
        "",
        "| rule | what it asks | rejected | % | examples |",
        "|---|---|---:|---:|---|",
    ]
    for rule in r["rules"]:
        lines.append(
            f"| {rule['rule']} | {rule['description']} | {rule['n_rejected']:,} | {rule['percent']:.1f} | "
            f"{', '.join(rule['examples'])} |"
        )
    every = r.get("any")
    if isinstance(every, dict):
        lines.append(f"| any of these | | {every['n_rejected']:,} | {every['percent']:.1f} | |")
    return lines + [""]


def render_report(folder: str | Path) -> str:
    """The Markdown text for the JSON results in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no benchmark results folder at {folder}")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `evodesign bench report` from the JSON files in "
        f"`{folder.as_posix()}/`; do not edit by hand (commentary goes in "
        f"`{folder.as_posix()}/NOTES.md`). Every figure comes from a command anyone can re-run.",
        "",
    ]
    sections = {
        "featurizer": _featurizer_section,
        "surrogate": _surrogate_section,
        "operators": _operators_section,
        "overhead": _overhead_section,
        "search": lambda r: _search_section(r, folder),
        "verify": _verify_section,
        "constraints": _constraints_section,
        "solver": solver_section,
        "microstructure": microstructure_section,
        "image_generators": image_generators_section,
        "loop": lambda r: loop_section(r) + loop_variant_sections(folder),
    }
    found = False
    for name, section in sections.items():
        result = _load(folder, name)
        if result is not None:
            lines += section(result)
            found = True
        if name == "surrogate":  # variants of the surrogate benchmark, one subsection each
            for path in sorted(folder.glob("surrogate-*.json")):
                variant = _load(folder, path.stem)
                suite = variant.get("benchmark") == "surrogate-suite"  # bench surrogate --suite
                lines += (suite_section if suite else _surrogate_section)(variant, heading=f"### {'Model selection by CV' if suite else 'Surrogate variant'}: `{path.name}`")
                found = True
        if name == "search":  # follow-up and diagnostic runs right after the main table
            followups = _search_followups_section(folder)
            lines += followups
            found = found or bool(followups)
    if not found:
        raise DataError(f"no benchmark JSON files in {folder} (expected {list(sections)})")
    notes = folder / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    return "\n".join(lines)


def write_report(folder: str | Path, out: str | Path) -> Path:
    """Write :func:`render_report` to ``out`` and return its path."""
    text = render_report(folder)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
