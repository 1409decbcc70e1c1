"""gdkit's chain parts against optax's counterparts: 500 steps, float64, 1e-12.

optax implements momentum, Nesterov, clipping by global norm, weight decay,
the learning-rate schedules and a backtracking Armijo line search. Each gdkit
part and its optax counterpart run from the same start for 500 steps on three
problems (an ill-conditioned quadratic, Rosenbrock, a logistic regression),
fed the same numpy gradients, and must end within 1e-12 (relative to
max(1, ‖v‖∞)) of each other. Today they agree, so this guards against drift.

Conventions (the known differences between the two, stated here once):

- Sign: optax's updates are added to the parameters (``sgd`` scales by −η);
  gdkit's direction starts as d = −∇C and the step size moves v + η·d.
  optax's trace t = ∇C + β·t is the negative of gdkit's velocity m = β·m + d.
- Momentum's restart (gdkit's default in full batch) has no optax
  counterpart: it is off here (``restart=False``).
- Warm-up: gdkit's ``warmup(steps=n, start=s)`` at step k is optax's
  ``linear_schedule(s, 1, n)`` at count k + 1 (gdkit's first step already
  moves by a nonzero η when s = 0; optax's count starts at 0).
- The count: ``optax.sgd`` keeps its step count as an int32 and passes it to
  the schedule as one; it is cast to float64 before the schedule's
  arithmetic here, as gdkit's counters are Python ints.
- ``inverse-time`` has no optax schedule and is not compared.
- Armijo: optax's ``scale_by_backtracking_linesearch`` tests the decrease
  in the same difference form, (C(trial) − C) − c·η·∇C·d ≤ 0 (``rtol = atol
  = 0``), starts from min(increase·η_last, η_max) with η_last = 1 initially;
  gdkit's ``armijo`` with ``eta0 = eta_max`` and ``grow = increase`` starts
  at the same η. Its ``value_fn`` evaluates the same numpy cost (through
  ``jax.pure_callback``), so the two searches compare the same numbers.
  gdkit's slope test where C is flat to rounding has no optax counterpart;
  none of these runs reaches that regime in 500 steps (checked below).

Runs in the tox environment that has JAX (``tox -e jax``); skipped where
optax is not installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import gdkit

from .helpers import Stepper

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
jnp = jax.numpy

STEPS = 500
TOL = 1e-12


@dataclass(frozen=True)
class Problem:
    name: str
    cost: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    v0: np.ndarray
    eta: float  # a fixed η that is stable with momentum β = 0.9


def _quadratic() -> Problem:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = (q * np.geomspace(1.0, 1e-3, 6)) @ q.T  # condition number 1e3
    b = rng.standard_normal(6)
    return Problem("ill-conditioned quadratic", lambda v: float(0.5 * v @ a @ v - b @ v),
                   lambda v: a @ v - b, rng.standard_normal(6), 0.05)


def _rosenbrock() -> Problem:
    obj = gdkit.objective("rosenbrock", dim=2)
    return Problem("rosenbrock", obj.cost, obj.gradient, np.array([-1.2, 1.0]), 1e-4)


def _logistic() -> Problem:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 4))
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.5 * rng.standard_normal(60) > 0) * 1.0
    lam = 1e-3

    def cost(v: np.ndarray) -> float:
        z = x @ v
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * v @ v)

    def grad(v: np.ndarray) -> np.ndarray:
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ v)))
        return x.T @ (p - y) / len(y) + lam * v

    return Problem("logistic regression", cost, grad, np.zeros(4) + 0.1, 0.5)


PROBLEMS = [_quadratic(), _rosenbrock(), _logistic()]


class _Objective:
    def __init__(self, p: Problem) -> None:
        self.p = p
        self.dim = p.v0.size

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        return self.p.cost(v)

    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        g = self.p.grad(v)
        if out is None:
            return g
        out[...] = g
        return out


def run_gdkit(p: Problem, rule: Any) -> np.ndarray:
    res = gdkit.minimize(_Objective(p), p.v0.copy(), step=rule, gtol=0.0, max_iter=STEPS)
    assert res.nit == STEPS, res.message
    return np.asarray(res.x)


def run_optax(p: Problem, tx: Any, *, linesearch: bool = False) -> np.ndarray:
    with jax.enable_x64(True):
        params = jnp.asarray(p.v0)
        state = tx.init(params)
        if linesearch:
            def value_fn(w: Any) -> Any:
                return jax.pure_callback(lambda u: np.float64(p.cost(np.asarray(u))),
                                         jax.ShapeDtypeStruct((), jnp.float64), w)

            update = jax.jit(lambda g, s, w, value: tx.update(
                g, s, w, value=value, grad=g, value_fn=value_fn))
        else:
            update = jax.jit(tx.update)
        for _ in range(STEPS):
            w = np.asarray(params)
            g = jnp.asarray(p.grad(w))
            if linesearch:
                updates, state = update(g, state, params, jnp.asarray(p.cost(w)))
            else:
                updates, state = update(g, state, params)
            params = optax.apply_updates(params, updates)
        return np.asarray(params, dtype=np.float64)


def assert_agree(ours: np.ndarray, theirs: np.ndarray, p: Problem) -> None:
    assert ours.dtype == theirs.dtype == np.float64
    scale = max(1.0, float(np.max(np.abs(theirs))))
    gap = float(np.max(np.abs(ours - theirs)))
    assert gap <= TOL * scale, f"{p.name}: gdkit and optax differ by {gap:.3g} after {STEPS}"
    assert np.any(ours != p.v0)  # the runs moved


def _count(schedule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """optax's int32 count, cast to float64 before the schedule's arithmetic."""
    return lambda count: schedule(jnp.asarray(count, dtype=jnp.float64))


def momentum(beta: float, nesterov: bool = False) -> Any:
    return gdkit.transform("momentum", beta=beta, nesterov=nesterov, restart=False)


PARTS: dict[str, Callable[[Problem], tuple[Any, Any]]] = {
    "momentum": lambda p: (gdkit.chain(momentum(0.9), gdkit.step_size("fixed", eta=p.eta)),
                           optax.sgd(p.eta, momentum=0.9)),
    "nesterov": lambda p: (gdkit.chain(momentum(0.9, True),
                                       gdkit.step_size("fixed", eta=p.eta)),
                           optax.sgd(p.eta, momentum=0.9, nesterov=True)),
    "clip": lambda p: (gdkit.chain(gdkit.transform("clip", max_norm=0.5),
                                   gdkit.step_size("fixed", eta=p.eta)),
                       optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(p.eta))),
    "weight decay": lambda p: (gdkit.chain(gdkit.transform("weight-decay", lam=0.01),
                                           gdkit.step_size("fixed", eta=p.eta)),
                               optax.chain(optax.add_decayed_weights(0.01),
                                           optax.sgd(p.eta))),
}

SCHEDULES: dict[str, Callable[[float], tuple[str, Any]]] = {
    "constant": lambda eta: ("constant", optax.constant_schedule(eta)),
    "step": lambda eta: ("step(every=50, gamma=0.5, unit='step')",
                         _count(optax.exponential_decay(eta, 50, 0.5, staircase=True))),
    "exponential": lambda eta: ("exponential(gamma=0.995)",
                                _count(optax.exponential_decay(eta, 1, 0.995))),
    "cosine": lambda eta: ("cosine(steps=400, floor=0.1)",
                           _count(optax.cosine_decay_schedule(eta, 400, alpha=0.1))),
    "warmup": lambda eta: ("warmup(steps=100, start=0.1)",
                           _count(lambda k: optax.linear_schedule(0.1 * eta, eta, 100)(k + 1))),
    "warmup then cosine": lambda eta: (
        "warmup(steps=100) then cosine(steps=300)",
        _count(optax.join_schedules(
            [lambda k: optax.linear_schedule(0.0, eta, 100)(k + 1),
             optax.cosine_decay_schedule(eta, 300)], [100]))),
}

IDS = [p.name for p in PROBLEMS]


@pytest.mark.parametrize("part", list(PARTS))
@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_transform_agrees_with_optax(p: Problem, part: str) -> None:
    ours, theirs = PARTS[part](p)
    assert_agree(run_gdkit(p, ours), run_optax(p, theirs), p)


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_schedule_agrees_with_optax(p: Problem, name: str) -> None:
    spec, schedule = SCHEDULES[name](p.eta)
    rule = gdkit.step_rule("fixed", eta=p.eta, schedule=spec)
    assert_agree(run_gdkit(p, rule), run_optax(p, optax.sgd(schedule)), p)


@pytest.mark.parametrize("c", [1e-4, 0.5])
@pytest.mark.parametrize("p", PROBLEMS, ids=IDS)
def test_armijo_agrees_with_optax_backtracking(p: Problem, c: float) -> None:
    rule = gdkit.step_rule("armijo", eta0=1.0, eta_max=1.0, c=c, shrink=0.5, grow=2.0,
                           max_backtracks=40)
    ours = run_gdkit(p, rule)
    tx = optax.chain(optax.sgd(1.0), optax.scale_by_backtracking_linesearch(
        max_backtracking_steps=39, slope_rtol=c, decrease_factor=0.5, increase_factor=2.0,
        max_learning_rate=1.0))
    theirs = run_optax(p, tx, linesearch=True)
    assert_agree(ours, theirs, p)
    # Neither run reached the regime where C is flat to rounding (where gdkit
    # reads the slope and optax does not), so the comparison is of like with like.
    assert abs(p.cost(ours) - p.cost(p.v0)) > 0
    res = gdkit.minimize(_Objective(p), p.v0.copy(), step=rule, gtol=0.0, max_iter=STEPS)
    cost = res.history["cost"]
    flat = np.abs(np.diff(cost)) <= 100 * np.finfo(float).eps * np.abs(cost[:-1])
    assert not flat.any(), f"{p.name}: C flat to rounding at step {int(np.argmax(flat))}"


def test_the_conventions_hold_on_one_step() -> None:
    # One step from the same point: the sign convention and the warm-up shift.
    p = PROBLEMS[0]
    g = p.grad(p.v0)
    spec, schedule = SCHEDULES["warmup"](p.eta)
    with jax.enable_x64(True):
        eta0 = float(schedule(np.int32(0)))
    assert math.isclose(eta0, p.eta * (0.1 + 0.9 / 100))  # optax at count 1
    rule = gdkit.step_rule("fixed", eta=p.eta, schedule=spec)
    v = p.v0.copy()
    ctx = gdkit.StepContext(p.cost, v)
    Stepper(rule).step(v, g, ctx)
    np.testing.assert_allclose(v, p.v0 - eta0 * g, rtol=0, atol=1e-15)
