"""Learned variation operators for evolutionary search (generic over vectors).

This package knows vectors, not chemistry: it depends on torch, numpy and pymoo only,
and :mod:`evodesign` builds the materials engine on top of it. The operators (crossover,
mutation, sampling, acceptance, provenance, DEAP tools) use a model only through the
:class:`GenerativeModel` protocol (encode / decode / latent sampling); :class:`VAEGAN` is
its first implementation, and what is specific to a kind of data lives in a codec
(:mod:`operators.codecs`; :class:`SimplexCodec` for fraction rows, :class:`ImageCodec`
for square two-phase images with convolutional networks). Array-level entries
with latent codes: :mod:`operators.variation`.
"""

from __future__ import annotations

from operators.acceptance import redraw_rejected
from operators.adaptation import fine_tune, rank_weights, split_weights
from operators.artifacts import load_generative_model, read_sidecar, save_generative_model
from operators.crossover import (
    LatentInterpolationCrossover,
    guided_interpolation_children,
    interpolation_children,
    lerp,
    slerp,
)
from operators.deap_tools import mate, mutate
from operators.exceptions import ArtifactError, ArtifactMismatchError, DataError, OperatorsError
from operators.gan import LatentGAN
from operators.codecs import Codec, ImageCodec, SimplexCodec
from operators.codecs.simplex_heads import SimplexHead, SparseSimplexHead
from operators.generative import GenerativeModel
from operators.mutation import GANMutation, guided_latent_step, latent_step
from operators.provenance import parent_keys, vector_key
from operators.sampling import GeneratorSampling
from operators.training import fit_generative_model, fit_latent_gan, fit_vae
from operators.vae import VAE
from operators.vaegan import VAEGAN

__all__ = [
    "VAE",
    "VAEGAN",
    "ArtifactError",
    "ArtifactMismatchError",
    "Codec",
    "DataError",
    "GANMutation",
    "GenerativeModel",
    "GeneratorSampling",
    "ImageCodec",
    "LatentGAN",
    "LatentInterpolationCrossover",
    "OperatorsError",
    "SimplexCodec",
    "SimplexHead",
    "SparseSimplexHead",
    "fit_generative_model",
    "fit_latent_gan",
    "fit_vae",
    "fine_tune",
    "guided_interpolation_children",
    "guided_latent_step",
    "interpolation_children",
    "latent_step",
    "lerp",
    "load_generative_model",
    "mate",
    "mutate",
    "parent_keys",
    "rank_weights",
    "read_sidecar",
    "redraw_rejected",
    "save_generative_model",
    "slerp",
    "split_weights",
    "vector_key",
]
