"""Line searches that know when they are done (issue 26).

The stall case: near the minimum of a log-cosh regression the required
decrease c·η·∇C·d falls below one ulp of C, every real trial is rejected as
rounding noise, and a search that accepts a trial equal to v bit for bit
spends its remaining iterations on steps that change nothing. Each variant
must reach gtol in under 200 steps, or end (not at max_iter) within 100
steps of v's last change, saying that precision was lost.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit.errors import PrecisionLost, StepError
from gdkit.protocols import StepContext

from .helpers import Stepper

A = np.random.default_rng(5).standard_normal((40, 7))
B = np.random.default_rng(6).standard_normal(40)
V0 = np.random.default_rng(7).standard_normal(7)


class LogCoshSum:
    """sum(log(cosh(Av − b)))/40 + 0.01·sum(v⁴), traced by autograd."""

    dim = 7

    def __repr__(self) -> str:
        return "LogCoshSum()"

    def traced_cost(self, xp: Any, v: Any, batch: Any = None) -> Any:
        return xp.sum(xp.log(xp.cosh(xp.dot(A, v) - B))) / 40 + 0.01 * xp.sum(v ** 4)

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        return float(self.traced_cost(np, v))


class LogCoshMean:
    """mean(log(cosh(Av − b))) + 0.01·sum(v⁴) with its analytic gradient, in
    the dtype of v (float64 or float32)."""

    dim = 7

    def __init__(self, dtype: Any = np.float64) -> None:
        self.a = A.astype(dtype)
        self.b = B.astype(dtype)

    def __repr__(self) -> str:
        return f"LogCoshMean({self.a.dtype})"

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        r = self.a @ v - self.b
        return float(np.mean(np.log(np.cosh(r))) + v.dtype.type(0.01) * np.sum(v ** 4))

    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        r = self.a @ v - self.b
        g = self.a.T @ np.tanh(r) / v.dtype.type(40) + v.dtype.type(0.04) * v ** 3
        if out is None:
            return g.astype(v.dtype)
        out[...] = g
        return out


VARIANTS = {
    "autograd-sum": (LogCoshSum, "autograd", np.float64),
    "numpy-mean": (LogCoshMean, "analytic", np.float64),
    "float32": (lambda: LogCoshMean(np.float32), "analytic", np.float32),
}


def _run(variant: str, step: Any, max_iter: int = 2000) -> tuple[gdkit.Result, int]:
    make, source, dtype = VARIANTS[variant]
    if source == "autograd":
        pytest.importorskip("autograd")
    last_change, prev = 0, V0.astype(dtype)

    def watch(v: np.ndarray) -> None:
        nonlocal last_change, prev
        if not np.array_equal(v, prev):
            last_change = len(seen)
            prev = v
        seen.append(None)

    seen: list[None] = [None]
    res = gdkit.minimize(make(), V0.astype(dtype), gradient=source, step=step, gtol=1e-9,
                         max_iter=max_iter, observers=[watch])
    return res, last_change


@pytest.mark.parametrize("c", [0.5, 0.1, 1e-4])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_armijo_reaches_gtol_or_ends_honestly_when_v_stops(variant: str, c: float) -> None:
    res, last_change = _run(variant, gdkit.step_rule("armijo", c=c))
    if res.success:
        assert res.nit < 200, res.message
        assert res.grad_norm <= 1e-9
        return
    assert "max_iter" not in res.message, res.message
    assert res.nit - last_change <= 100, (res.nit, last_change, res.message)
    assert "precision lost" in res.message and "‖∇C‖" in res.message, res.message


@pytest.mark.parametrize("name", ["bold-driver", "barzilai-borwein"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_other_cost_driven_rules_do_not_freeze(variant: str, name: str) -> None:
    res, last_change = _run(variant, gdkit.step_rule(name), max_iter=5000)
    if not res.success:
        assert "max_iter" not in res.message, res.message
        assert res.nit - last_change <= 100, (res.nit, last_change, res.message)


def test_a_step_that_leaves_v_unchanged_is_never_accepted() -> None:
    # C is flat to rounding everywhere: every trial's cost equals C(v), and
    # the slope at every trial equals the slope at v. A rule that "accepts"
    # a trial equal to v would return η > 0 and leave v unchanged; the rule
    # must instead say that v cannot move.
    v = np.array([1.0, -2.0])
    grad = np.array([1e-150, -1e-150])

    def cost(w: np.ndarray, batch: object = None) -> float:
        return 1.0

    def gradient(w: np.ndarray, batch: object, out: np.ndarray | None) -> np.ndarray:
        return grad.copy()

    def steps(rule: Any) -> None:
        for k in range(200):
            ctx = StepContext(cost, v, gradient)
            ctx.begin(k, None, 1.0)
            rule.step(v, grad, ctx)

    for name in ("armijo", "bold-driver", "barzilai-borwein"):
        before = v.copy()
        with pytest.raises(PrecisionLost, match="precision lost") as info:
            steps(Stepper(gdkit.step_rule(name)))
        assert math.isclose(info.value.grad_norm, math.sqrt(2) * 1e-150)
        np.testing.assert_array_equal(v, before)


def test_precision_lost_is_a_step_error_so_the_run_ends_at_once() -> None:
    assert issubclass(PrecisionLost, StepError)
    res, last_change = _run("float32", gdkit.step_rule("armijo", c=0.1))
    assert not res.success
    assert res.nit - last_change <= 1, (res.nit, last_change)
