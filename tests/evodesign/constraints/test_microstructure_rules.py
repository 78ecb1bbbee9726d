"""What ``[space]`` and ``[constraints]`` mean for microstructures: graded percolation and
volume-fraction violations with exact values, novelty, and the registered constraint set
built from a validated campaign config."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.optimize import minimize

from evodesign.campaign import CampaignConfig, ConfigError
from evodesign.campaign.config.microstructure_space import MicrostructureSettings
from evodesign.constraints import DesignBatch, evaluate_constraints
from evodesign.constraints.microstructure_rules import (
    KnownImage,
    Percolation,
    VolumeFractionWindow,
    microstructure_constraints,
)
from evodesign.exceptions import DataError
from evodesign.objectives import Objective
from evodesign.problem import DesignProblem
from evodesign.properties.microstructure import percolates
from evodesign.representation import KnownDesigns, registry
from evodesign.representation.microstructure import MicrostructureSpace
from evodesign.search.algorithm import design_nsga2

BASE = {"campaign": {"name": "demo"}, "objectives": [{"name": "interface_length", "direction": "max"}]}


def _images() -> np.ndarray:
    """Four 8x8 images: empty, a layer along x, a 3x5 block, a cross (both axes)."""
    images = np.zeros((4, 8, 8), dtype=np.uint8)
    images[1, 2:4, :] = 1
    images[2, 1:4, 2:7] = 1
    images[3, 4, :] = 1
    images[3, :, 1] = 1
    return images


def test_percolation_violation_is_the_missing_share_of_the_flow_length():
    G = Percolation(("x", "y"))(DesignBatch.of(_images()))
    assert G.tolist() == [[1.0, 1.0], [0.0, 0.75], [1 - 5 / 8, 1 - 3 / 8], [0.0, 0.0]]
    matrix = Percolation(("y",), phase=0)
    assert matrix.labels() == ["matrix_percolation_y"]
    assert matrix(DesignBatch.of(_images()))[:, 0].tolist() == [0.0, 0.5, 0.0, 0.5]  # a filler row blocks it
    assert Percolation(("x", "y")).labels() == ["filler_percolation_x", "filler_percolation_y"]
    with pytest.raises(DataError, match="percolation axes are 'x' and/or 'y', each once, got"):
        Percolation(("x", "x"))


def test_volume_fraction_window_violation_is_the_distance_to_the_window():
    window = VolumeFractionWindow(0.2, 0.25)
    phi = [0.0, 16 / 64, 15 / 64, 15 / 64]
    G = window(DesignBatch.of(_images()))[:, 0]
    np.testing.assert_allclose(G, [0.2 - phi[0], 0.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(VolumeFractionWindow(0.3, 1.0)(DesignBatch.of(_images()))[:, 0],
                               [0.3, 0.3 - 0.25, 0.3 - 15 / 64, 0.3 - 15 / 64], atol=1e-15)
    assert window.describe() == "filler volume fraction in [0.2, 0.25]"
    with pytest.raises(DataError, match=r"0 <= low <= high <= 1, got \[0.5, 0.2\]"):
        VolumeFractionWindow(0.5, 0.2)


def test_novelty_of_images():
    space = MicrostructureSpace(size=8)
    known = KnownDesigns.from_vectors(space, space.encode(_images()[1:3]))
    G = KnownImage(space, known.ids)(DesignBatch.of(_images()))
    assert G[:, 0].tolist() == [0.0, 1.0, 1.0, 0.0]


def test_constraints_of_another_space_are_refused():
    with pytest.raises(DataError, match=r"Percolation reads microstructure images of shape \(n, H, W\)"):
        Percolation()(DesignBatch.of(np.zeros((2, 5), dtype=np.int64)))


def test_the_registered_set_follows_the_space_table():
    config = CampaignConfig.from_dict(
        BASE | {"space": {"kind": "microstructure", "size": 8, "percolation": ["x", "y"], "volume_fraction": [0.2, 0.25]}}
    )
    assert isinstance(config.space, MicrostructureSettings)
    space = MicrostructureSpace.from_settings(config.space, None)
    known = KnownDesigns.from_vectors(space, space.encode(_images()[1:2]))
    models = SimpleNamespace(space=space, known=known)
    builder = registry.constraint_builders.get("microstructure", "default")
    assert builder is microstructure_constraints
    G, labels = evaluate_constraints(builder(config, models), DesignBatch.of(_images()))
    assert labels == ["filler_percolation_x", "filler_percolation_y", "volume_fraction_window", "novelty"]
    assert (G >= 0).all()
    assert ((G <= 0).all(axis=1)).tolist() == [False, False, False, True]  # only the cross
    # the defaults add nothing; novelty needs known images and [constraints] novel
    plain = CampaignConfig.from_dict(BASE | {"space": {"kind": "microstructure"}, "constraints": {"novel": False}})
    assert microstructure_constraints(plain, models) == []
    assert [c.name for c in microstructure_constraints(config, SimpleNamespace(space=space, known=None))] == [
        "filler_percolation", "volume_fraction_window"
    ]


def test_space_settings_defaults_and_round_trip():
    config = CampaignConfig.from_dict(BASE | {"space": {"kind": "microstructure"}})
    settings = config.space
    assert (settings.size, settings.min_feature, settings.threshold) == (64, 0, 0.5)
    assert settings.percolation == () and settings.volume_fraction == (0.0, 1.0)
    again = CampaignConfig.from_dict(BASE | {"space": config.to_toml_dict()["space"]})
    assert again == config and again.hash() == config.hash()


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"size": 4}, "[space].size: got 4: input should be greater than or equal to 8"),
        ({"size": 16, "min_feature": 16}, "[space].min_feature: got 16: must be smaller than size = 16"),
        ({"percolation": ["x", "z"]}, "[space].percolation[2]: got 'z': input should be 'x' or 'y'"),
        ({"percolation": ["y", "y"]}, "[space].percolation: got ['y', 'y']: each axis at most once"),
        ({"volume_fraction": [0.6, 0.2]}, "[space].volume_fraction: got [0.6, 0.2]: need 0 <= low <= high <= 1"),
        ({"volume_fraction": 0.3}, "[space].volume_fraction: got 0.3: a window is two fractions [low, high]"),
        ({"threshold": 0}, "[space].threshold: got 0: input should be greater than 0"),
        ({"max_atoms": 12}, "[space].max_atoms: unknown key 'max_atoms' in [space]; valid keys: kind, size, "),
    ],
)
def test_space_settings_problems_name_their_key(space, message):
    with pytest.raises(ConfigError) as info:
        CampaignConfig.from_dict(BASE | {"space": {"kind": "microstructure", **space}}, source="c.toml")
    assert any(line.strip().startswith(message) for line in str(info.value).splitlines()), str(info.value)


def test_a_search_under_the_percolation_rules_keeps_feasible_percolating_images():
    config = CampaignConfig.from_dict(
        BASE | {"space": {"kind": "microstructure", "size": 16, "min_feature": 2, "percolation": ["x", "y"]}}
    )
    space = MicrostructureSpace.from_settings(config.space, None)
    constraints = microstructure_constraints(config, SimpleNamespace(space=space, known=None))
    analytic = {n: registry.analytic_properties.get(space.kind, n)(space) for n in ("volume_fraction",)}
    problem = DesignProblem(space, [Objective("volume_fraction", "min")], constraints, analytic=analytic)
    rng = np.random.default_rng(0)
    initial = space.random_vectors(20, rng, fraction=(0.3, 0.7))
    algorithm = design_nsga2(space, 20, initial, SBX(prob=0.9, eta=15), PM(eta=20))
    result = minimize(problem, algorithm, ("n_gen", 5), seed=0)
    images = space.decode(np.atleast_2d(result.pop.get("X")))
    G = np.atleast_2d(result.pop.get("G"))
    feasible = (G <= 0).all(axis=1)
    start = space.decode(initial)
    n_start = int((percolates(start, 1, "x") & percolates(start, 1, "y")).sum())
    assert 0 < n_start < 20  # the rules had something to sort
    assert feasible.sum() >= n_start  # feasibility first: no percolating design is lost
    both = percolates(images, 1, "x") & percolates(images, 1, "y")
    np.testing.assert_array_equal(feasible, both)
    # the lowest filler fraction kept is feasible and no higher than the best at the start
    phi = images.reshape(len(images), -1).mean(axis=1)
    best_start = start.reshape(20, -1).mean(axis=1)[percolates(start, 1, "x") & percolates(start, 1, "y")].min()
    assert phi[feasible].min() <= best_start
