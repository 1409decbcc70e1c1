"""What both autodiff gradient sources promise: ``autograd`` and ``jax``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gdkit
from gdkit.errors import ConfigError, MissingExtraError
from gdkit.testing import check_gradient_source

NUMPY = {"autograd": "autograd.numpy", "jax": "jax.numpy"}
EXTRA = {"autograd": "autodiff", "jax": "jax"}

BUILT_INS: list[tuple[str, dict[str, Any]]] = [
    ("valley", {}),
    ("rosenbrock", {"dim": 10}),
    ("quadratic", {}),
    ("network", {"sizes": (6, 5, 4), "n_samples": 30}),
    ("network", {"sizes": (6, 5, 4), "n_samples": 30, "cost": "cross-entropy"}),
    ("network", {"sizes": (6, 5, 4), "n_samples": 30, "cost": "log-likelihood"}),
    ("network", {"sizes": (6, 7, 5, 3), "n_samples": 30, "init": "scaled"}),
]


@pytest.fixture(params=["autograd", "jax"])
def source(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """The source's name and its numpy (``xp``); JAX in its 64-bit mode for the test."""
    name: str = request.param
    xp = pytest.importorskip(NUMPY[name], reason=f"the {EXTRA[name]} extra is not installed")
    x64 = sys.modules["jax"].enable_x64(True) if name == "jax" else nullcontext()
    with x64:
        yield name, xp


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize(("objective", "options"), BUILT_INS, ids=lambda x: str(x))
def test_equal_to_the_analytic_gradient_of_every_built_in(
        source: tuple[str, Any], objective: str, options: dict[str, Any]) -> None:
    obj = gdkit.objective(objective, **options)
    src = gdkit.gradient_source(source[0])
    for seed in range(3):
        v = obj.initial_point(np.random.default_rng(seed))
        g = src.gradient(obj, v)
        assert type(g) is np.ndarray and g.dtype == np.float64 and g.flags.writeable
        assert _rel(g, obj.gradient(v)) < 1e-12
    if getattr(obj, "n_samples", None):
        for batch in (np.array([3, 1, 4, 1, 5, 9, 2, 6]), np.array([2, 7])):
            assert _rel(src.gradient(obj, v, batch), obj.gradient(v, batch)) < 1e-12
        assert _rel(src.gradient(obj, v), obj.gradient(v)) < 1e-12  # the full batch again


def test_float32_in_float32_out_into_the_callers_buffer(source: tuple[str, Any]) -> None:
    obj = gdkit.objective("network", sizes=(6, 5, 4), n_samples=30, dtype="float32")
    v = obj.initial_point(np.random.default_rng(0))
    out = np.empty_like(v)
    g = gdkit.gradient_source(source[0]).gradient(obj, v, out=out)
    assert g is out and g.dtype == np.float32
    assert _rel(g.astype(np.float64), obj.gradient(v).astype(np.float64)) < 1e-5


def test_your_own_cost_written_with_the_sources_numpy(source: tuple[str, Any]) -> None:
    name, xp = source

    def cost(v: Any) -> Any:
        return xp.sum(xp.sin(v) * v ** 2) + 0.5 * xp.dot(v, v)

    v = np.array([0.3, -1.2, 2.0])
    exact = np.cos(v) * v ** 2 + 2 * v * np.sin(v) + v
    obj = gdkit.as_objective(cost, dim=3)
    np.testing.assert_allclose(gdkit.gradient_source(name).gradient(obj, v), exact, rtol=1e-14)
    res = gdkit.minimize(cost, v, gradient=name, step="armijo", max_iter=500)
    assert res.success and res.grad_norm <= 1e-5


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=st.lists(st.floats(-3, 3), min_size=2, max_size=8), scale=st.floats(0.1, 10))
def test_a_small_step_along_the_gradient_descends_eq_9(source: tuple[str, Any],
                                                       v: list[float], scale: float) -> None:
    name, xp = source

    def cost(w: Any) -> Any:
        return xp.sum(scale * xp.cos(w) + w ** 4 / 4 + xp.tanh(w[0] * w[-1]))

    x = np.array(v)
    g = gdkit.gradient_source(name).gradient(gdkit.as_objective(cost, x.size), x)
    c0 = float(cost(x))
    norm2 = float(g @ g)
    eta = 1e-4 / (1.0 + scale + float(np.max(np.abs(x))) ** 2)
    if eta * norm2 <= 1e-9 * (1.0 + abs(c0)):
        return  # (nearly) stationary: the predicted change is below C's rounding
    change = float(cost(x - eta * g)) - c0
    assert change <= 0.0
    assert abs(change + eta * norm2) <= 0.5 * eta * norm2  # ΔC ≈ −η‖∇C‖² (eq. 9)


class _Opaque:
    dim = 2

    def __repr__(self) -> str:
        return "Opaque()"

    def cost(self, v: Any, batch: Any = None) -> float:
        return float(v @ v)


def test_an_objective_without_a_traced_cost_is_refused_before_the_run(
        source: tuple[str, Any]) -> None:
    with pytest.raises(ConfigError, match=rf"'{source[0]}' needs a cost it can trace.*"
                                          r"Opaque\(\) has neither"):
        gdkit.minimize(_Opaque(), [1.0, 2.0], gradient=source[0])


@pytest.mark.parametrize("name", ["autograd", "jax"])
def test_without_the_library_the_error_names_the_extra(name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    library = NUMPY[name].split(".")[0]
    monkeypatch.setitem(sys.modules, library, None)
    monkeypatch.setitem(sys.modules, NUMPY[name], None)
    with pytest.raises(MissingExtraError, match=rf"the gradient source '{name}' needs "
                                                rf"{library}, which is not installed: pip "
                                                rf"install 'gdkit\[{EXTRA[name]}\]'"):
        gdkit.minimize("valley", [1.0, 1.0], gradient=name, max_iter=2)


def test_the_plugin_authors_kit_passes(source: tuple[str, Any]) -> None:
    report = check_gradient_source(gdkit.gradient_source(source[0]))
    assert "accuracy vs analytic gradient" in report.passed
    assert "descent (eq. 9)" in report.passed


def test_without_dask_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("dask", "dask.array", "distributed"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r"the gradient source 'dask' needs dask and "
                                                r"distributed, which is not installed: pip "
                                                r"install 'gdkit\[dask\]'"):
        gdkit.minimize("quadratic", gradient="dask", max_iter=2)
