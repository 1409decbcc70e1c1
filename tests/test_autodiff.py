"""Exact gradients of numpy code: the ``autograd`` gradient source."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdkit
from gdkit.errors import ConfigError, MissingExtraError
from gdkit.testing import check_gradient_source

anp = pytest.importorskip("autograd.numpy", reason="the autodiff extra is not installed")

BUILT_INS: list[tuple[str, dict[str, Any]]] = [
    ("valley", {}),
    ("rosenbrock", {"dim": 10}),
    ("quadratic", {}),
    ("network", {"sizes": (6, 5, 4), "n_samples": 30}),
    ("network", {"sizes": (6, 5, 4), "n_samples": 30, "cost": "cross-entropy"}),
    ("network", {"sizes": (6, 5, 4), "n_samples": 30, "cost": "log-likelihood"}),
    ("network", {"sizes": (6, 7, 5, 3), "n_samples": 30, "init": "scaled"}),
]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize(("name", "options"), BUILT_INS, ids=lambda x: str(x))
def test_autograd_equals_the_analytic_gradient_of_every_built_in(
        name: str, options: dict[str, Any]) -> None:
    obj = gdkit.objective(name, **options)
    src = gdkit.gradient_source("autograd")
    for seed in range(3):
        v = obj.initial_point(np.random.default_rng(seed))
        assert _rel(src.gradient(obj, v), obj.gradient(v)) < 1e-12
    if getattr(obj, "n_samples", None):
        batch = np.array([3, 1, 4, 1, 5, 9, 2, 6])
        assert _rel(src.gradient(obj, v, batch), obj.gradient(v, batch)) < 1e-12


def test_float32_in_float32_out_into_the_callers_buffer() -> None:
    obj = gdkit.objective("network", sizes=(6, 5, 4), n_samples=30, dtype="float32")
    v = obj.initial_point(np.random.default_rng(0))
    out = np.empty_like(v)
    g = gdkit.gradient_source("autograd").gradient(obj, v, out=out)
    assert g is out and g.dtype == np.float32
    assert _rel(g.astype(np.float64), obj.gradient(v).astype(np.float64)) < 1e-5


def test_your_own_cost_written_with_autograd_numpy() -> None:
    def cost(v: Any) -> Any:
        return anp.sum(anp.sin(v) * v ** 2) + 0.5 * anp.dot(v, v)

    v = np.array([0.3, -1.2, 2.0])
    exact = np.cos(v) * v ** 2 + 2 * v * np.sin(v) + v
    obj = gdkit.as_objective(cost, dim=3)
    np.testing.assert_allclose(gdkit.gradient_source("autograd").gradient(obj, v), exact,
                               rtol=1e-14)
    res = gdkit.minimize(cost, v, gradient="autograd", step="armijo", max_iter=500)
    assert res.success and res.grad_norm <= 1e-5


@settings(max_examples=40, deadline=None)
@given(v=st.lists(st.floats(-3, 3), min_size=2, max_size=8),
       scale=st.floats(0.1, 10))
def test_a_small_step_along_the_autograd_gradient_descends_eq_9(v: list[float],
                                                                scale: float) -> None:
    def cost(w: Any) -> Any:
        return anp.sum(scale * anp.cos(w) + w ** 4 / 4 + anp.tanh(w[0] * w[-1]))

    x = np.array(v)
    g = gdkit.gradient_source("autograd").gradient(gdkit.as_objective(cost, x.size), x)
    norm2 = float(g @ g)
    eta = 1e-4 / (1.0 + scale + float(np.max(np.abs(x))) ** 2)
    c0 = float(cost(x))
    if eta * norm2 <= 1e-9 * (1.0 + abs(c0)):
        return  # (nearly) stationary: the predicted change is below C's rounding
    change = float(cost(x - eta * g)) - c0
    assert change <= 0.0
    assert abs(change + eta * norm2) <= 0.5 * eta * norm2  # ΔC ≈ −η‖∇C‖² (eq. 9)


@pytest.mark.parametrize(("code", "cause"), [
    (lambda v: float(anp.sum(v * v)), "float()"),
    (lambda v: np.asarray(v, dtype=float).sum(), "plain numpy"),
    (lambda v: (v @ v).item(), ".item()"),
])
def test_a_cost_autograd_cannot_trace_is_one_clear_error(code: Any, cause: str) -> None:
    with pytest.raises(ConfigError) as info:
        gdkit.minimize(code, [1.0, 2.0], gradient="autograd", max_iter=3)
    text = str(info.value)
    assert text.startswith("the gradient source 'autograd' could not trace the cost of "
                           "FunctionObjective(<lambda>, dim=2)")
    assert cause in text


def test_an_in_place_assignment_is_named() -> None:
    def cost(v: Any) -> Any:
        w = anp.zeros(2)
        w[0] = v[0]  # autograd cannot trace an assignment into an array
        return anp.sum(w * w)

    with pytest.raises(ConfigError, match=r"could not trace.*in place"):
        gdkit.minimize(cost, [1.0, 2.0], gradient="autograd", max_iter=3)


class _Opaque:
    dim = 2

    def __repr__(self) -> str:
        return "Opaque()"

    def cost(self, v: Any, batch: Any = None) -> float:
        return float(v @ v)


def test_an_objective_without_a_traced_cost_is_refused_before_the_run() -> None:
    with pytest.raises(ConfigError, match=r"'autograd' needs a cost it can trace.*Opaque\(\) "
                                          r"has neither"):
        gdkit.minimize(_Opaque(), [1.0, 2.0], gradient="autograd")


def test_without_autograd_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "autograd", None)
    monkeypatch.setitem(sys.modules, "autograd.numpy", None)
    with pytest.raises(MissingExtraError, match=r"the gradient source 'autograd' needs "
                                                r"autograd, which is not installed: pip "
                                                r"install 'gdkit\[autodiff\]'"):
        gdkit.minimize("valley", [1.0, 1.0], gradient="autograd", max_iter=2)


def test_the_plugin_authors_kit_passes() -> None:
    report = check_gradient_source(gdkit.gradient_source("autograd"))
    assert "accuracy vs analytic gradient" in report.passed
    assert "descent (eq. 9)" in report.passed
