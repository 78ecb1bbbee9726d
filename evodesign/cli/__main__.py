"""``python -m evodesign.cli``: the same as the ``evodesign`` command."""

from __future__ import annotations

from evodesign.cli import main

main()
