"""The ``dask`` gradient source on a real ``distributed.LocalCluster`` (two
worker processes started here and shut down after): agreement with the local
path within the rounding of a reordered sum, the same bits run after run,
one task per shard per step, a killed worker, a timeout, a resume on a new
cluster, and the command line pointed at a scheduler address."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import distributed  # noqa: E402
from gdkit_plugins.dask_gradient import ClusterError, DaskGradient  # noqa: E402
from gdkit_plugins.network import Network  # noqa: E402
from gdkit_plugins.quadratic import Quadratic  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import gdkit  # noqa: E402
from gdkit.errors import ConfigError  # noqa: E402

from .test_cli import gdkit_cmd  # noqa: E402


def _cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=40)


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with _cluster() as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture
def own_client() -> Iterator[distributed.Client]:
    """A cluster of this test's own, for tests that harm it."""
    with _cluster() as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _quadratic(n: int = 600, d: int = 5, k: int = 2, seed: int = 0) -> Quadratic:
    return Quadratic(n_samples=n, n_features=d, n_outputs=k, seed=seed)


def _reorder_bound(terms: np.ndarray, extra: np.ndarray | float = 0.0) -> np.ndarray:
    """How far two sums of the same n rows (terms: one row each) may differ
    when added in different orders and groupings: each is within
    (n - 1)·ε·Σ|tᵢ| of the exact sum (the classic bound for recursive
    summation in any order, Higham, *Accuracy and Stability of Numerical
    Algorithms*, §4.2), so the two within twice that; ``extra`` adds the
    per-row terms' own rounding. Divided by n: the cost and gradient are means."""
    n = terms.shape[0]
    eps = np.finfo(terms.dtype).eps
    return 2 * eps * ((n - 1) * np.abs(terms).sum(axis=0) + extra) / n


def _quadratic_bounds(q: Quadratic, v: np.ndarray, batch: Any = None) -> tuple[float, Any]:
    """The reorder bounds of C and ∇C of a least-squares objective at v."""
    x, y = q.batch_data(batch)
    k, d = y.shape[1], x.shape[1]
    w, b = v[:k * d].reshape(k, d), v[k * d:]
    r = x @ w.T + b - y
    scale = np.abs(x) @ np.abs(w).T + np.abs(b)        # bounds each residual's own terms
    row_err = (d + 1) * np.finfo(v.dtype).eps * scale  # |rounding of r| per row, output
    cost_terms = r * r / 2
    cost_tol = float(_reorder_bound(cost_terms.sum(axis=1),
                                    (np.abs(r) * row_err).sum() / np.finfo(v.dtype).eps))
    gw = _reorder_bound(np.einsum("ik,ij->ikj", r, x).reshape(len(r), -1),
                        (row_err.T @ np.abs(x)).ravel() / np.finfo(v.dtype).eps)
    gb = _reorder_bound(r, row_err.sum(axis=0) / np.finfo(v.dtype).eps)
    return cost_tol, np.concatenate([gw, gb])


# -- agreement with the local path ------------------------------------------------------
@pytest.mark.parametrize("rows", [None, 97])
def test_cost_and_gradient_agree_with_the_local_path(client: distributed.Client,
                                                     rows: int | None) -> None:
    q = _quadratic()
    v = np.random.default_rng(1).standard_normal(q.dim)
    src = DaskGradient(client, rows=rows)
    c, g = src.value_and_gradient(q, v)
    c_tol, g_tol = _quadratic_bounds(q, v)
    assert abs(c - q.cost(v)) <= c_tol
    assert np.all(np.abs(g - q.gradient(v)) <= g_tol)
    assert src.cost(q, v) == c
    np.testing.assert_array_equal(src.gradient(q, v), g)


def test_a_mini_batch_is_split_over_the_shards_it_touches(client: distributed.Client) -> None:
    q = _quadratic()
    v = np.random.default_rng(2).standard_normal(q.dim)
    src = DaskGradient(client, rows=100)
    batch = np.random.default_rng(3).permutation(q.n_samples)[:37]
    out = np.empty_like(v)
    c, g = src.value_and_gradient(q, v, batch, out)
    assert g is out
    c_tol, g_tol = _quadratic_bounds(q, v, batch)
    assert abs(c - q.cost(v, batch)) <= c_tol
    assert np.all(np.abs(g - q.gradient(v, batch)) <= g_tol)


def test_float32_parameters_give_a_float32_gradient(client: distributed.Client) -> None:
    q = _quadratic()
    v = np.random.default_rng(4).standard_normal(q.dim).astype(np.float32)
    g = DaskGradient(client).gradient(q, v)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, q.gradient(v.astype(np.float64)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
def test_the_network_on_dask_arrays_agrees_with_the_network_on_numpy(
        client: distributed.Client, cost: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.random((240, 6))
    labels = rng.integers(0, 3, 240)
    local = Network([6, 5, 3], x, labels, cost=cost)
    lazy = Network([6, 5, 3], da.from_array(x, chunks=(70, 6)),
                   da.from_array(labels, chunks=70), cost=cost)
    assert repr(lazy) == repr(local)
    v = local.initial_point(np.random.default_rng(6))
    c, g = DaskGradient(client).value_and_gradient(lazy, v)
    # Per-input gradients: the terms of the reduction.
    terms = np.stack([local.gradient(v, np.array([i])) for i in range(240)])
    width = max(local.sizes)  # each term's own products
    tol = _reorder_bound(terms, (width + 3) * np.abs(terms).sum(axis=0))
    assert np.all(np.abs(g - local.gradient(v)) <= tol)
    per_cost = np.array([local.cost(v, np.array([i])) for i in range(240)])
    assert abs(c - local.cost(v)) <= float(_reorder_bound(per_cost, (width + 3) * per_cost.sum()))


def test_mini_batch_sgd_on_a_dask_network_follows_the_local_run(client: distributed.Client
                                                                ) -> None:
    rng = np.random.default_rng(8)
    x, labels = rng.random((240, 6)), rng.integers(0, 3, 240)
    ex, el = rng.random((50, 6)), rng.integers(0, 3, 50)
    local = Network([6, 5, 3], x, labels, eval_inputs=ex, eval_labels=el)
    lazy = Network([6, 5, 3], da.from_array(x, chunks=(80, 6)), da.from_array(labels, chunks=80),
                   eval_inputs=ex, eval_labels=el)
    kw: dict[str, Any] = {"step": gdkit.step_rule("fixed", eta=3.0), "batch_size": 30,
                          "epochs": 3, "seed": 4}
    there = gdkit.minimize(lazy, gradient=DaskGradient(client), **kw)
    here = gdkit.minimize(local, **kw)
    assert there.nit == here.nit == 24
    # 24 steps, each within a reordered sum's rounding of the local one.
    np.testing.assert_allclose(there.x, here.x, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(there.history["cost"], here.history["cost"], rtol=1e-12)
    assert list(there.history["accuracy"]) == list(here.history["accuracy"])  # scored here


def test_dask_data_never_reach_the_client(client: distributed.Client) -> None:
    rs = da.random.RandomState(7)
    x = rs.standard_normal((4000, 4), chunks=(1000, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25
    q = Quadratic(x, y)
    assert (q.n_samples, q.dim) == (4000, 5)
    with pytest.raises(ConfigError, match="'dask' gradient source"):
        q.cost(np.zeros(5))
    with pytest.raises(ConfigError, match="dask array"):
        gdkit.minimize(q, np.zeros(5), max_iter=1)
    r = gdkit.minimize(q, np.zeros(5), gradient=DaskGradient(client),
                       step=gdkit.step_rule("fixed", eta=0.5), max_iter=200, gtol=1e-9)
    assert r.success, r.message
    np.testing.assert_allclose(r.x, [1.0, -2.0, 0.5, 3.0, 0.25], atol=1e-8)


def test_a_network_with_dask_data_is_refused_locally_with_one_line() -> None:
    x = da.zeros((10, 4), chunks=5)
    net = Network([4, 3, 2], x, da.zeros(10, dtype=int, chunks=5))
    # What the compiled path would take for numpy data (gdkit[fast]): declined.
    fixed = gdkit.step_size("fixed").compiled_form()  # type: ignore[attr-defined]
    assert net.compiled_steps(gdkit.gradient_source("analytic"), (fixed,), 5,
                              np.dtype(np.float64)) is None
    with pytest.raises(ConfigError, match="dask array"):
        net.gradient(net.initial_point(np.random.default_rng(0)))


# -- determinism, and the shape of a step -------------------------------------------------
def test_the_same_seed_and_chunking_give_the_same_bits(client: distributed.Client) -> None:
    q = _quadratic()

    def run(batch_size: int | None) -> gdkit.Result:
        kw: dict[str, Any] = ({"max_iter": 30} if batch_size is None else
                              {"batch_size": batch_size, "epochs": 2})
        return gdkit.minimize(q, gradient=DaskGradient(client, rows=150), seed=11,
                              step=gdkit.step_rule("fixed", eta=0.2), **kw)

    for bs in (None, 64):
        a, b = run(bs), run(bs)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.history["cost"], b.history["cost"])
    local = gdkit.minimize(q, seed=11, step=gdkit.step_rule("fixed", eta=0.2), max_iter=30)
    np.testing.assert_allclose(run(None).x, local.x, rtol=1e-12, atol=1e-13)


def test_one_task_per_shard_per_step_and_v_sent_once(client: distributed.Client) -> None:
    q = _quadratic(n=2000)
    src = DaskGradient(client, rows=100)  # 20 shards: a reduction tree of 3 + 1 tasks
    v = np.zeros(q.dim)
    src.validate(q)
    with distributed.get_task_stream(client) as ts:
        src.value_and_gradient(q, v)
    names = [t["key"] if isinstance(t["key"], str) else str(t["key"]) for t in ts.data]
    assert sum("-shard-" in k for k in names) == 20
    assert sum(k.endswith("-v") for k in names) == 1
    assert sum("-sum-" in k for k in names) == 4
    assert len(names) == 25  # nothing else: the shards were built once, by validate
    with distributed.get_task_stream(client) as ts:  # a mini-batch visits its shards only
        src.gradient(q, v, np.array([5, 150, 160, 1999]))
    assert sum("-shard-" in str(t["key"]) for t in ts.data) == 3


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-6, 1e-3))
def test_a_small_step_along_the_distributed_gradient_descends(
        client: distributed.Client, seed: int, scale: float) -> None:
    # eq. (9): ΔC ≈ ∇C·Δv = −η‖∇C‖² ≤ 0 for small η.
    q = _quadratic(n=300, seed=seed % 1000)
    src = DaskGradient(client, rows=64)
    v = np.random.default_rng(seed).standard_normal(q.dim)
    c0, g = src.value_and_gradient(q, v)
    eta = scale / max(1.0, float(g @ g))
    assert src.cost(q, v - eta * g) <= c0


# -- faults -------------------------------------------------------------------------------
def test_a_killed_worker_costs_a_recomputation_not_the_run(own_client: distributed.Client
                                                           ) -> None:
    q = _quadratic(n=4000)
    step = gdkit.step_rule("fixed", eta=0.1)
    whole = gdkit.minimize(q, gradient=DaskGradient(own_client, rows=500), step=step, seed=3,
                           max_iter=12)
    pids = own_client.run(os.getpid)
    killed: list[int] = []

    def kill_one(xk: np.ndarray) -> None:
        if not killed:  # after the first step: its shards are on both workers
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    hurt = gdkit.minimize(q, gradient=DaskGradient(own_client, rows=500, timeout=120),
                          step=step, seed=3, max_iter=12, observers=[kill_one])
    assert killed
    # The lost shards were rebuilt from their lineage: the same sums, the same bits.
    np.testing.assert_array_equal(hurt.x, whole.x)
    np.testing.assert_array_equal(hurt.history["cost"], whole.history["cost"])


def test_a_step_that_cannot_finish_in_time_is_a_clear_error(own_client: distributed.Client
                                                            ) -> None:
    q = _quadratic()
    src = DaskGradient(own_client, timeout=3)
    src.validate(q)
    own_client.cluster.scale(0)  # type: ignore[union-attr]  # every worker gone
    while own_client.scheduler_info(n_workers=-1)["workers"]:
        time.sleep(0.05)
    with pytest.raises(ClusterError, match=r"did not finish within timeout=3 s") as info:
        src.gradient(q, np.zeros(q.dim))
    assert "0 workers alive" in str(info.value)


def test_the_source_refuses_what_it_cannot_run(client: distributed.Client) -> None:
    with pytest.raises(ConfigError, match="cannot be split over a cluster"):
        gdkit.minimize("rosenbrock", gradient=DaskGradient(client), max_iter=1)
    with pytest.raises(ConfigError, match="client= or address=, not both"):
        DaskGradient(client, address="tcp://127.0.0.1:1")
    with pytest.raises(ConfigError, match="timeout"):
        DaskGradient(client, timeout=0)
    with pytest.raises(ClusterError, match="cannot reach the scheduler"):
        DaskGradient(address="tcp://127.0.0.1:9", load_timeout=2).validate(_quadratic())


def test_a_closed_client_is_one_line_before_and_during_a_run(client: distributed.Client
                                                             ) -> None:
    q = _quadratic()
    other = distributed.Client(client.scheduler.address, set_as_default=False)
    src = DaskGradient(other)
    src.validate(q)
    other.close()
    with pytest.raises(ClusterError, match="the Dask client this source runs on is closed"):
        src.gradient(q, np.zeros(q.dim))
    with pytest.raises(ClusterError, match="the Dask client this source runs on is closed"):
        DaskGradient(other).validate(q)


def test_without_a_cluster_the_error_says_how_to_give_one() -> None:
    try:
        distributed.default_client()
    except ValueError:
        pass
    else:  # pragma: no cover - another test left a default client
        pytest.skip("a default Dask client exists in this process")
    with pytest.raises(ConfigError, match="no Dask cluster to run on"):
        gdkit.gradient_source("dask").validate(_quadratic())


def test_a_checkpointed_run_resumes_on_a_new_cluster(tmp_path: Path) -> None:
    q = _quadratic()
    ck = tmp_path / "run.npz"
    step = gdkit.step_rule("fixed", eta=0.1)
    with _cluster() as c1, distributed.Client(c1, set_as_default=False) as first:
        gdkit.minimize(q, gradient=DaskGradient(first, rows=200), step=step, seed=5,
                       max_iter=6, checkpoint=ck)
    with _cluster() as c2, distributed.Client(c2, set_as_default=False) as second:
        resumed = gdkit.minimize(q, gradient=DaskGradient(second, rows=200), step=step,
                                 max_iter=14, checkpoint=gdkit.Checkpointing(None, resume=ck))
        whole = gdkit.minimize(q, gradient=DaskGradient(second, rows=200), step=step, seed=5,
                               max_iter=14)
    assert resumed.nit == 14
    np.testing.assert_array_equal(resumed.x, whole.x)


# -- as a user runs it ----------------------------------------------------------------------
def test_the_command_line_runs_on_a_scheduler_address(client: distributed.Client) -> None:
    address = client.scheduler.address
    proc = subprocess.run(
        [*gdkit_cmd(), "minimize", "quadratic", "-o", "n_samples=500",
         "--gradient", "dask", "--gradient-option", f"address={address}",
         "--step", "fixed", "--step-option", "eta=0.5", "--max-iter", "300", "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    local = gdkit.minimize(Quadratic(n_samples=500), step=gdkit.step_rule("fixed", eta=0.5),
                           max_iter=300, seed=0)
    assert out["success"] and math.isclose(out["fun"], local.fun, rel_tol=1e-9)


def test_the_command_line_says_in_one_line_when_the_scheduler_is_unreachable() -> None:
    proc = subprocess.run(
        [*gdkit_cmd(), "minimize", "quadratic", "--gradient", "dask",
         "--gradient-option", "address=tcp://127.0.0.1:9",
         "--gradient-option", "load_timeout=2", "--max-iter", "3"],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "cannot reach the scheduler at 'tcp://127.0.0.1:9'" in proc.stderr


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDKIT_DISABLE_PLUGIN_AUTOLOAD"}
    # 120 s: far beyond the connect timeout (10 s), far below the 600 s load timeout
    return subprocess.run([*gdkit_cmd(), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_a_malformed_address_is_one_line_and_nothing_is_left_to_hang() -> None:
    out = _run_cli("minimize", "quadratic", "--gradient", "dask", "--gradient-option",
                   "address=not an address")
    assert out.returncode == 2, out.stderr
    assert out.stderr == ("gdkit minimize: error: dask: 'not an address' is not a scheduler "
                          "address (missing port number in address 'not an address'); give "
                          "one such as 'tcp://127.0.0.1:8786'.\n")


def test_a_refused_connection_fails_at_once() -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = DaskGradient(address=f"tcp://127.0.0.1:{port}", connect_timeout=30)
    started = time.monotonic()
    with pytest.raises(ClusterError, match="connection refused"):
        source.gradient(Quadratic(n_samples=20), np.zeros(Quadratic(n_samples=20).dim))
    assert time.monotonic() - started < 30  # refused: not the connect timeout, nor 600 s
    out = _run_cli("minimize", "quadratic", "--gradient", "dask", "--gradient-option",
                   f"address=tcp://127.0.0.1:{port}")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"cannot reach the scheduler at 'tcp://127.0.0.1:{port}' (connection refused)" \
        in out.stderr


def test_an_address_with_no_answer_waits_only_the_connect_timeout() -> None:
    with socket.socket() as sock:  # listens but never accepts: a scheduler that does not answer
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        source = DaskGradient(address=f"tcp://127.0.0.1:{sock.getsockname()[1]}",
                              connect_timeout=1)
        with pytest.raises(ClusterError, match="cannot reach the scheduler"):
            source.gradient(Quadratic(n_samples=20), np.zeros(Quadratic(n_samples=20).dim))


def test_a_failed_connection_leaves_nothing_to_complain_at_exit() -> None:
    # an in-process address of another process: the Client's constructor fails half-way,
    # and its __del__ used to wait for a scheduler that never was, then print a traceback
    code = """
import sys, numpy as np
from gdkit_plugins.dask_gradient import ClusterError, DaskGradient
from gdkit_plugins.quadratic import Quadratic
q = Quadratic(n_samples=20)
try:
    DaskGradient(address="inproc://127.0.0.1/1/1", connect_timeout=30).gradient(
        q, np.zeros(q.dim))
except ClusterError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "dask: cannot reach the scheduler at 'inproc://127.0.0.1/1/1'" in out.stdout
    assert out.stderr == ""  # no "Exception ignored in: Client.__del__ ... TimeoutError"
