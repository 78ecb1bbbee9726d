"""Assembly: a campaign config and its trained models -> the parts of a search.

Everything a run or a screen is built from, each made in one place from the validated
:class:`~evodesign.campaign.config.CampaignConfig` and the
:class:`~evodesign.campaign.models.CampaignModels`:

* :func:`build_space`: the design space (the ``[space]`` kind's class from its settings and
  the data set), whose :class:`~evodesign.representation.KnownDesigns` the models hold
  (computed once per run; read by the generators' training data, novelty, results and
  sampling);
* :func:`build_objectives`, :func:`build_constraints`, :func:`build_problem`: the pymoo
  problem;
* :func:`repair_check`, :func:`build_sampling`, :func:`build_algorithm`: NSGA-II with the
  learned, classical or adaptive (:mod:`evodesign.search.portfolio`) operators, the repair
  and the duplicate elimination.

The life cycle of a run (folders, checkpoints, resume) is :mod:`evodesign.campaign.runner`'s.

Example:
    >>> from evodesign.campaign import Campaign, assembly
    >>> campaign = Campaign.from_toml("runs/thermoelectric.toml")       # doctest: +SKIP
    >>> problem = assembly.build_problem(campaign.config, campaign.models)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymoo.core.sampling import Sampling

from evodesign.campaign import space_parts
from evodesign.representation import registry

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from evodesign.campaign.config import CampaignConfig
    from evodesign.campaign.models import CampaignModels
    from evodesign.constraints import Constraint
    from evodesign.datasets import MaterialsDataset
    from evodesign.objectives import Objective
    from evodesign.problem import DesignProblem
    from evodesign.representation import DesignSpace

__all__ = [
    "KnownSampling",
    "build_algorithm",
    "build_constraints",
    "build_objectives",
    "build_problem",
    "build_sampling",
    "build_space",
    "repair_check",
]

#: value of an analytic property a design has no data for (e.g. HHI 10,000: the worst)
ANALYTIC_FALLBACK = 10_000.0


# ---------------------------------------------------------------------- space, known designs
def build_space(config: CampaignConfig, data: MaterialsDataset) -> DesignSpace:
    """The design space of a campaign: the ``[space]`` kind's class, from its settings and
    the data set (for compositions: the data set's elements and the element limits).

    The only place a campaign's space is made from its config.

    Args:
        config: the campaign.
        data: its data set.
    """
    kind = config.space.kind
    return registry.spaces.get(kind, kind).from_settings(config.space, data)


# ---------------------------------------------------------------------- the problem
def build_objectives(config: CampaignConfig) -> list[Objective]:
    """The objectives; a range target's ``display`` label says it is one: its own label with
    " (target 1.1–1.7)" added, or "band_gap: target 1.1–1.7 eV"."""
    from evodesign.objectives import Objective
    from evodesign.properties.units import format_window

    out = []
    for o in config.objectives:
        label = o.label
        if o.target is not None:
            if label is None:
                label = f"{o.name}: target {format_window(*o.target, o.name)}"
            elif "target" not in label.lower():
                label = f"{label} (target {format_window(*o.target)})"
        out.append(Objective(o.name, o.direction, o.kappa, tuple(o.target) if o.target else None, label))
    return out


def analytic_functions(names: list[str], space: DesignSpace) -> dict[str, Any]:
    """``name -> callable(designs) -> (n,)`` for the analytic properties ``names`` of the
    space's kind (:data:`~evodesign.representation.registry.analytic_properties`)."""
    from evodesign.representation.registry import analytic_properties

    return {name: analytic_properties.get(space.kind, name)(space) for name in names}


def build_constraints(config: CampaignConfig, models: CampaignModels) -> list[Constraint]:
    """The constraint objects of the config, in a fixed order (the ``g_*`` columns' order):
    the space kind's registered set, then surrogate trust and the property windows.

    Args:
        config: the campaign.
        models: its models (the space, known designs, surrogate and data set).
    """
    from evodesign import constraints as C
    from evodesign.representation.registry import constraint_builders

    space, cfg = models.space, config.constraints
    # the space's own rules first (for compositions: charge balance, element limits,
    # novelty, ...), then those every space shares
    out: list[Any] = list(constraint_builders.get(space.kind, "default")(config, models))
    if models.surrogate is not None and cfg.max_std != "off":
        bounds = models.auto_std_bounds() if cfg.max_std == "auto" else dict(cfg.max_std)
        if bounds:  # "auto" bounds nothing for an exact predictor (a solver's std is 0)
            out.append(C.SurrogateTrust(bounds))
    analytic_names = set(_analytic_names(space))
    for name, (low, high) in cfg.ranges.items():  # hard windows, in file order
        analytic = None
        if name in analytic_names:
            analytic = analytic_functions([name], space)[name]
            values = np.asarray(analytic(models.known.designs), dtype=np.float64)
        else:
            values = models.data.frame[name].to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        scale = float(finite.std()) if len(finite) > 1 else 0.0
        out.append(C.PropertyWindow(name, low, high, confidence=cfg.range_confidence,
                                    scale=scale if scale > 0 else 1.0, analytic=analytic))
    return out


def _analytic_names(space: DesignSpace) -> tuple[str, ...]:
    from evodesign.objectives import analytic_property_names

    return analytic_property_names(space.kind)


def build_problem(config: CampaignConfig, models: CampaignModels) -> DesignProblem:
    """The pymoo problem: objectives, constraints, the surrogate and analytic properties."""
    from evodesign.problem import DesignProblem

    objectives = build_objectives(config)
    return DesignProblem(
        models.space,
        objectives,
        build_constraints(config, models),
        predictor=models.surrogate,
        analytic=analytic_functions([o.name for o in objectives if o.analytic], models.space),
        analytic_fallback=ANALYTIC_FALLBACK,
    )


# ---------------------------------------------------------------------- the algorithm
def repair_check(config: CampaignConfig, models: CampaignModels) -> Any:
    """The validity check the repair prefers, or None: the space kind's
    :data:`~evodesign.campaign.space_parts.search_checks` (compositions: SMACT, cached by
    formula, with ``[search] repair``; microstructures: none)."""
    make = space_parts.part(space_parts.search_checks, models.space.kind)
    return make(config, models) if make is not None else None


def max_per_system(config: CampaignConfig, space: DesignSpace) -> int:
    """``[search] max_per_system`` where the space kind has niches (chemical systems), else
    0: plain NSGA-II."""
    return config.search.max_per_system if space_parts.part(space_parts.niches, space.kind) else 0


class KnownSampling(Sampling):
    """Initial population drawn from known designs' vectors (needs no generators).

    Args:
        data: `(n_data, n_var)` known vectors (deduplicated here).
    """

    def __init__(self, data: NDArray[np.float64]) -> None:
        super().__init__()
        self.data = np.unique(np.asarray(data, dtype=np.float64), axis=0)

    def _do(
        self, problem: Any, n_samples: int, *args: Any, random_state: np.random.Generator, **kwargs: Any
    ) -> NDArray[np.float64]:
        """`(n_samples, n_var)` known rows, without replacement while there are enough."""
        idx = random_state.choice(len(self.data), size=n_samples, replace=n_samples > len(self.data))
        return self.data[idx]

    def do(self, problem: Any, n_samples: int, *args: Any, **kwargs: Any) -> Any:
        """pymoo's sampling, then provenance (``"KnownSampling"``, no parents)."""
        pop = super().do(problem, n_samples, *args, **kwargs)
        for ind in pop:
            ind.set("operator", "KnownSampling")
            ind.set("parents", "")
        return pop


def build_sampling(config: CampaignConfig, models: CampaignModels) -> Sampling:
    """The initial population: known designs, or the generators' samples (``"mix"``: both)."""
    from operators import GeneratorSampling

    s, path = config.search, models.generators_path
    if s.sampling == "known" or path is None:
        return KnownSampling(models.known.vectors)
    source = {"generators": "gan", "mix": "mix"}[s.sampling]
    return GeneratorSampling(str(path), source=source, data=models.known.vectors)


def build_algorithm(config: CampaignConfig, models: CampaignModels) -> Any:
    """The NSGA-II of the config: sampling, operators, repair, duplicate elimination
    (``operators = "adaptive"``: a :class:`~evodesign.search.portfolio.PortfolioMating`)."""
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM

    from evodesign.search.algorithm import design_nsga2
    from operators import GANMutation, LatentInterpolationCrossover

    s, path = config.search, models.generators_path
    if s.operators in ("learned", "adaptive"):
        guide: dict[str, Any] = {}
        make_guide = space_parts.part(space_parts.variation_guides, models.space.kind)
        if s.guided and make_guide is not None:
            guide = {"accept": make_guide(config, models), "max_tries": s.max_tries}
        crossover = LatentInterpolationCrossover(
            str(path), method=s.interpolation, prob=s.crossover_prob, extrapolation=s.extrapolation, **guide
        )
        mutation = GANMutation(
            str(path), strength=s.mutation_strength, prob=s.mutation_prob, direction=s.mutation_direction, **guide
        )
    else:
        crossover = SBX(prob=s.crossover_prob, eta=15)
        mutation = PM(prob=s.mutation_prob, eta=20)
    algorithm = design_nsga2(
        models.space, s.pop_size, build_sampling(config, models), crossover, mutation,
        check=repair_check(config, models), max_per_system=max_per_system(config, models.space),
    )
    if s.operators == "adaptive":
        from evodesign.search.portfolio import PortfolioMating

        # the same repair, deduplication and code policy; the bandit shares the offspring
        # among the learned operators above, SBX/PM and the generator's samples
        m = algorithm.mating
        algorithm.mating = PortfolioMating(
            m.selection, crossover, mutation, SBX(prob=s.crossover_prob, eta=15), PM(prob=s.mutation_prob, eta=20),
            max_factor=m.max_factor, codes=m.codes, repair=m.repair, eliminate_duplicates=m.eliminate_duplicates,
            n_max_iterations=m.n_max_iterations,
        )
    return algorithm
