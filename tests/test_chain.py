"""Chains: transforms and a step size composed into a step rule (gdkit.chain)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gdkit
from gdkit.errors import CheckpointError, ConfigError, StepError, UnknownPluginError
from gdkit.protocols import StepContext

from .helpers import Stepper

finite = st.floats(-10, 10, allow_nan=False, allow_subnormal=False)
vectors = st.integers(1, 6).flatmap(lambda m: st.tuples(
    arrays(np.float64, m, elements=finite), arrays(np.float64, m, elements=finite)))


def ctx(v: np.ndarray, cost: object = None) -> StepContext:
    return StepContext(cost or (lambda w, batch=None: float(w @ w)), v)  # type: ignore[arg-type]


# -- building -----------------------------------------------------------------
def test_a_step_size_by_name_is_its_one_part_chain() -> None:
    rule = gdkit.step_rule("armijo", c=0.25)
    assert isinstance(rule, gdkit.Chain)
    assert rule.parts == (gdkit.step_size("armijo", c=0.25),)
    assert repr(rule) == f"chain({gdkit.step_size('armijo', c=0.25)!r})"


def test_parse_step_routes_qualified_and_unqualified_options() -> None:
    rule = gdkit.parse_step("clip,momentum,fixed", {"momentum.beta": 0.5, "clip.max_norm": 2.0,
                                                   "eta": 0.3})
    assert rule.parts == (gdkit.transform("clip", max_norm=2.0),
                          gdkit.transform("momentum", beta=0.5),
                          gdkit.step_size("fixed", eta=0.3))
    assert gdkit.step_rule("momentum,fixed", **{"fixed.eta": 0.2}).parts[-1] == \
        gdkit.step_size("fixed", eta=0.2)


@pytest.mark.parametrize(("spec", "options", "match"), [
    ("momentum", {}, r"ends with the transform 'momentum'.*e.g. momentum,fixed"),
    ("fixed,momentum", {}, r"'fixed' is a step size, but only the last part"),
    ("momentum,,fixed", {}, r"empty part name"),
    ("momentum,fixed", {"fixd.eta": 1.0}, r"names the part 'fixd'.*momentum, fixed"),
    ("clip,clip,fixed", {"clip.max_norm": 1.0}, r"ambiguous"),
    ("momentum,fixed", {"momentum.gamma": 1.0}, r"does not take option\(s\) gamma"),
])
def test_bad_chains_are_one_clear_config_error(spec: str, options: dict[str, float],
                                               match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        gdkit.step_rule(spec, **options)


def test_an_unknown_step_names_the_step_sizes_and_the_nearest() -> None:
    with pytest.raises(UnknownPluginError, match=r"Did you mean 'armijo'.*Known step sizes"):
        gdkit.step_rule("armjio")


def test_chain_checks_the_order_of_its_parts() -> None:
    m, f = gdkit.transform("momentum"), gdkit.step_size("fixed")
    with pytest.raises(ConfigError, match="last part of a chain must be a step size"):
        gdkit.chain(f, m)
    with pytest.raises(ConfigError, match="at least a step size"):
        gdkit.chain()


def test_minimize_accepts_a_step_size_object_as_the_step() -> None:
    res = gdkit.minimize("valley", [1.0, 1.0], step=gdkit.step_size("fixed", eta=0.1))
    assert res.success


# -- the mathematics ------------------------------------------------------------
@given(vectors)
def test_momentum_with_beta_zero_is_a_plain_step(vg: tuple[np.ndarray, np.ndarray]) -> None:
    v0, g = vg
    plain = Stepper(gdkit.chain(gdkit.step_size("fixed", eta=0.1)))
    ball = Stepper(gdkit.chain(gdkit.transform("momentum", beta=0.0),
                               gdkit.step_size("fixed", eta=0.1)))
    a, b = v0.copy(), v0.copy()
    for _ in range(3):  # the velocity of a previous step must not leak in either
        assert plain.step(a, g, ctx(a)) == ball.step(b, g, ctx(b))
    np.testing.assert_array_equal(a, b)  # equal values (a zero may differ in sign)


@given(vectors, st.floats(0.0, 0.99))
def test_the_fast_steepest_path_equals_the_general_one(vg: tuple[np.ndarray, np.ndarray],
                                                       beta: float) -> None:
    v0, g = vg
    size = gdkit.step_size("fixed", eta=0.37)
    a = v0.copy()
    Stepper(gdkit.chain(size)).step(a, g, ctx(a))  # no transforms: move_steepest
    b = v0.copy()
    size.move(b, -g, (), ctx(b))  # the general move along d = −∇C
    assert a.tobytes() == b.tobytes()


def _ill_conditioned(kappa: float) -> gdkit.Objective:
    return gdkit.objective("valley", curvature=(1.0, kappa))


@given(st.floats(0.0, 0.95), st.floats(-3, 3), st.floats(-3, 3))
def test_armijo_along_momentum_never_increases_the_cost(beta: float, x: float,
                                                        y: float) -> None:
    obj = _ill_conditioned(50.0)
    rule = gdkit.chain(gdkit.transform("momentum", beta=beta), gdkit.step_size("armijo"))
    res = gdkit.minimize(obj, [x, y], step=rule, max_iter=60)
    cost = res.history["cost"]
    assert np.all(np.diff(cost) <= 0), cost
    # a direction that turns uphill is refused, never searched
    assert res.status in (0, 1, 3)
    if res.status == 3:
        assert "not a descent direction" in res.message


def test_armijo_refuses_an_uphill_direction() -> None:
    v, g = np.array([1.0, 0.0]), np.array([2.0, 0.0])
    c = ctx(v)
    c.grad = g
    size = gdkit.step_size("armijo")
    with pytest.raises(StepError, match=r"not a descent direction \(∇C·d = 2 >= 0\)"):
        size.move(v, np.array([1.0, 0.0]), size.init(v), c)
    np.testing.assert_array_equal(v, [1.0, 0.0])


def test_momentum_beats_fixed_eta_by_the_predicted_factor() -> None:
    # C = (v1² + κ v2²)/2 with κ = 100, the same η = 1/L for both runs. Along
    # the flat direction (curvature μ = 1) fixed η contracts by 1 − ημ per
    # step; momentum β makes the effective step η/(1 − β) there (the ball
    # keeps its speed), so theory predicts 1/(1 − β) = 5 times fewer steps for
    # β = 0.8, the largest β that keeps that mode overdamped at this η
    # (ημ <= (1 − √β)²). The exact asymptotic factor, from the spectral
    # radius ρ of the heavy ball's 2×2 iteration on each mode, is
    # ln(ρ)/ln(1 − ημ) = 7.54; the measured one must be at least 5 and within
    # 5% of 7.54 (a start-up transient costs a few steps).
    kappa, mu, lip, beta = 100.0, 1.0, 100.0, 0.8
    eta = 1 / lip
    assert eta * mu <= (1 - math.sqrt(beta)) ** 2
    rho = max(max(abs(np.linalg.eigvals([[1 + beta - eta * lam, -beta], [1.0, 0.0]])))
              for lam in (mu, lip))
    exact = math.log(rho) / math.log(1 - eta * mu)
    assert exact == pytest.approx(7.54, abs=0.01)
    obj, v0 = _ill_conditioned(kappa), [1.0, 1.0]
    fixed = gdkit.minimize(obj, v0, step=gdkit.step_rule("fixed", eta=eta), gtol=1e-10,
                           max_iter=100_000)
    ball = gdkit.minimize(obj, v0, gtol=1e-10, max_iter=100_000, step=gdkit.step_rule(
        "momentum,fixed", **{"momentum.beta": beta, "fixed.eta": eta}))
    assert fixed.success and ball.success
    measured = fixed.nit / ball.nit
    print(f"fixed: {fixed.nit} steps, momentum: {ball.nit} steps: {measured:.2f}x "
          f"(1/(1 - β) = {1 / (1 - beta):.1f}x, asymptotic {exact:.2f}x)")
    assert measured >= 1 / (1 - beta)
    assert measured == pytest.approx(exact, rel=0.05)


# -- state and checkpoints ------------------------------------------------------
def test_a_chain_state_survives_a_checkpoint_generically(tmp_path: Path) -> None:
    obj = _ill_conditioned(10.0)
    spec = {"momentum.beta": 0.8, "eta": 0.05}
    full = gdkit.minimize(obj, [2.0, 1.0], step=gdkit.step_rule("momentum,fixed", **spec),
                          max_iter=40, gtol=0)
    path = tmp_path / "ck.npz"
    gdkit.minimize(obj, [2.0, 1.0], step=gdkit.step_rule("momentum,fixed", **spec),
                   max_iter=20, gtol=0, checkpoint=gdkit.Checkpointing(path, every=20))
    resumed = gdkit.minimize(obj, step=gdkit.step_rule("momentum,fixed", **spec), max_iter=40,
                             gtol=0, checkpoint=gdkit.Checkpointing(None, resume=path))
    assert resumed.x.tobytes() == full.x.tobytes()


def test_resume_compares_chains_part_by_part(tmp_path: Path) -> None:
    obj = _ill_conditioned(10.0)
    path = tmp_path / "ck.npz"
    gdkit.minimize(obj, [2.0, 1.0], step="momentum,fixed", max_iter=5, gtol=0,
                   checkpoint=gdkit.Checkpointing(path, every=5))
    with pytest.raises(CheckpointError, match=r"step part 1: saved Momentum\(beta=0.9, "
                                              r"nesterov=False\), now Momentum\(beta=0.5"):
        gdkit.minimize(obj, step=gdkit.step_rule("momentum,fixed", **{"momentum.beta": 0.5}),
                       max_iter=10, checkpoint=gdkit.Checkpointing(None, resume=path))


def test_a_state_of_another_chain_is_refused_by_name() -> None:
    rule = gdkit.step_rule("momentum,fixed")
    with pytest.raises(CheckpointError, match=r"has no 'velocity'"):
        rule.load_state(np.zeros(2), {"0.speed": np.zeros(2)})


def test_a_saved_array_of_the_wrong_shape_is_refused() -> None:
    rule = gdkit.step_rule("momentum,fixed")
    with pytest.raises(CheckpointError, match=r"shape \(3,\).*expected \(2,\)"):
        rule.load_state(np.zeros(2), {"0.velocity": np.zeros(3)})


def test_a_schedule_gives_eta_from_the_step_count_even_after_a_resume(tmp_path: Path) -> None:
    obj = gdkit.objective("quadratic", n_samples=40)
    rule = gdkit.step_rule("fixed", eta=0.2, schedule="cosine(steps=8)")
    res = gdkit.minimize(obj, batch_size=10, epochs=3, step=rule, seed=1)
    # 4 steps an epoch: the last η of epoch e is that of step 4e − 1
    expected = [0.2 * 0.5 * (1 + math.cos(math.pi * min(4 * e - 1, 8) / 8)) for e in (1, 2, 3)]
    np.testing.assert_allclose(res.history["eta"], expected, rtol=1e-15)
