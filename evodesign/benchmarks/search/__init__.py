"""``evodesign bench search``: do the learned operators find better materials?

Protocol (after Design-Bench and Off-MOO-Bench; see :mod:`~evodesign.benchmarks.search.oracle`):
the default campaign (``runs/thermoelectric.toml``: max log10 PF_p, max S_p, min production
HHI under strict SMACT validity, <= 4 elements, <= 20 atoms, a deny list, novelty and a
surrogate-trust bound) is run on a *training split* of the transport data that lacks the
true Pareto-optimal compounds and the top 20 % of every objective. Its surrogate and
generators are trained on that split only. An independent oracle (gradient boosting on all
the data; exact HHI) then scores what every arm proposes.

Arms, each with the same seeds, constraints, decoding/repair and budget of surrogate
evaluations (``pop_size x n_gen`` distinct formulas):

* ``learned``   (a) NSGA-II + learned operators (:meth:`Campaign.run`);
* ``classical`` (b) NSGA-II + SBX/PM (``[search] operators = "classical"``), same start;
* ``latent_ga`` (c) NSGA-II with SBX/PM on the VAE latent vector
  (:mod:`~evodesign.benchmarks.search.latent_ga`);
* ``screen``    (d) generator samples filtered (:meth:`Campaign.screen`, source ``gan``,
  ``n_samples`` = the budget);
* ``train_best``(e) the training split's own non-dominated compounds (by true values,
  under the campaign's hard constraints): what picking from known data gives;
* ``random``    (f) random valid compositions (:meth:`Campaign.screen`, source ``random``);

plus, when asked for, ablations of (a), a DEAP cross-check of (a)
(:mod:`~evodesign.benchmarks.search.deap_arm`) and screening with 10x the budget.

Metrics per arm and seed are those of :mod:`~evodesign.benchmarks.search.judge`; per
generation, the oracle HV of the front then (the runs' checkpoints are read after every
generation), hence the evaluations an arm needed to reach the classical arm's final oracle
HV of the same seed. Paired Wilcoxon signed-rank tests against ``learned`` (scipy). Plus:
evaluations per second of the whole pipeline, speedup of seeds in parallel (``run_seeds``,
``n_jobs`` 2 vs 1, same run), and a ZDT1 regression of plain pymoo NSGA-II. The
per-generation overhead vs population is ``evodesign bench overhead``.

Modules: :mod:`.protocol` (arms, settings, the campaign of an arm), :mod:`.oracle` (split
and oracle), :mod:`.judge` (scoring), :mod:`.arms`, :mod:`.latent_ga`, :mod:`.deap_arm`
(the arms), :mod:`.statistics`, :mod:`.scale`, :mod:`.lock`, :mod:`.benchmark` (the run)
and :mod:`.tables` (text table and plots).
"""

from __future__ import annotations

from evodesign.benchmarks.search.benchmark import run_search_benchmark
from evodesign.benchmarks.search.protocol import ARMS, FULL, QUICK, TARGETS
from evodesign.benchmarks.search.scale import zdt1_regression
from evodesign.benchmarks.search.tables import format_search_table, plot_search

__all__ = ["ARMS", "FULL", "QUICK", "TARGETS", "format_search_table", "plot_search", "run_search_benchmark",
           "zdt1_regression"]
