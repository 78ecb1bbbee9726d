"""The tables of a campaign file that stand on their own: ``[campaign]``, ``[surrogate]``,
``[generators]``, ``[search]``, ``[screen]`` and ``[verify]``.

``[space]`` (one model per space kind), ``[[objectives]]`` and ``[constraints]`` have modules
of their own; :class:`~evodesign.campaign.config.schema.CampaignConfig` gathers them all.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from evodesign.campaign.config.messages import alternatives, did_you_mean, show
from evodesign.campaign.config.table import StrictTable

__all__ = [
    "MAX_POP_SIZE",
    "MAX_SCREEN_SAMPLES",
    "CampaignSection",
    "DataSection",
    "GeneratorsSection",
    "PhysicsSection",
    "ScreenSection",
    "SearchSection",
    "SurrogateSection",
    "VerifySection",
]

#: Upper bounds of the sizes that fill memory: a population or a screen beyond these is a typo
#: (one more zero), and would stop the run with an out-of-memory error minutes later.
MAX_POP_SIZE = 100_000
MAX_SCREEN_SAMPLES = 10_000_000

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class CampaignSection(StrictTable):
    """``[campaign]``: what the campaign is called and what it learns from.

    Attributes:
        name: folder name under ``runs/output/``: letters, digits, ``_`` and ``-``.
        dataset: a built-in data set (:func:`evodesign.datasets.list_datasets`), or the
            path of a CSV file with a ``formula`` column and numeric target columns
            (:func:`evodesign.datasets.load_csv`), relative to the config file's folder.
        seed: seed of the search (numpy SeedSequence); >= 0.
        description: free text, for the reader.
        formula_column: the column of a CSV ``dataset`` that holds the formulas; unset
            means ``"formula"``. Not used with a built-in data set.
    """

    name: str
    dataset: str = "transport"
    seed: int = Field(0, ge=0)
    description: str | None = None
    formula_column: str | None = Field(None, min_length=1)
    #: folder of trained models, relative to the config file; unset: $EVODESIGN_CACHE_DIR or
    #: the per-user cache (see evodesign.campaign.models.default_cache_dir)
    cache_dir: str | None = Field(None, min_length=1)

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"got {show(value)}: the name becomes a folder under runs/output/, so it may "
                "hold only letters, digits, '_' and '-' (e.g. 'thermoelectric-v2')"
            )
        return value

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        from evodesign.datasets import list_datasets

        names = list_datasets()
        if value not in names and not value.lower().endswith(".csv"):
            raise ValueError(
                f"got {show(value)}: not a built-in data set{did_you_mean(value, names)}; "
                f"valid: {alternatives(names)}, or the path of a .csv file (relative to "
                "the config file's folder)"
            )
        return value

class DataSection(StrictTable):
    """``[data]``: the size of a data set that is generated, not read (``dataset =
    "microstructures"``: the built-in library of labelled images, built once and cached);
    not used by a data set read from a file.

    Attributes:
        n_images: images in the library (at least one per family: 7); the default library
            holds 20,000 (minutes to build once on 2 cores, then cached).
        seed: seed of the library (its images; the campaign's search has its own).
    """

    n_images: int = Field(20_000, ge=7, le=1_000_000)
    seed: int = Field(0, ge=0)


def _positive_pair(value: Any) -> Any:
    numbers = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not numbers or not all(math.isfinite(v) and v > 0 for v in value):
        raise ValueError(
            f"got {show(value)}: conductivity is two positive finite numbers [k_matrix, k_filler], "
            "e.g. [1.0, 10.0]"
        )
    return (float(value[0]), float(value[1]))


class PhysicsSection(StrictTable):
    """``[physics]``: the materials behind a physics solver (``[surrogate] model = "solver"``).

    Attributes:
        conductivity: ``[k_matrix, k_filler]``, the conductivities of phase 0 (matrix) and
            phase 1 (filler), two positive numbers in any consistent unit (the solver's
            ``k_xx`` and ``k_yy`` come out in the same unit); default ``[1.0, 10.0]``.
    """

    conductivity: Annotated[tuple[float, float], Field(strict=False)] = (1.0, 10.0)

    @field_validator("conductivity", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        return _positive_pair(value)


class SurrogateSection(StrictTable):
    """``[surrogate]``: the models that predict the data-set targets (a mean and a std).

    Attributes:
        model: ``"auto"`` (the default for compositions: per target, the best of the
            ``candidates`` and their mean by ``cv_folds``-fold cross-validated MAE, refit on
            every row; the choice and the scores in the model's sidecar and the run's
            manifest; about 3x the ensemble's training time with the default candidates),
            ``"ensemble"`` (deep ensemble of MLPs with a calibrated std), ``"forest"``
            (random forest; std from the spread of its trees) -- these three compositions
            only --,
            ``"solver"`` (no model: the physics solver itself computes ``k_xx`` and ``k_yy``
            of each design, exactly, std 0, with ``[physics] conductivity``) or ``"cnn"``
            (a deep ensemble of small periodic CNNs on the images, mean +/- calibrated
            std, trained on the data set's solver labels: for larger images or dearer
            physics) -- both microstructures only. The other keys of this table do not
            apply to ``"solver"``.
        n_members: networks in the ensemble.
        hidden: widths of each network's hidden layers (``"ensemble"``).
        channels: output channels of each 3x3 convolution of a CNN (``"cnn"``; every
            layer after the first halves the resolution).
        max_rows: train on at most this many rows of the data set, a seeded subset
            (``seed``); 0: every row.
        max_epochs: most training epochs of the ensemble.
        patience: epochs without validation improvement before a network stops.
        architecture: ``"mlp"`` (plain layers) or ``"residual"`` (pre-LayerNorm residual
            blocks, one per entry of ``hidden``, all of one width).
        dropout: dropout inside residual blocks (``"residual"`` only).
        lr_schedule: ``"constant"`` or ``"cosine"`` (warm-up, then decay to 0 at
            ``max_epochs``).
        warmup_epochs: warm-up of the cosine schedule.
        n_estimators: trees of the forest (``"forest"``, and the forest candidates of ``"auto"``).
        candidates: the models ``"auto"`` compares, names of
            :data:`evodesign.surrogates.selection.CANDIDATES`: ``"ensemble"`` (with this
            table's ensemble keys), ``"forest"`` (``n_estimators``), ``"forest_median"``
            (the same forest predicting the median over its trees: better in MAE on targets
            with a point mass, such as band gaps, half of them 0), ``"boosting"``
            (gradient boosting with quantile bands, its own defaults) and ``"attention"``
            (a deep ensemble of attention networks over the elements of the space, its own
            defaults); ``"auto"`` only.
        cv_folds: folds of ``"auto"``'s cross-validation, at least 2 (a tiny data set or a
            quick trial may use fewer than the default 5); ``"auto"`` only.
        weighted: ``"auto"`` also scores weighted means of the candidates, chosen by greedy
            ensemble selection on their out-of-fold predictions (cross-fitted, so it wins
            only where it predicts held-out rows better; no extra fits; see
            :class:`~evodesign.surrogates.AutoSurrogate`); ``"auto"`` only.
        seed: training seed, separate from the campaign seed so that runs with other
            seeds reuse the same trained models.
    """

    model: Literal["solver", "ensemble", "forest", "auto", "cnn"] = "auto"
    n_members: int = Field(5, ge=1, le=64)
    hidden: Annotated[
        tuple[Annotated[int, Field(ge=1, le=16384)], ...], Field(strict=False, min_length=1, max_length=16)
    ] = (256, 256)
    channels: Annotated[
        tuple[Annotated[int, Field(ge=1, le=1024)], ...], Field(strict=False, min_length=1, max_length=8)
    ] = (8, 16, 32, 32)
    max_rows: int = Field(0, ge=0)
    max_epochs: int = Field(200, ge=1, le=100_000)
    patience: int = Field(20, ge=1, le=100_000)
    architecture: Literal["mlp", "residual"] = "mlp"
    dropout: float = Field(0.0, ge=0, lt=1)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    warmup_epochs: int = Field(0, ge=0, le=100_000)
    n_estimators: int = Field(200, ge=1, le=10_000)
    candidates: Annotated[tuple[str, ...], Field(strict=False, min_length=1)] = ("ensemble", "forest", "boosting")
    cv_folds: int = Field(5, ge=2, le=100)
    weighted: bool = False
    seed: int = Field(0, ge=0)

    @field_validator("candidates", mode="before")
    @classmethod
    def _known_candidates(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            return value  # pydantic names the expected list
        # imported here: the selection module pulls in torch, which a config check without
        # this key does not need
        from evodesign.surrogates.selection import CANDIDATES

        valid = list(CANDIDATES)
        if not value:
            raise ValueError(f"got []: name at least one model for model = 'auto' to compare; valid: {alternatives(valid)}")
        for name in value:
            if not isinstance(name, str) or name not in CANDIDATES:
                hint = did_you_mean(name, valid) if isinstance(name, str) else ""
                raise ValueError(f"got {show(name)}: not a surrogate candidate{hint}; valid: {alternatives(valid)}")
        repeated = sorted({name for i, name in enumerate(value) if name in value[:i]})
        if repeated:
            raise ValueError(f"{alternatives(repeated, 'and')} listed twice; name each candidate once")
        return tuple(value)

    @model_validator(mode="after")
    def _residual_width(self) -> SurrogateSection:
        if self.architecture == "residual" and len(set(self.hidden)) != 1:
            raise ValueError(f"architecture = 'residual' needs one repeated width in hidden (e.g. [256, 256, 256]), got {list(self.hidden)}")
        return self


class GeneratorsSection(StrictTable):
    """``[generators]``: the VAE + latent GAN behind the learned operators.

    The defaults shown are those of compositions; a ``[space]`` kind may bring its own
    (microstructure: ``latent_dim = 64``, ``max_epochs = 12``, ``gan_steps = 6000``, the
    image codec's measured sizes), used where the file leaves a key out.

    Attributes:
        latent_dim: size of the VAE's latent space.
        max_epochs: most VAE training epochs.
        gan_steps: most GAN generator steps.
        strict_valid: learn only from SMACT strict-valid known compounds (compositions).
        seed: training seed, separate from the campaign seed so that runs with other
            seeds reuse the same trained models.
        adapt_every: fine-tune the VAE and GAN on the run's archive every this many
            generations (0: never; the trained models stay as cached). The ``adapt_*``
            keys change the search, not the cached models, so they are not part of the
            model cache's key. Off by default: in ``evodesign bench loop`` it lost to fixed
            generators at 100, 300 and 1,000 evaluations in both spaces, narrowing what the
            search proposes (docs/benchmarks.md).
        adapt_weighting: how archive designs are weighted when fine-tuning: ``"rank"``
            (weighted retraining, w proportional to 1 / (k N + non-dominated rank), Tripp et
            al. 2020) or ``"split"`` (the best half by rank only, GMOEA-style good vs poor).
        adapt_k: the ``k`` of ``"rank"`` weighting (small: only the first fronts count).
        adapt_epochs: VAE epochs (and the matching share of GAN steps) per fine-tuning.
    """

    latent_dim: int = Field(32, ge=2, le=256)
    max_epochs: int = Field(150, ge=1, le=100_000)
    gan_steps: int = Field(3000, ge=1, le=10_000_000)
    strict_valid: bool = True
    seed: int = Field(0, ge=0)
    adapt_every: int = Field(0, ge=0, le=100_000)
    adapt_weighting: Literal["rank", "split"] = "rank"
    adapt_k: float = Field(1e-3, gt=0, le=1e6)
    adapt_epochs: int = Field(2, ge=1, le=10_000)


class SearchSection(StrictTable):
    """``[search]``: the NSGA-II budget and its variation operators.

    Attributes:
        pop_size: designs per generation; even (parents mate in pairs), >= 4.
        n_gen: generations.
        operators: ``"learned"`` (latent interpolation + GAN mutation), ``"classical"``
            (SBX + polynomial mutation), both with the same decoding and repair, or
            ``"adaptive"`` (a bandit over latent crossover, GAN mutation, SBX/PM and
            generator sampling, credited by the share of each operator's children that
            reach the next front).
        crossover_prob: probability that a pair of parents is recombined.
        mutation_prob: probability that a child is mutated.
        mutation_strength: GAN mutation step: the share of the way to a GAN sample
            (``"toward"``), or the scale of the difference of two GAN samples
            (``"difference"``); 0 leaves children unchanged.
        interpolation: latent crossover path, ``"slerp"`` or ``"lerp"``.
        extrapolation: latent crossover weights drawn U(-e, 1 + e): children beyond a parent.
        mutation_direction: GAN mutation ``"toward"`` a sample or along the ``"difference"``
            of two samples (default: with the oracle as fitness it searched as well as
            SBX/PM, where the pull towards samples lagged; docs/benchmarks.md).
        sampling: first generation from the ``"generators"``, ``"known"`` compounds or a
            ``"mix"`` of both.
        repair: decode to nearby formulas that pass the SMACT check when one exists.
        guided: learned operators redraw a child that fails the charge-balance check or
            clones a parent (validity-guided variation, up to ``max_tries`` draws).
        max_tries: draws per child with ``guided`` (the first one included).
        checkpoint_every: generations between checkpoints.
        max_per_system: niching by chemical system (the set of elements): in the survival,
            designs beyond this many per system rank behind every design of a system below
            it (they survive only if there is room), and ``pareto.csv`` reports at most this
            many per system (``pareto_all.csv`` keeps the whole front); 0: no cap, plain
            NSGA-II and the whole front in ``pareto.csv``. 1 (the default): on the default
            campaign, over 100 chemical systems on the front (2: under 100).
    """

    pop_size: int = Field(200, ge=4, le=MAX_POP_SIZE)
    n_gen: int = Field(40, ge=1, le=100_000)
    operators: Literal["learned", "classical", "adaptive"] = "learned"
    crossover_prob: float = Field(0.9, ge=0, le=1)
    mutation_prob: float = Field(0.3, ge=0, le=1)
    mutation_strength: float = Field(0.6, ge=0, le=1)
    interpolation: Literal["slerp", "lerp"] = "slerp"
    extrapolation: float = Field(0.0, ge=0, le=1)
    mutation_direction: Literal["toward", "difference"] = "difference"
    sampling: Literal["generators", "known", "mix"] = "mix"
    repair: bool = True
    guided: bool = True
    max_tries: int = Field(8, ge=1, le=64)
    checkpoint_every: int = Field(1, ge=1)
    max_per_system: int = Field(1, ge=0)

    @field_validator("pop_size")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(
                f"got {value}: pop_size must be even (NSGA-II mates parents in pairs); "
                f"use {value - 1} or {value + 1}"
            )
        return value


class ScreenSection(StrictTable):
    """``[screen]``: the one-shot alternative to the search (draw, filter, keep the front).

    Attributes:
        n_samples: candidates drawn.
        source: ``"gan"`` (latent GAN), ``"prior"`` (VAE prior), ``"known"`` (decoded known
            compounds) or ``"random"`` (uniform over the space).
    """

    n_samples: int = Field(20000, ge=1, le=MAX_SCREEN_SAMPLES)
    source: Literal["gan", "prior", "known", "random"] = "gan"


class LoopSection(StrictTable):
    """``[loop]``: the closed loop (``evodesign loop``): propose a batch, measure it, update.

    Each round runs the search on the current surrogate with an optimistic acquisition
    (mean + ``kappa`` std in each objective's better direction), picks ``batch`` diverse
    designs of its final population, has them measured, and continues training the
    surrogate (warm start) on the data set plus every measurement so far.

    Attributes:
        rounds: rounds to run (``--rounds`` overrides; a resumed loop may go on further).
        batch: designs measured per round (``--batch`` overrides).
        kappa: the acquisition's weight on the surrogate's std (0: the mean alone).
        update_epochs: most epochs of the surrogate's warm-started update per round.
        adapt: ``"measured"``: after each round's measurements, fine-tune the generators on
            the data set's designs plus every design measured so far, weighted by the
            measured values' non-dominated rank (``[generators] adapt_weighting``,
            ``adapt_k``, ``adapt_epochs``; the data rows get a rank after the worst
            measured one); the next round searches with them. ``"none"``: the generators
            stay as trained (or as ``[generators] adapt_every`` fine-tunes them inside each
            search; the two cannot be combined). Off by default: in ``evodesign bench
            loop`` it did no better than fixed generators (not significant at 100 and
            300 evaluations, 0 and 2 wins of 5 seeds at 1,000).
    """

    rounds: int = Field(5, ge=1, le=10_000)
    batch: int = Field(20, ge=1, le=100_000)
    kappa: float = Field(1.0, ge=0, le=100)
    update_epochs: int = Field(10, ge=1, le=100_000)
    adapt: Literal["none", "measured"] = "none"


class VerifySection(StrictTable):
    """``[verify]``: crystal structures and CHGNet energies for the front (``evodesign
    verify``; see :mod:`evodesign.structures`). It does not change the search, so it is
    left out of :meth:`CampaignConfig.hash`.

    Attributes:
        top: designs verified, the first rows of ``pareto.csv``.
        n_structures: candidate structures relaxed per design (twice as many are drawn).
        relax_steps: most CHGNet relaxation steps per structure.
        max_atoms: most atoms per cell.
        timeout_s: seconds per design before its worker is killed (a ``timed_out`` row).
        max_e_form: if set, the screening bound on the formation energy (eV/atom): a
            ``verify_pass`` column and ``pareto_verified.csv`` of the designs that pass.
        max_e_above_hull: if set, the screening bound on the energy above the hull of the
            phases built with the same model (eV/atom), applied the same way.
        after_run: run this check on the ``top`` designs at the end of every ``evodesign
            run`` (verdicts in ``pareto.csv``, CIFs in ``structures/``); off by default,
            since it needs the ``structures`` extra and minutes of CHGNet relaxations.
        n_jobs: compositions verified at once by ``after_run`` (worker processes).
    """

    top: int = Field(20, ge=0, le=10_000)
    n_structures: int = Field(3, ge=1, le=64)
    relax_steps: int = Field(50, ge=1, le=100_000)
    max_atoms: int = Field(24, ge=1, le=200)
    timeout_s: float = Field(180.0, gt=0)
    max_e_form: float | None = None
    max_e_above_hull: float | None = Field(None, ge=0)
    after_run: bool = False
    n_jobs: int = Field(1, ge=1, le=256)


