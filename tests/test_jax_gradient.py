"""Exact gradients of jax.numpy code, compiled: what is particular to the ``jax`` gradient
source (what both autodiff sources promise is in test_autodiff_sources.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit.errors import ConfigError

jax = pytest.importorskip("jax", reason="the jax extra is not installed")
jnp = pytest.importorskip("jax.numpy")


@pytest.fixture(autouse=True)
def x64() -> Iterator[None]:
    """JAX's 64-bit mode on for each test (off again after), as float64 needs."""
    with jax.enable_x64(True):
        yield


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_float32_in_float32_out_into_the_callers_buffer_without_x64() -> None:
    obj = gdkit.objective("network", sizes=(6, 5, 4), n_samples=30, dtype="float32")
    v = obj.initial_point(np.random.default_rng(0))
    out = np.empty_like(v)
    with jax.enable_x64(False):
        g = gdkit.gradient_source("jax").gradient(obj, v, out=out)
    assert g is out and g.dtype == np.float32
    assert _rel(g.astype(np.float64), obj.gradient(v).astype(np.float64)) < 1e-5


def test_float64_without_jaxs_64_bit_mode_is_one_clear_error() -> None:
    with jax.enable_x64(False), pytest.raises(ConfigError) as info:
        gdkit.minimize("rosenbrock", gradient="jax", max_iter=3)
    assert str(info.value).startswith("the gradient source 'jax' got float64 parameters, but "
                                      "JAX's 64-bit mode is off")
    assert "JAX_ENABLE_X64=1" in str(info.value) and "float32" in str(info.value)


class _Counting:
    """The network, counting how often JAX traces its cost (Python runs only
    when JAX traces; a compiled call does not run it)."""

    def __init__(self) -> None:
        self.net = gdkit.objective("network", sizes=(6, 5, 4), n_samples=40)
        self.traces = 0

    def __repr__(self) -> str:
        return f"Counting({self.net!r})"

    @property
    def dim(self) -> int:
        return int(self.net.dim)

    @property
    def n_samples(self) -> int:
        return int(self.net.n_samples)

    def cost(self, v: Any, batch: Any = None) -> float:
        return float(self.net.cost(v, batch))

    def initial_point(self, rng: np.random.Generator) -> Any:
        return self.net.initial_point(rng)

    def traced_cost(self, xp: Any, v: Any, batch: Any = None) -> Any:
        return self.traced_cost_on(xp, v, self.net.batch_data(batch))

    def batch_data(self, batch: Any = None) -> Any:
        return self.net.batch_data(batch)

    def traced_cost_on(self, xp: Any, v: Any, data: Any) -> Any:
        self.traces += 1
        return self.net.traced_cost_on(xp, v, data)


def test_compiled_once_per_run_not_once_per_step() -> None:
    obj = _Counting()
    src = gdkit.gradient_source("jax")
    res = gdkit.minimize(obj, obj.initial_point(np.random.default_rng(0)), gradient=src,
                         step=gdkit.step_rule("fixed", eta=0.5), batch_size=10, epochs=3,
                         seed=0)
    assert res.nit == 12 and obj.traces == 1
    ref = gdkit.minimize(obj.net, obj.initial_point(np.random.default_rng(0)),
                         step=gdkit.step_rule("fixed", eta=0.5), batch_size=10, epochs=3,
                         seed=0)
    assert _rel(res.x, ref.x) < 1e-12  # the same 12 steps as backpropagation's
    gdkit.minimize(obj, res.x, gradient=src, step=gdkit.step_rule("fixed", eta=0.5),
                   batch_size=10, epochs=1, seed=0)
    assert obj.traces == 2  # a new run compiles afresh (its objective may differ)


class _SampledWithoutData:
    """A sampled objective with traced_cost(xp, v, batch) only (no data seam)."""

    dim = 3
    n_samples = 8

    def __init__(self) -> None:
        self.a = np.random.default_rng(0).standard_normal((8, 3))

    def cost(self, v: Any, batch: Any = None) -> float:
        a = self.a if batch is None else self.a[batch]
        return float(np.mean((a @ v) ** 2))

    def traced_cost(self, xp: Any, v: Any, batch: Any = None) -> Any:
        a = self.a if batch is None else self.a[batch]
        return xp.mean(xp.dot(a, v) ** 2)


def test_a_sampled_objective_without_the_data_seam_is_still_exact() -> None:
    obj = _SampledWithoutData()
    v = np.array([0.5, -1.0, 2.0])
    batch = np.array([1, 4, 6])
    a = obj.a[batch]
    exact = 2 * a.T @ (a @ v) / 3
    np.testing.assert_allclose(gdkit.gradient_source("jax").gradient(obj, v, batch), exact,
                               rtol=1e-13)


def _in_place(v: Any) -> Any:
    w = np.zeros(2)
    w[0] = v[0]  # fine for numbers, not for a traced value
    return jnp.sum(w * w)


def _branches(v: Any) -> Any:
    if v[0] > 0:  # a Python branch on a traced value
        return jnp.sum(v)
    return -jnp.sum(v)


@pytest.mark.parametrize("code", [
    lambda v: float(jnp.sum(v * v)),
    lambda v: np.asarray(v, dtype=float).sum(),
    lambda v: (v @ v).item(),
    _in_place,
    _branches,
], ids=["float", "plain-numpy", "item", "in-place", "branch"])
def test_a_cost_jax_cannot_trace_is_one_clear_error(code: Any) -> None:
    with pytest.raises(ConfigError) as info:
        gdkit.minimize(code, [1.0, 2.0], gradient="jax", max_iter=3)
    text = str(info.value)
    assert text.startswith("the gradient source 'jax' could not trace the cost of "
                           "FunctionObjective(")
    assert "Likely causes:" in text and "\n" not in text


