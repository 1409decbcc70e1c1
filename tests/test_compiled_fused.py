"""The compiled path's fused first-layer step (plain η).

With plain η the kernel adds the first layer's step to its weights row by
row of the mini-batch, as the gradient's pass reaches them, instead of
summing a gradient matrix, stepping along it and clearing it. It does so
only when that gradient is sure to be finite (``_fusable``), and never at
the last step of an epoch or a run (whose whole gradient the loop keeps:
the result's ``jac``). These tests check
that the fused path runs, agrees with the unfused one to rounding, and is
refused where a gradient could overflow or is not finite.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

import gdkit

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                reason="the fast extra (numba) is not installed")


def network(n: int = 2400, dtype: str = "float64") -> Any:
    """A small network on inputs that are 60% exact zeros, like MNIST's pixels."""
    rng = np.random.default_rng(7)
    x = rng.random((n, 30))
    x[x < 0.6] = 0.0
    labels = np.argmax((x - 0.2) @ rng.standard_normal((30, 5)), axis=1)
    return gdkit.objective("network", sizes=(30, 12, 5), inputs=x, targets=labels, dtype=dtype)


def run(net: Any, monkeypatch: pytest.MonkeyPatch, *, fuse: bool, steps: int | None = 500,
        **kw: Any) -> gdkit.Result:
    from gdkit_plugins.fast import network as fast

    monkeypatch.setenv("GDKIT_NO_COMPILE", "0")
    if not fuse:  # limits no |δ| can meet: the kernel never fuses
        monkeypatch.setattr(fast, "_limits", lambda x, sizes, pad, b, dt: np.array([-1, -1], dt))
    v0 = net.initial_point(np.random.default_rng(0))
    options: dict[str, Any] = {"epochs": 30, "max_iter": steps, "seed": 3, **kw}
    res = gdkit.minimize(net, v0, step=gdkit.step_rule("fixed", eta=2.0), batch_size=10,
                         **options)
    monkeypatch.undo()
    assert res.compiled
    return res


def test_the_fused_step_runs_and_agrees_with_the_unfused_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    net = network()
    fused = run(net, monkeypatch, fuse=True)
    plain = run(net, monkeypatch, fuse=False)
    assert fused.nit == plain.nit == 500
    # It really ran: it rounds at each row where the gradient's sum rounded once.
    assert not np.array_equal(fused.x, plain.x)
    assert np.max(np.abs(fused.x - plain.x)) <= 1e-12 * np.max(np.abs(plain.x))
    # The run's last step (max_iter, mid-epoch) is never fused: its gradient is the whole one.
    assert np.max(np.abs(fused.jac - plain.jac)) <= 1e-12 * np.max(np.abs(plain.jac))


def test_an_epochs_last_step_keeps_its_whole_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two whole epochs (240 steps each, in spans of two): every span's last step
    # is fused but the epochs', so jac is the last step's whole gradient.
    net = network()
    fused = run(net, monkeypatch, fuse=True, steps=None, epochs=2)
    plain = run(net, monkeypatch, fuse=False, steps=None, epochs=2)
    assert fused.nit == plain.nit == 480 and not np.array_equal(fused.x, plain.x)
    assert np.max(np.abs(fused.jac - plain.jac)) <= 1e-12 * np.max(np.abs(plain.jac))
    assert np.all(np.isfinite(fused.jac)) and np.any(fused.jac[:30 * 12] != 0)


def test_the_fused_step_gives_the_same_bits_run_after_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    net = network(dtype="float32")
    first = run(net, monkeypatch, fuse=True, steps=300)
    again = run(net, monkeypatch, fuse=True, steps=300)
    np.testing.assert_array_equal(first.x, again.x)


def fusable(d0: np.ndarray, tot: np.ndarray, limits: tuple[float, float]) -> bool:
    from gdkit_plugins.fast._kernels import _fusable
    return bool(_fusable(d0, d0.shape[0], d0.shape[1], tot, np.array(limits)))


def test_fusing_needs_every_delta_finite_and_within_the_limit() -> None:
    d0 = np.full((4, 3), 0.5)
    tot = np.ones(8)
    assert fusable(d0, tot, (0.5, 1.0))
    assert not fusable(d0, tot, (0.49, 1.0))  # one |δ| over the limit
    for bad in (np.nan, np.inf, -np.inf):
        spoiled = d0.copy()
        spoiled[3, 2] = bad  # the last one read: a NaN must not be lost in a max
        assert not fusable(spoiled, tot, (1e300, 1e300))
    spoiled = d0.copy()
    spoiled[0, 0] = np.nan  # and the first
    assert not fusable(spoiled, tot, (1e300, 1e300))


def test_fusing_needs_the_other_layers_sums_within_the_limit() -> None:
    d0 = np.full((2, 2), 0.5)
    assert not fusable(d0, np.array([0.0, -2.0]), (1.0, 1.5))
    assert not fusable(d0, np.array([0.0, np.nan]), (1.0, 1e300))
    assert fusable(d0, np.array([0.0, -1.5]), (1.0, 1.5))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_limits_keep_every_sum_below_the_largest_float(dtype: str) -> None:
    from gdkit_plugins.fast.network import _limits
    x = np.array([[0.0, 3.0], [-4.0, 0.5]], dtype)
    sizes, pad = np.array([2, 5, 3]), np.array([8, 8])
    delta, total = _limits(x, sizes, pad, 10, np.dtype(dtype))
    big = float(np.finfo(dtype).max)
    # the first layer's m·h elements, each at most B·max|δ|·max|x|: a quarter of the largest
    assert 2 * 5 * 10 * float(delta) * 4.0 == pytest.approx(big / 4, rel=1e-6)
    assert int(pad.max()) * float(total) == pytest.approx(big / 4, rel=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_inputs_that_are_not_finite_never_fuse(bad: float) -> None:
    from gdkit_plugins.fast.network import _limits
    x = np.array([[0.0, bad], [1.0, 0.0]])
    limits = _limits(x, np.array([2, 5, 3]), np.array([8, 8]), 10, np.dtype("float64"))
    assert np.all(limits < 0)
    assert not fusable(np.zeros((2, 5)), np.zeros(8), tuple(limits))
