"""The composition space's campaign parts (see :mod:`evodesign.campaign.space_parts`):
SMACT checks for the repair and guided variation, chemical systems as niches, the pymatgen
``composition`` and ``chemical_system`` columns, the nearest known formula, and the
generators' SMACT-valid training compositions."""

from __future__ import annotations

from typing import Any

from evodesign.campaign import space_parts

KIND = "composition"


def _smact_mode(config: Any) -> str:
    return "cdvae" if config.constraints.charge_balance == "cdvae" else "strict"


def repair_check(config: Any, models: Any) -> Any:
    """The SMACT check the repair prefers (cached by formula), or None without ``[search] repair``."""
    from evodesign.chemistry.validity_filter import CachedSmactValidity

    if not config.search.repair:
        return None
    return CachedSmactValidity(
        models.space.elements, _smact_mode(config), min_state_share=config.constraints.oxidation_state_min_share
    )


def variation_guide(config: Any, models: Any) -> Any:
    """What guided learned operators accept: SMACT-valid (repaired) compositions."""
    from evodesign.chemistry.validity_filter import ValidityFilter

    return ValidityFilter(
        models.space, mode=_smact_mode(config), repair=config.search.repair,
        min_state_share=config.constraints.oxidation_state_min_share,
    )


def chemical_systems(space: Any, designs: Any) -> list[str]:
    """The chemical system of each design (``"Co-Li-N-Ni"``)."""
    from evodesign.search.survival import chemical_system_names

    return chemical_system_names(designs, space.elements) if len(designs) else []


def columns(space: Any, designs: Any) -> dict[str, Any]:
    """The pymatgen ``composition`` (in memory) and the ``chemical_system`` of each design."""
    return {
        "composition": space.to_compositions(space.encode(designs)) if len(designs) else [],
        "chemical_system": chemical_systems(space, designs),
    }


def nearest(space: Any, designs: Any, known_designs: Any) -> Any:
    """The nearest known formula by L1 distance of atomic fractions."""
    from evodesign.constraints import nearest_known

    return nearest_known(space, designs, known_designs)


def generator_vectors(config: Any, known: Any, space: Any, X_data: Any) -> Any:
    """The generators' training vectors: the known compositions (SMACT strict-valid ones
    with ``[generators] strict_valid``)."""
    from evodesign.generators import training_vectors

    return training_vectors(known, space, config.generators.strict_valid)[0]


def generator_options(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(vae_options, gan_options)``: fraction rows (the simplex codec) with the
    ``[generators]`` sizes."""
    from operators.training import SHARPEN_EPOCHS

    g = config.generators
    vae = {
        "latent_dim": g.latent_dim,
        "max_epochs": g.max_epochs,
        # the decoder-sharpening phase never outlasts the main one
        "sharpen_epochs": min(SHARPEN_EPOCHS, g.max_epochs),
    }
    return vae, {"n_steps": g.gan_steps}


space_parts.search_checks.register(KIND, "default", repair_check)
space_parts.variation_guides.register(KIND, "default", variation_guide)
space_parts.niches.register(KIND, "default", chemical_systems)
space_parts.design_columns.register(KIND, "default", columns)
space_parts.nearest_designs.register(KIND, "default", nearest)
space_parts.generator_data.register(KIND, "default", generator_vectors)
space_parts.generator_options.register(KIND, "default", generator_options)
