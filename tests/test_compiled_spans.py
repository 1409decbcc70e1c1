"""The compiled path's spans: a span keeps the kernel's copy of the weights
when v is as the previous span left it, and copies v in again when it is not."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

import gdkit

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                reason="the fast extra (numba) is not installed")


def runner(mode: int) -> tuple[Any, Any, Any]:
    from gdkit_plugins.fast.network import PLAIN, QUADRATIC, CompiledNetworkSteps
    rng = np.random.default_rng(5)
    x = np.round(rng.random((120, 20)) * 4) / 4  # five values, 0 among them
    labels = rng.integers(0, 4, 120)
    net = gdkit.objective("network", sizes=(20, 9, 4), inputs=x, targets=labels)
    r = CompiledNetworkSteps(net, 10, QUADRATIC, mode, 0.5 if mode != PLAIN else 0.0,
                             lambda i, e: 0.5)
    v = net.initial_point(np.random.default_rng(0))
    velocity = np.zeros_like(v) if mode != PLAIN else np.zeros(0)
    r.bind(v, np.empty_like(v), [(velocity,)])
    return r, v, velocity


@pytest.mark.parametrize("mode", [0, 1], ids=["plain", "momentum"])
@pytest.mark.parametrize("edit", ["weight", "bias", "velocity", "nothing"])
def test_a_span_sees_v_and_the_velocity_as_they_are(mode: int, edit: str) -> None:
    perm = np.random.default_rng(2).permutation(120)
    runs = []
    for rebind in (False, True):
        r, v, velocity = runner(mode)
        r.steps(perm, 0, 50, 0, 0, None, True)
        target = {"weight": v[:1], "bias": v[-1:], "velocity": velocity[:1],
                  "nothing": v[:0]}[edit]
        target += 0.25
        if rebind:  # a fresh start from the edited arrays: the copy in is certain
            r.bind(v, np.empty_like(v), [(velocity,)])
        r.steps(perm, 50, 120, 5, 0, None, True)
        runs.append(np.concatenate([v, velocity]))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_working_arrays_start_on_cache_lines_with_rows_of_whole_lines(dtype: str) -> None:
    # A runner whose working weights began 16 or 48 bytes into a line ran its spans
    # 10-18% slower (benchmarks/alignment.py); numpy promises 16 bytes only.
    from gdkit_plugins.fast.network import PLAIN, QUADRATIC, CompiledNetworkSteps
    x = np.round(np.random.default_rng(5).random((40, 20)) * 4) / 4
    net = gdkit.objective("network", sizes=(20, 9, 4), inputs=x, targets=np.arange(40) % 4,
                          dtype=dtype)
    for _ in range(4):  # several allocations: one could land on a line by luck
        r = CompiledNetworkSteps(net, 10, QUADRATIC, PLAIN, 0.0, lambda i, e: 0.5)
        for a in (r.wt, r.gt, r.acts, r.deltas, r.z):
            assert a.ctypes.data % 64 == 0
        assert all(int(p) * r.wt.itemsize % 64 == 0 for p in r.pad)
