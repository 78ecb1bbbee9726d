"""What a campaign does differently per design-space kind, looked up by kind (no branching).

The search itself needs only the :class:`~evodesign.representation.DesignSpace` seam; a
campaign adds checks, provenance and reports that depend on what a design *is*. Each is a
small registry ``kind -> "default" -> part`` (the same
:class:`~evodesign.representation.registry.KindRegistry` as the space's own parts); a kind
without an entry simply goes without (:func:`part` returns None):

* :data:`search_checks` -- ``(config, models) -> check | None``: the validity test the
  repair prefers (compositions: SMACT charge balance, with ``[search] repair``);
* :data:`variation_guides` -- ``(config, models) -> accept``: what guided learned operators
  redraw a child for failing (compositions: SMACT);
* :data:`niches` -- ``(space, designs) -> n names``: the niche of each design for
  ``[search] max_per_system`` and the ``chemical_system`` column (compositions: chemical
  systems); a kind without niches runs plain NSGA-II;
* :data:`design_columns` -- ``(space, designs) -> {name: n values}``: extra results-table
  columns right after the label; names in :data:`IN_MEMORY_COLUMNS` stay in memory (the
  pymatgen ``composition``, each row's ``image``) and are not written to CSV;
* :data:`nearest_designs` -- ``(space, designs, known_designs) -> (index, distance)``: the
  ``nearest_known`` / ``nearest_distance`` columns;
* :data:`run_files` -- ``(run_dir, config, objectives, table) -> None``: files a run folder
  holds besides the tables (microstructures: ``designs.npz``, ``gallery.png``);
* :data:`plot_overlays` -- ``(ax, x_name, y_name, config) -> None``: what a pareto.png panel
  draws besides the designs (microstructures: the physical bounds);
* :data:`generator_data` -- ``(config, known, space, X_data) -> (n, n_var)``: the
  generators' training vectors (compositions: the SMACT-valid known compositions;
  microstructures: the data set's images after the space's repair, distinct);
* :data:`generator_options` -- ``config -> (vae_options, gan_options)``: how the generators
  are trained (the codec and the ``[generators]`` sizes); a kind without them has no
  learned operators.

The built-in kinds' parts are in :mod:`evodesign.campaign.composition_parts` and
:mod:`evodesign.campaign.microstructure_parts`, imported on the first lookup.
"""

from __future__ import annotations

import importlib
from typing import Any

from evodesign.representation.registry import KindRegistry

__all__ = [
    "IN_MEMORY_COLUMNS",
    "design_columns",
    "generator_data",
    "generator_options",
    "nearest_designs",
    "niches",
    "part",
    "plot_overlays",
    "run_files",
    "search_checks",
    "variation_guides",
]

search_checks: KindRegistry[Any] = KindRegistry("search check")
variation_guides: KindRegistry[Any] = KindRegistry("variation guide")
niches: KindRegistry[Any] = KindRegistry("niche")
design_columns: KindRegistry[Any] = KindRegistry("design columns")
nearest_designs: KindRegistry[Any] = KindRegistry("nearest known design")
run_files: KindRegistry[Any] = KindRegistry("run files")
plot_overlays: KindRegistry[Any] = KindRegistry("plot overlay")
generator_data: KindRegistry[Any] = KindRegistry("generator training data")
generator_options: KindRegistry[Any] = KindRegistry("generator training options")

#: results-table columns that hold Python objects or arrays: kept in memory, never written
IN_MEMORY_COLUMNS = ("composition", "image")

_BUILTIN = ("evodesign.campaign.composition_parts", "evodesign.campaign.microstructure_parts")
_loaded = False


def part(registry: KindRegistry[Any], kind: str) -> Any:
    """The ``kind``'s entry of ``registry``, or None when the kind has none."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(module)
    return registry.items(kind).get("default")
