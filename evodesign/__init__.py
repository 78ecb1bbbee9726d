"""evodesign: inverse design of materials by evolutionary search with learned moves.

The package is layered:

* :mod:`evodesign.datasets` -- built-in and user data sets, validated at the boundary.
* :mod:`evodesign.representation` -- composition <-> vector <-> integer formula.
* :mod:`evodesign.featurizers` -- vectorized Magpie element-property statistics.
* :mod:`evodesign.surrogates` -- property models that predict a mean and a std.
* :mod:`evodesign.benchmarks` -- the ``evodesign bench ...`` commands.
"""

from __future__ import annotations

__version__ = "0.1.0"

from evodesign.exceptions import ArtifactError, DataError, EvodesignError

__all__ = ["ArtifactError", "DataError", "EvodesignError", "__version__"]
