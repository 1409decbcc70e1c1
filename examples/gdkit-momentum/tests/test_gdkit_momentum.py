"""Tests of the example plugin, run against the installed distribution.

The contract checks come from gdkit.testing; the rest pins the mathematics.
"""

from __future__ import annotations

import numpy as np
import pytest
from gdkit_momentum import Logistic, Momentum

import gdkit
from gdkit.errors import ConfigError
from gdkit.protocols import StepContext
from gdkit.testing import check_objective, check_plugin, check_step_rule


def test_every_part_keeps_gdkits_contract() -> None:
    report = check_plugin("gdkit-momentum")
    assert {p.part.split("'")[1] for p in report.parts} == {"momentum", "logistic"}
    assert not report.skipped


@pytest.mark.parametrize("config", [{"eta": 0.05, "beta": 0.0}, {"eta": 0.3, "beta": 0.5}])
def test_other_configurations_keep_it_too(config: dict[str, float]) -> None:
    check_step_rule(Momentum(**config), max_examples=10)


def test_a_hand_made_logistic_problem_keeps_it_too() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 2))
    y = (x[:, 0] > 0).astype(float)  # separable: only l2 keeps w finite
    check_objective(Logistic(x, y, l2=0.1), max_examples=10)


def test_parts_are_found_by_name_with_this_distribution() -> None:
    reg = gdkit.get_registry()
    for kind, name in (("step rule", "momentum"), ("objective", "logistic")):
        info = reg.lookup(kind, name)
        assert (info.plugin, info.distribution) == ("momentum", "gdkit-momentum")
    assert isinstance(gdkit.step_rule("momentum", beta=0.5), Momentum)


def test_heavy_ball_update() -> None:
    # C(v) = v²/2, ∇C = v: v1 = v0 − η v0; v2 = v1 − η v1 + β (v1 − v0).
    eta, beta, v0 = 0.1, 0.5, 2.0
    rule = Momentum(eta=eta, beta=beta)
    v = np.array([v0])
    ctx = StepContext(lambda w, b: float(w @ w) / 2, v)
    assert rule.step(v, v.copy(), ctx) == eta
    v1 = v0 - eta * v0
    assert v[0] == pytest.approx(v1)
    rule.step(v, v.copy(), ctx)
    assert v[0] == pytest.approx(v1 - eta * v1 + beta * (v1 - v0))


def test_resume_from_state_takes_the_same_steps() -> None:
    obj = Logistic(n_samples=50)
    a, v = Momentum(), obj.initial_point(np.random.default_rng(0))
    for _ in range(3):
        a.step(v, obj.gradient(v), StepContext(obj.cost, v))
    b = Momentum()
    b.set_state(a.get_state())
    w = v.copy()
    a.step(v, obj.gradient(v), StepContext(obj.cost, v))
    b.step(w, obj.gradient(w), StepContext(obj.cost, w))
    np.testing.assert_array_equal(v, w)


def test_momentum_minimizes_the_cross_entropy() -> None:
    reference = gdkit.minimize("logistic", step="armijo", max_iter=5000, seed=0)
    res = gdkit.minimize("logistic", step=gdkit.step_rule("momentum", eta=0.5), max_iter=5000,
                         seed=0)
    assert reference.success and res.success, res.message
    np.testing.assert_allclose(res.x, reference.x, atol=1e-4)


def test_mini_batch_sgd_with_momentum() -> None:
    res = gdkit.minimize("logistic", step="momentum", batch_size=20, epochs=5, seed=1)
    cost = res.history["cost"]
    assert res.success and cost[-1] < Logistic().cost(np.zeros(6))
    assert res.history["accuracy"][-1] > 0.7


@pytest.mark.parametrize(("option", "bad"), [("eta", 0.0), ("eta", "fast"), ("beta", 1.0),
                                             ("beta", -0.1)])
def test_bad_options_are_named(option: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"momentum: {option} must"):
        gdkit.step_rule("momentum", **{option: bad})
