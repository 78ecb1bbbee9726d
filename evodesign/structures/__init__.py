"""Crystal structures for designed compositions: pyxtal candidates, CHGNet energies.

Needs the optional extra ``structures`` (``pip install -e ".[structures]"``): CHGNet 0.4.2
(its pretrained universal potential ships inside the wheel; nothing is downloaded) and
pyxtal 1.1.5 (symmetry-constrained random crystals).

    >>> from evodesign.structures import verify_run
    >>> table = verify_run("runs/output/thermoelectric/seed0", top=20, n_jobs=2)  # doctest: +SKIP
"""

from __future__ import annotations

from evodesign.structures.verify import (
    NEW_COLUMNS,
    VerifyError,
    VerifySettings,
    reference_element,
    verify_composition,
    verify_run,
)

__all__ = [
    "NEW_COLUMNS",
    "VerifyError",
    "VerifySettings",
    "reference_element",
    "verify_composition",
    "verify_run",
]
