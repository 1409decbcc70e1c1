"""A mini-batch line search reuses its step's gradient call (gdkit.protocols.ReusesPass):
C(v) from the gradient's forward pass, the gathered rows, C along a line; the
network's answers, when it refuses, and that armijo runs are unchanged by it."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from gdkit_plugins.network import Network, one_hot

import gdkit
from gdkit.protocols import Batch, FloatArray, ReusesPass, StepContext

Array = npt.NDArray[Any]


def make_net(sizes: tuple[int, ...] = (6, 5, 3), n: int = 40, dtype: Any = np.float64,
             cls: type[Network] = Network, **kw: Any) -> Network:
    rng = np.random.default_rng(3)
    x = rng.random((n, sizes[0])).astype(dtype)
    return cls(sizes, x, one_hot(rng.integers(0, sizes[-1], n), sizes[-1], dtype), **kw)


class PlainCost(Network):
    """The same network with cost overridden: nothing may be reused."""

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        return super().cost(v, batch)


def held_step(net: Network, seed: int = 0) -> tuple[Array, Array, Array, Array]:
    """v, a batch, ∇C there (the gradient call the reuse reads) and a direction."""
    rng = np.random.default_rng(seed)
    v = net.initial_point(rng)
    batch = rng.permutation(net.n_samples)[:10]
    g = np.empty_like(v)
    net.gradient(v, batch, g)
    return v, batch, g, -g


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
@pytest.mark.parametrize("sizes", [(6, 5, 3), (6, 7, 4, 3)])
def test_the_network_reuses_its_gradient_pass_exactly(cost: str, sizes: tuple[int, ...]) -> None:
    net = make_net(sizes, cost=cost)
    assert isinstance(net, ReusesPass)
    v, batch, g, d = held_step(net)
    w = v + 0.3 * d
    assert net.cost_at_gradient(v, batch) == net.cost(v, batch)  # bit for bit
    net.gradient(v, batch, g)
    assert net.cost_on_batch(w, batch) == net.cost(w, batch)
    net.gradient(v, batch, g)
    line = net.line_cost(v, d, batch)
    assert line is not None
    for eta in (0.0, 0.25, 1.0, 3.0, -2.0):
        exact = net.cost(v + eta * d, batch)
        assert line(eta) == pytest.approx(exact, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("sizes", [(6, 5, 3), (6, 7, 4, 3)])
def test_along_the_gradients_own_array_the_line_agrees_too(sizes: tuple[int, ...]) -> None:
    """d = ∇C's own array (steepest descent; η < 0 goes downhill): the Gram form."""
    net = make_net(sizes)
    v, batch, g, _d = held_step(net)
    line = net.line_cost(v, g, batch)
    assert line is not None
    for eta in (0.0, -0.25, -1.0, -3.0, 2.0):
        exact = net.cost(v + eta * g, batch)
        assert line(eta) == pytest.approx(exact, rel=1e-13, abs=1e-15)


def test_the_line_is_the_same_from_the_second_step_on() -> None:
    """z¹(v) is computed the first time and kept by the gradient calls after."""
    net = make_net()
    v, batch, g, d = held_step(net)
    first = net.line_cost(v, d, batch)
    assert first is not None
    values = [first(e) for e in (0.5, 2.0)]
    net.gradient(v, batch, g)
    again = net.line_cost(v, d, batch)
    assert again is not None
    assert [again(e) for e in (0.5, 2.0)] == values


def test_a_gradient_at_a_trial_point_leaves_the_line_as_it_was() -> None:
    """Hager-Zhang's test asks ∇C at a trial on the same batch mid-search."""
    net = make_net()
    v, batch, g, d = held_step(net)
    net.line_cost(v, d, batch)  # from now on the gradient calls keep z¹
    net.gradient(v, batch, g)
    line = net.line_cost(v, d, batch)
    assert line is not None
    before = line(0.5)
    net.gradient(v + 0.5 * d, batch, np.empty_like(v))
    assert line(0.5) == before


def test_the_network_refuses_what_it_no_longer_holds() -> None:
    net = make_net()
    v, batch, g, d = held_step(net)
    assert net.cost_at_gradient(v.copy(), batch) is None  # another array than the gradient's
    assert net.cost_at_gradient(v, batch.copy()) is None  # equal indices, another array
    assert net.line_cost(v, d, batch.copy()) is None
    net.cost(v, batch)  # another pass over the buffers
    assert net.cost_at_gradient(v, batch) is None
    assert net.cost_on_batch(v, batch) is None  # and another gather
    assert net.line_cost(v, d, batch) is None
    net.gradient(v, batch, g)
    assert net.cost_on_batch(v + d, batch) is not None
    assert net.cost_at_gradient(v, batch) is None  # that trial's pass replaced the gradient's


def test_a_full_batch_gradient_of_the_same_size_ends_the_hold() -> None:
    """Ten inputs in all and a mini-batch of ten share their buffers."""
    net = make_net(n=10)
    v, batch, _g, d = held_step(net)
    net.gradient(v, None, np.empty_like(v))
    assert net.cost_on_batch(v, batch) is None
    assert net.line_cost(v, d, batch) is None


def test_a_subclass_that_changes_the_cost_gets_nothing_reused() -> None:
    net = make_net(cls=PlainCost)
    v, batch, _g, d = held_step(net)
    assert net.cost_at_gradient(v, batch) is None
    assert net.cost_on_batch(v, batch) is None
    assert net.line_cost(v, d, batch) is None


def test_no_line_for_a_network_without_a_hidden_layer() -> None:
    net = make_net((6, 3))
    v, batch, _g, d = held_step(net)
    assert net.line_cost(v, d, batch) is None
    assert net.cost_at_gradient(v, batch) == net.cost(v, batch)


class Recorder:
    """A ReusesPass that answers with marked values, or None (``refuse``)."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.calls: list[str] = []

    def cost_at_gradient(self, v: FloatArray, batch: Batch) -> float | None:
        self.calls.append("at")
        return None if self.refuse else -1.0

    def cost_on_batch(self, w: FloatArray, batch: Batch) -> float | None:
        self.calls.append("on")
        return None if self.refuse else -2.0

    def line_cost(self, v: FloatArray, d: FloatArray, batch: Batch) -> Any:
        self.calls.append("line")
        return None if self.refuse else (lambda eta: -3.0 * eta)


@pytest.mark.parametrize("refuse", [False, True])
def test_the_context_asks_the_objective_and_counts_every_cost(refuse: bool) -> None:
    v = np.array([1.0, 2.0])
    reuse = Recorder(refuse)
    ctx = StepContext(lambda w, batch: float(w @ w), v, reuse=reuse)
    ctx.begin(0, np.arange(2))
    phi = ctx.cost_along(np.array([1.0, 0.0]))
    got = (ctx.fun, ctx.cost(2 * v), phi(2.0))
    assert got == ((5.0, 20.0, 13.0) if refuse else (-1.0, -2.0, -6.0))
    assert ctx.nfev == 3
    # refused: C(v), C(2v) and the trial each fall back to cost, asking on_batch first
    assert reuse.calls == ["line", "at", "on"] + (["on", "on"] if refuse else [])
    ctx.begin(1, None)  # full batch: the objective is not asked
    assert ctx.fun == 5.0 and len(reuse.calls) == (5 if refuse else 3)


def armijo_run(net: Network, step: str, seed: int = 2) -> gdkit.Result:
    return gdkit.minimize(net, step=step, batch_size=10, epochs=3, seed=seed)


@pytest.mark.parametrize(("step", "dtype", "cost"), [
    ("armijo", np.float64, "quadratic"),
    ("armijo(c=1e-4)", np.float32, "cross-entropy"),
    ("momentum,armijo(c=0.1)", np.float64, "log-likelihood"),
])
def test_armijo_runs_are_the_same_bits_with_the_reuse(step: str, dtype: Any, cost: str) -> None:
    """The network (reuse) against the same network whose cost is overridden
    (no reuse: every C by a full forward pass on freshly gathered rows)."""
    reused = armijo_run(make_net((6, 8, 3), n=200, dtype=dtype, cost=cost), step)
    plain = armijo_run(make_net((6, 8, 3), n=200, dtype=dtype, cost=cost, cls=PlainCost), step)
    assert reused.x.tobytes() == plain.x.tobytes()
    for key in ("eta", "cost"):
        assert np.asarray(reused.history[key]).tobytes() == np.asarray(
            plain.history[key]).tobytes()
    assert (reused.nit, reused.nfev, reused.ngev) == (plain.nit, plain.nfev, plain.ngev)


def test_armijo_steepest_is_move_along_the_negated_gradient_bit_for_bit() -> None:
    size: Any = gdkit.step_size("armijo")
    rng = np.random.default_rng(5)
    a = rng.standard_normal((30, 30))
    h = a @ a.T / 30 + np.eye(30)

    def cost(w: FloatArray, batch: Any = None) -> float:
        return float(0.5 * w @ h @ w)

    v1 = rng.standard_normal(30)
    v2 = v1.copy()
    s1 = s2 = size.init(v1)
    for _ in range(20):
        g1, g2 = h @ v1, h @ v2
        c1, c2 = StepContext(cost, v1), StepContext(cost, v2)
        c1.grad, c2.grad = g1, g2
        e1, s1 = size.move_steepest(v1, g1, s1, c1)
        e2, s2 = size.move(v2, -g2, s2, c2)
        assert (e1, s1) == (e2, s2)
        assert v1.tobytes() == v2.tobytes()
