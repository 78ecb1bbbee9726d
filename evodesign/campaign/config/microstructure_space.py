"""``[space] kind = "microstructure"``: which two-phase images the search may propose.

Registered for the kind in :data:`evodesign.representation.registry.space_settings`
(loaded with the built-in modules), so :func:`~evodesign.campaign.config.space.validate_space`
finds it; like the composition space's element limits, the rules that decide which images
are acceptable live in this table, and :mod:`evodesign.constraints.microstructure_rules`
turns them into constraints::

    [space]
    kind = "microstructure"
    size = 64
    min_feature = 2
    percolation = ["x", "y"]
    volume_fraction = [0.1, 0.6]
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from evodesign.campaign.config.messages import Problems, show
from evodesign.campaign.config.table import StrictTable
from evodesign.representation import registry

__all__ = ["MicrostructureSettings"]

KIND = "microstructure"


class MicrostructureSettings(StrictTable):
    """``[space]`` of a microstructure campaign.

    Attributes:
        kind: ``"microstructure"``.
        size: image side in pixels (``size x size`` images), 8 to 1024; default 64.
        min_feature: smallest filler or matrix feature, in pixels: thinner ones are
            removed when a vector is decoded (periodic opening then closing with a
            ``min_feature`` square); 0 (default) or 1: none. Less than ``size``.
        threshold: a pixel value above it is filler, strictly between 0 and 1.
        percolation: axes along which the filler must percolate (4-connected, periodic
            across), ``[]`` (default), ``["x"]``, ``["y"]`` or ``["x", "y"]``: one
            ``filler_percolation_<axis>`` constraint column each.
        volume_fraction: the filler fraction's window ``[low, high]`` within [0, 1];
            ``[0, 1]`` (default) adds no constraint.
    """

    #: defaults of other tables for this kind, where the file leaves a key out: the image
    #: generators' sizes (the composition defaults would train a convolutional VAE for
    #: hours). They are the image codec's measured defaults
    #: (:attr:`operators.codecs.image.ImageCodec.fit_defaults`: latent 64, 12 epochs, 4-5.5
    #: min on 20,000 64x64 images; its GAN steps, 6,000); a test keeps them equal.
    #: The surrogate: the solver by default; a CNN ensemble's epochs and patience are
    #: those of :class:`~evodesign.surrogates.CNNEnsembleRegressor` (the MLP's 200 / 20
    #: would take hours on images).
    table_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "generators": {"latent_dim": 64, "max_epochs": 12, "gan_steps": 6000},
        "surrogate": {"model": "solver", "max_epochs": 40, "patience": 8},
    }
    #: the ``[surrogate] model`` values that can predict from images
    surrogate_models: ClassVar[tuple[str, ...]] = ("solver", "cnn")

    kind: Literal["microstructure"] = KIND
    size: int = Field(64, ge=8, le=1024)
    min_feature: int = Field(0, ge=0)
    threshold: float = Field(0.5, gt=0, lt=1)
    percolation: Annotated[tuple[Literal["x", "y"], ...], Field(strict=False)] = ()
    volume_fraction: Annotated[tuple[float, float], Field(strict=False)] = (0.0, 1.0)

    @field_validator("volume_fraction", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        numbers = (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
        if not numbers:
            raise ValueError(f"got {show(value)}: a window is two fractions [low, high], e.g. [0.1, 0.6]")
        low, high = float(value[0]), float(value[1])
        if not 0.0 <= low <= high <= 1.0:  # NaN fails too
            raise ValueError(f"got {show(value)}: need 0 <= low <= high <= 1, e.g. [0.1, 0.6]")
        return (low, high)

    @model_validator(mode="after")
    def _consistent(self) -> MicrostructureSettings:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.min_feature >= self.size:
            problems.append(
                (("min_feature",), f"got {self.min_feature}: must be smaller than size = {self.size}")
            )
        if len(set(self.percolation)) != len(self.percolation):
            problems.append((("percolation",), f"got {show(list(self.percolation))}: each axis at most once"))
        if problems:
            raise Problems(problems)
        return self


registry.space_settings.register(KIND, KIND, MicrostructureSettings)
