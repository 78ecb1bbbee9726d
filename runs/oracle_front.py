"""Score the fronts of finished composition runs with the oracle of ``evodesign bench search``.

A run's own hypervolume is measured under its own surrogate, so two runs with different
surrogates cannot be compared by it. This script scores each run's ``pareto.csv`` formulas
with the benchmark's oracle instead (gradient boosting on Magpie features fitted on ALL
the data, HHI exact; the same oracle, normalisation and reference point as ``bench
search``) and prints one row per run: designs, oracle HV, surrogate HV, optimism gap,
strict validity and novelty.

Mind what this oracle is for the default campaign: the campaign's surrogate was trained on
the same data as the oracle, so this is an agreement between two models, not a held-out
test (``bench search`` is the held-out protocol). It still answers whether a change of
surrogate moves the front toward or away from what an independent model family expects.

Usage::

    python runs/oracle_front.py runs/thermoelectric.toml RUN_DIR [RUN_DIR ...]

(``RUN_DIR`` is a seed folder, e.g. ``/tmp/front/thermoelectric/seed0``.) The oracle's CV
scores are cached under ``runs/output/bench-search/oracle`` as by the benchmark.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(config_path: str, run_dirs: list[str]) -> int:
    from evodesign.benchmarks.search.judge import Judge, fit_oracle
    from evodesign.benchmarks.search.oracle import make_split
    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.assembly import build_objectives
    from evodesign.campaign.models import resolve_dataset

    base = CampaignConfig.from_toml(config_path)
    objectives = build_objectives(base)
    data = resolve_dataset(base.campaign.dataset, Path(config_path).parent, base.campaign.formula_column)
    out_root = Path("runs/output/bench-search")
    split = make_split(base, data, out_root / "data")
    # the benchmark's full-protocol oracle settings (protocol.FULL): same model, same cache
    oracle, _ = fit_oracle(split, objectives, {"max_iter": 200}, 5, 10_000, 0, out_root / "oracle", False)
    judge = Judge(split, oracle, objectives)
    rows = []
    for run_dir in run_dirs:
        with (Path(run_dir) / "pareto.csv").open(newline="", encoding="utf-8") as handle:
            table = list(csv.DictReader(handle))
        formulas = [r["formula"] for r in table]
        surrogate = [[float(r[o.name]) for o in objectives] for r in table]
        score = judge.score(formulas, surrogate)
        rows.append({"run": run_dir, **{k: score[k] for k in (
            "n_designs", "hv_oracle", "hv_surrogate", "optimism_gap", "strict_validity", "novelty_all")}})
        print(f"{run_dir}: {score['n_designs']} designs, oracle HV {score['hv_oracle']:.4f}, surrogate HV "
              f"{score['hv_surrogate']:.4f} (optimism {score['optimism_gap']:.3f}), strict-valid "
              f"{score['strict_validity']:.2f}, novel {score['novelty_all']:.2f}")
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
