"""``evodesign bench loop``: does the closed loop find good designs with few lab evaluations?

Issue 15's benchmark. In two spaces -- microstructures (the solver as the lab, a CNN
ensemble as the surrogate) and compositions (the oracle of ``bench search`` as the lab) --
five arms spend the same budget of ``batch x rounds`` lab evaluations: the closed loop with
generators adapted during the search, the same with fixed generators, the loop with SBX/PM,
a one-shot search, and random acquisition from the data's distribution. Scores: HV of the
measured designs vs evaluations, acceleration and enhancement factors against random
acquisition and against the SBX/PM loop, a paired test of adaptive vs fixed generators and,
for compositions, the held-out top-1 % compounds found. Protocol: :mod:`.protocol`; the
spaces: :mod:`.spaces`; scores: :mod:`.metrics`; the run: :mod:`.benchmark`; table, plot
and report section: :mod:`.tables`.
"""

from __future__ import annotations

from evodesign.benchmarks.loop.benchmark import run_loop_benchmark
from evodesign.benchmarks.loop.protocol import ARMS, FULL, QUICK, TARGETS
from evodesign.benchmarks.loop.tables import format_loop_table, loop_section, loop_variant_sections, plot_loop

__all__ = ["ARMS", "FULL", "QUICK", "TARGETS", "format_loop_table", "loop_section", "loop_variant_sections", "plot_loop",
           "run_loop_benchmark"]
