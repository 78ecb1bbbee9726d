"""evaluate_batch: chunks in order, the callable's output checked, loky and a real dask cluster."""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign.evaluation import SolverEvaluator, evaluate_batch
from evodesign.exceptions import DataError, UsageError
from evodesign.physics import effective_conductivity


def _images(n=8, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, size, size)) < 0.45).astype(np.uint8)


class _Recorder:
    """Evaluates vectors as (sum, first) and records the chunk sizes it was called with."""

    def __init__(self):
        self.sizes = []

    def __call__(self, chunk):
        self.sizes.append(len(chunk))
        values = np.asarray(chunk, dtype=float)
        return pd.DataFrame({"total": values.sum(axis=1), "first": values[:, 0], "unused": 0.0})


def test_solver_evaluator_matches_the_solver_and_exact_laminates():
    images = _images(4)
    frame = SolverEvaluator((1.0, 10.0))(images)
    assert list(frame.columns) == ["k_xx", "k_yy"]
    np.testing.assert_array_equal(frame.to_numpy(), effective_conductivity(images, (1.0, 10.0)))
    stripes = np.zeros((1, 4, 4), dtype=np.uint8)
    stripes[0, :2] = 1  # two rows of filler: parallel to x, in series along y
    k = SolverEvaluator((1.0, 10.0))(stripes).iloc[0]
    assert k["k_xx"] == pytest.approx(5.5, rel=1e-12)
    assert k["k_yy"] == pytest.approx(1 / (0.5 / 1.0 + 0.5 / 10.0), rel=1e-12)


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 7, 50])
def test_chunks_keep_the_order_of_the_designs(chunk_size):
    vectors = np.arange(14.0).reshape(7, 2)
    recorder = _Recorder()
    out = evaluate_batch(recorder, vectors, ["total", "first"], chunk_size=chunk_size)
    assert list(out.columns) == ["total", "first"]
    np.testing.assert_array_equal(out["total"], vectors.sum(axis=1))
    np.testing.assert_array_equal(out["first"], vectors[:, 0])
    expected = {None: [7], 1: [1] * 7, 3: [3, 3, 1], 7: [7], 50: [7]}[chunk_size]
    assert recorder.sizes == expected


def test_a_dataframe_keeps_its_index_and_a_dict_output_is_accepted():
    designs = pd.DataFrame({"x": [3.0, 1.0, 2.0]}, index=["c", "a", "b"])
    out = evaluate_batch(lambda d: {"y": d["x"].to_numpy() * 2}, designs, ["y"], chunk_size=2)
    assert out.index.tolist() == ["c", "a", "b"]
    assert out["y"].tolist() == [6.0, 2.0, 4.0]


def test_nan_is_a_failure_and_passes_through():
    out = evaluate_batch(lambda d: pd.DataFrame({"y": [np.nan, 1.0, None][: len(d)]}), np.zeros((3, 1)), ["y"])
    assert np.isnan(out["y"].to_numpy()[[0, 2]]).all() and out["y"][1] == 1.0


def test_an_empty_batch_gives_an_empty_frame():
    out = evaluate_batch(SolverEvaluator(), np.zeros((0, 4, 4), np.uint8), ["k_xx", "k_yy"], n_jobs=2)
    assert out.shape == (0, 2) and list(out.columns) == ["k_xx", "k_yy"]


@pytest.mark.parametrize(
    ("evaluate", "message"),
    [
        (lambda d: np.zeros(len(d)), "returned a ndarray; expected a pandas DataFrame"),
        (lambda d: pd.DataFrame({"y": np.zeros(len(d) + 1)}), "returned 3 rows; expected one per design (2)"),
        (lambda d: pd.DataFrame({"z": np.zeros(len(d))}), "returned no column 'y'"),
        (lambda d: pd.DataFrame({"y": ["a"] * len(d)}), "column 'y' is not numeric"),
        (lambda d: pd.DataFrame({"y": [True] * len(d)}), "column 'y' is boolean"),
        (lambda d: {"y": np.zeros(1)}, "returned arrays of lengths {'y': 1}; expected 2 values"),
        (lambda d: pd.DataFrame({"y": np.where(d[:, 0] == 3, np.inf, d[:, 0])}), "is infinite at row 3"),
    ],
)
def test_a_bad_output_names_the_chunk(evaluate, message):
    with pytest.raises(DataError) as error:
        evaluate_batch(evaluate, np.arange(4.0).reshape(4, 1), ["y"], chunk_size=2)
    # only the inf case passes its first chunk (rows 0-1 finite): it fails on the chunk at row 2
    start = 2 if "infinite" in message else 0
    assert f"starting at row {start} (2 designs)" in str(error.value)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_jobs": 0}, "n_jobs must be a positive integer or -1"),
        ({"chunk_size": 0}, "chunk_size must be a positive integer"),
        ({"backend": "spark"}, "unknown backend 'spark'; choose one of loky, threading, dask"),
        ({"backend": "dask", "n_jobs": 2}, "needs a running dask.distributed.Client"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        evaluate_batch(SolverEvaluator(), _images(2), ["k_xx"], **kwargs)


def test_threads_and_sequential_agree_exactly():
    images = _images(6)
    serial = evaluate_batch(SolverEvaluator(), images, ["k_xx", "k_yy"])
    threads = evaluate_batch(SolverEvaluator(), images, ["k_xx", "k_yy"], n_jobs=2, backend="threading", chunk_size=1)
    pd.testing.assert_frame_equal(serial, threads, check_exact=True)


def test_loky_processes_give_the_serial_result():
    images = _images(8)
    serial = evaluate_batch(SolverEvaluator((1.0, 10.0)), images, ["k_xx", "k_yy"])
    # a lambda travels by value and imports only evodesign.physics in the workers; unpickling
    # SolverEvaluator there imports all of evodesign.campaign (torch: seconds), which the dask
    # test below pays once
    solve = lambda chunk: dict(zip(("k_xx", "k_yy"), effective_conductivity(chunk, (1.0, 10.0)).T))  # noqa: E731
    parallel = evaluate_batch(solve, images, ["k_xx", "k_yy"], n_jobs=2, chunk_size=3)
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)
    assert pickle.loads(pickle.dumps(SolverEvaluator((2.0, 3.0)))) == SolverEvaluator((2.0, 3.0))


def test_dask_on_a_real_multiprocess_tcp_cluster_gives_the_serial_result():
    distributed = pytest.importorskip("distributed")
    images = _images(8)
    serial = evaluate_batch(SolverEvaluator((1.0, 10.0)), images, ["k_xx", "k_yy"])
    start = time.perf_counter()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, protocol="tcp://", dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tcp://")
        out = evaluate_batch(SolverEvaluator((1.0, 10.0)), images, ["k_xx", "k_yy"], n_jobs=-1, backend="dask")
        # the chunks really ran in the cluster's worker processes, not in this one
        workers = set(client.run(os.getpid).values())
        ran = evaluate_batch(lambda d: {"pid": np.full(len(d), os.getpid())}, images, ["pid"], n_jobs=-1, backend="dask", chunk_size=1)
        assert len(workers) == 2 and os.getpid() not in workers and set(ran["pid"].astype(int)) <= workers
    pd.testing.assert_frame_equal(serial, out, check_exact=True)
    assert time.perf_counter() - start < 60
