"""``evodesign bench microstructure``: do learned operators find better microstructures?

Issue 14's benchmark on the default microstructure campaign (``runs/microstructure.toml``),
the solver as an exact oracle, equal solver-call budgets, several seeds. Arms: (a) NSGA-II
+ learned operators, (b) NSGA-II + SBX/PM on pixels, (c) NSGA-II over the library
generator's family + parameters, (d) screening of GAN samples, (e) the library's own front,
(f) NSGA-II + SBX/PM on the VAE latent. Protocol: :mod:`.protocol`; budget accounting and
the HV curve: :mod:`.budget`; the arms: :mod:`.arms`; scores: :mod:`.metrics`; the run:
:mod:`.benchmark`; table, figures and report section: :mod:`.tables`.
"""

from __future__ import annotations

from evodesign.benchmarks.microstructure.benchmark import run_microstructure_benchmark
from evodesign.benchmarks.microstructure.protocol import ARMS, FULL, QUICK
from evodesign.benchmarks.microstructure.tables import (
    format_microstructure_table,
    microstructure_section,
    plot_microstructure,
)

__all__ = [
    "ARMS",
    "FULL",
    "QUICK",
    "format_microstructure_table",
    "microstructure_section",
    "plot_microstructure",
    "run_microstructure_benchmark",
]
