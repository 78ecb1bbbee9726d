"""The two spaces of ``evodesign bench loop``: campaign, lab, data and random acquisition.

A :class:`SpaceSetup` holds what every arm of one space shares: the prepared models (the
surrogate and generators, trained once and reused by every arm and seed), the lab (a
callable evaluator), the config of each arm and seed, and the random-acquisition draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evodesign.benchmarks.loop.protocol import LOOP_ARMS, arm_changes

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.models import CampaignModels

__all__ = ["SpaceSetup", "arm_config", "composition_setup", "held_out_top", "microstructure_setup", "random_designs",
           "reduced_formula"]

#: the share of the full data that counts as its top compounds (Rohr et al. 2020)
TOP_SHARE = 0.01


@dataclass
class SpaceSetup:
    """What the arms of one space share.

    Attributes:
        name: ``"microstructure"`` or ``"composition"``.
        base: the campaign as a TOML dict (the arms change ``[search]``, ``[generators]``,
            ``[loop]`` and the seed).
        models: the prepared models (every arm and seed reuses them).
        evaluator: the lab, ``evaluate(designs) -> DataFrame`` of the targets.
        targets: the measured targets.
        draw: ``draw(n, rng) -> (m, n_var)`` candidate vectors of random acquisition
            (repaired, possibly repeating or known: :func:`random_designs` filters).
        lab_designs: `(n, n_var)` vectors -> what ``evaluator`` reads (images or a table).
        top: compositions: reduced formulas of the held-out top compounds (else None).
        info: JSON-ready facts (data sizes, the oracle's accuracy, the top set).
    """

    name: str
    base: dict[str, Any]
    models: CampaignModels
    evaluator: Callable[[Any], pd.DataFrame]
    targets: list[str]
    draw: Callable[[int, np.random.Generator], NDArray[np.float64]]
    lab_designs: Callable[[NDArray[np.float64]], Any]
    top: set[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def config(self, arm: str, seed: int, s: dict[str, Any]) -> CampaignConfig:
        """The campaign of ``arm`` (one of the loop arms) at campaign seed ``seed``."""
        return arm_config(self.base, arm, seed, s)


def arm_config(base: dict[str, Any], arm: str, seed: int, s: dict[str, Any]) -> CampaignConfig:
    """The campaign of loop arm ``arm`` at campaign seed ``seed``: ``base`` (a TOML dict) with
    the arm's ``[search]``, ``[generators]`` and ``[loop]`` changes."""
    from evodesign.campaign import CampaignConfig

    if arm not in LOOP_ARMS:
        raise ValueError(f"arm {arm!r} runs no loop; loop arms: {list(LOOP_ARMS)}")
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    data["campaign"] = {**data["campaign"], "seed": int(seed)}
    for table, values in arm_changes(arm, s).items():
        data[table] = {**data.get(table, {}), **values}
    return CampaignConfig.from_dict(data)


def random_designs(setup: SpaceSetup, n: int, rng: np.random.Generator, max_draws: int = 20) -> NDArray[np.float64]:
    """`(m, n_var)` distinct random-acquisition designs not in the data, ``m <= n`` (less
    only when ``max_draws`` draws could not find ``n``)."""
    from evodesign.search.duplicates import duplicate_mask

    space, known = setup.models.space, setup.models.known
    X = np.zeros((0, space.n_var))
    for _ in range(max_draws):
        missing = n - len(X)
        if missing <= 0:
            break
        Y = setup.draw(max(missing, 8), rng)
        Y = Y[~duplicate_mask(Y) & ~duplicate_mask(Y, X) & ~known.contains(space.ids(space.decode(Y)))]
        X = np.concatenate([X, Y[:missing]])
    return X


def _prepare(config: CampaignConfig, out: Path, cache_dir: Path, progress: bool) -> CampaignModels:
    from evodesign.campaign import Campaign

    return Campaign(config, out_root=out / "runs", cache_dir=cache_dir, progress=progress).prepare("run")


def microstructure_setup(s: dict[str, Any], out: Path, cache_dir: Path, progress: bool) -> SpaceSetup:
    """The microstructure space: the thermal composite at ``s["size"]`` px, the solver as the
    lab, a CNN ensemble on ``s["max_rows"]`` library images as the surrogate."""
    from evodesign.campaign.evaluation import SolverEvaluator
    from evodesign.datasets.microstructures import generate_library_images

    conductivity = [1.0, 10.0]
    base: dict[str, Any] = {
        "campaign": {"name": "bench-loop-microstructure", "dataset": "microstructures", "seed": 0},
        "data": {"n_images": int(s["n_images"]), "seed": 0},
        "space": {"kind": "microstructure", "size": int(s["size"]), "min_feature": 2, "percolation": ["x", "y"]},
        "physics": {"conductivity": conductivity},
        "surrogate": {"model": "cnn", "max_rows": int(s["max_rows"]), **s["surrogate"]},
        "generators": dict(s["generators"]),
        "objectives": [
            {"name": "k_xx", "direction": "max"},
            {"name": "k_yy", "direction": "max"},
            {"name": "volume_fraction", "direction": "min"},
        ],
        "constraints": {"novel": True, "max_std": "off"},
        "search": {"pop_size": int(s["pop_size"]), "n_gen": int(s["n_gen"]), "sampling": "mix", "max_per_system": 0},
        "loop": {"kappa": float(s["kappa"]), "update_epochs": int(s["update_epochs"])},
        "verify": {"after_run": False},
    }
    models = _prepare(arm_config(base, "adaptive", 0, s), out, cache_dir, progress)
    space = models.space
    size = int(s["size"])

    def draw(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        # the library generator's families and parameters, a seed the library never used
        images, _, _ = generate_library_images(max(n, 8), size, seed=int(rng.integers(1, 2**31)))
        return space.encode(space.canonical(images))

    info = {
        "n_library_images": int(s["n_images"]),
        "n_surrogate_rows": int(s["max_rows"]),
        "size": size,
        "conductivity": conductivity,
        "lab": "the conductivity solver (exact)",
        "random_source": "library generator: random families and parameters, fresh seeds, canonicalised",
    }
    return SpaceSetup("microstructure", base, models, SolverEvaluator(tuple(conductivity)), ["k_xx", "k_yy"], draw,
                      space.decode, None, info)


def composition_setup(s: dict[str, Any], seed: int, out: Path, cache_dir: Path, progress: bool) -> SpaceSetup:
    """The composition space: the default campaign on the oracle split of ``bench search``,
    the oracle as the lab, the campaign's surrogate and generators trained on the split."""
    import torch

    from evodesign.benchmarks.search.judge import fit_oracle
    from evodesign.benchmarks.search.oracle import OracleEvaluator, make_split
    from evodesign.benchmarks.search.protocol import slice_rows
    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.assembly import build_objectives, repair_check
    from evodesign.campaign.models import resolve_dataset
    from operators import load_generative_model

    config_path = Path(s["config"])
    toml = CampaignConfig.from_toml(config_path)
    objectives = build_objectives(toml)
    data = slice_rows(resolve_dataset(toml.campaign.dataset, config_path.parent, toml.campaign.formula_column),
                      s["max_rows"], seed)
    split = make_split(toml, data, out / "data")
    oracle, oracle_info = fit_oracle(split, objectives, dict(s["oracle"]), int(s["cv_folds"]), s["cv_rows"], seed,
                                     out / "oracle", progress)
    base = toml.to_toml_dict()
    base["campaign"].update(name="bench-loop-composition", dataset=str(split.csv_path.resolve()))
    base["campaign"].pop("formula_column", None)
    base["constraints"]["max_std"] = "off"
    base["verify"]["after_run"] = False
    base["surrogate"].update(s["surrogate"])
    base["generators"].update(s["generators"])
    base["search"].update(pop_size=int(s["pop_size"]), n_gen=int(s["n_gen"]))
    base["loop"] = {**base.get("loop", {}), "kappa": float(s["kappa"]), "update_epochs": int(s["update_epochs"])}
    config = arm_config(base, "adaptive", 0, s)
    models = _prepare(config, out, cache_dir, progress)
    space = models.space
    check = repair_check(config, models)
    generators = load_generative_model(models.generators_path)

    def draw(n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        return space.repair(generators.sample(n, "gan", generator), check=check)

    def lab_designs(X: NDArray[np.float64]) -> pd.DataFrame:
        return pd.DataFrame(space.table(space.decode(X)))

    top, top_info = held_out_top(split, objectives)
    info = {
        "split": split.info,
        "oracle": oracle_info,
        "lab": "the oracle of bench search (gradient boosting on all the data; HHI exact)",
        "random_source": "GAN samples of the campaign's generators, repaired as the search repairs",
        "top": top_info,
    }
    return SpaceSetup("composition", base, models, OracleEvaluator(oracle), list(oracle.targets), draw, lab_designs,
                      top, info)


def reduced_formula(formula: str) -> str:
    """A formula's reduced form (pymatgen), so that ``Te3Bi2`` and ``Bi4Te6`` match ``Bi2Te3``."""
    from pymatgen.core import Composition

    return Composition(formula).reduced_formula


def held_out_top(split: Any, objectives: list[Any], share: float = TOP_SHARE) -> tuple[set[str], dict[str, Any]]:
    """The held-out top compounds (Rohr et al. 2020): the first non-dominated fronts of the
    full data's feasible compounds (true values, the campaign's hard constraints) until
    they hold ``share`` of the data, less those in the training split.

    Returns:
        Their reduced formulas and JSON-ready counts.
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.column_stack([o.to_minimize(split.values[:, j]) for j, o in enumerate(objectives)])
    rows = np.flatnonzero(split.feasible)
    wanted = math.ceil(share * len(split.full))
    top: list[int] = []
    for front in NonDominatedSorting().do(F[rows]):
        if len(top) >= wanted:
            break
        top += rows[front].tolist()
    top_rows = np.asarray(top, dtype=np.int64)
    held = top_rows[~split.train[top_rows]] if len(top_rows) else top_rows
    formulas = {reduced_formula(f) for f in split.formulas[held].tolist()}
    return formulas, {
        "definition": f"first non-dominated fronts (true values) of the feasible compounds until >= {share:.0%} of "
        "the full data; those held out of the training split count",
        "n_data": int(len(split.full)),
        "n_top": int(len(top_rows)),
        "n_top_held_out": int(len(held)),
        "n_distinct_formulas": len(formulas),
    }
