"""Tests of the example plugin, run against the installed distribution.

The contract checks come from gdkit.testing; the rest pins the mathematics.
"""

from __future__ import annotations

import numpy as np
import pytest
from gdkit_momentum import Logistic, RMSprop

import gdkit
from gdkit.errors import ConfigError
from gdkit.protocols import StepContext
from gdkit.testing import check_objective, check_plugin, check_transform


def test_every_part_keeps_gdkits_contract() -> None:
    report = check_plugin("gdkit-momentum")
    assert {p.part.split("'")[1] for p in report.parts} == {"rmsprop", "logistic"}
    assert not report.skipped


@pytest.mark.parametrize("config", [{"rho": 0.0}, {"rho": 0.99, "eps": 1e-6}])
def test_other_configurations_keep_it_too(config: dict[str, float]) -> None:
    check_transform(RMSprop(**config), max_examples=10)


def test_a_hand_made_logistic_problem_keeps_it_too() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 2))
    y = (x[:, 0] > 0).astype(float)  # separable: only l2 keeps w finite
    check_objective(Logistic(x, y, l2=0.1), max_examples=10)


def test_parts_are_found_by_name_with_this_distribution() -> None:
    reg = gdkit.get_registry()
    for kind, name in (("transform", "rmsprop"), ("objective", "logistic")):
        info = reg.lookup(kind, name)
        assert (info.plugin, info.distribution) == ("momentum", "gdkit-momentum")
    assert gdkit.transform("rmsprop", rho=0.5) == RMSprop(rho=0.5)
    rule = gdkit.step_rule("rmsprop,fixed", **{"rmsprop.rho": 0.5, "fixed.eta": 0.1})
    assert repr(rule) == "chain(RMSprop(rho=0.5, eps=1e-08), Fixed(eta=0.1, schedule=None))"


def test_the_rmsprop_formula_by_hand() -> None:
    # ρ = 3/4, η = 1/2, two steps with given gradients (d starts as −g):
    #   g1 = (4, −8):  s1 = ¼·(16, 64) = (4, 16),         d1 = −g1/(√s1 + ε) ≈ (−2, 2)
    #   g2 = (0, 4):   s2 = ¾·(4, 16) + ¼·(0, 16) = (3, 16), d2 = −g2/(√s2 + ε) ≈ (0, −1)
    eps = 1e-8
    rule = gdkit.chain(RMSprop(rho=0.75, eps=eps), gdkit.step_size("fixed", eta=0.5))
    v = np.array([1.0, 1.0])
    ctx = StepContext(lambda w, b: 0.0, v)
    g1, g2 = np.array([4.0, -8.0]), np.array([0.0, 4.0])
    state = rule.init(v)  # a chain is pure: the state goes in and comes out
    eta, state = rule.update(v, g1, state, ctx)
    assert eta == 0.5
    np.testing.assert_array_equal(rule.state_dict(state)["0.s"], [4.0, 16.0])
    v1 = np.array([1.0 - 0.5 * 4 / (2 + eps), 1.0 + 0.5 * 8 / (4 + eps)])  # ≈ (0, 2)
    np.testing.assert_allclose(v, v1, rtol=1e-15)
    eta, state = rule.update(v, g2, state, ctx)
    np.testing.assert_array_equal(rule.state_dict(state)["0.s"], [3.0, 16.0])
    np.testing.assert_allclose(v, v1 + 0.5 * np.array([0.0, -4 / (4 + eps)]), rtol=1e-15)
    np.testing.assert_array_equal(g1, [4.0, -8.0])  # the gradients are left alone


def test_rmsprop_lowers_the_cross_entropy() -> None:
    reference = gdkit.minimize("logistic", step="armijo", max_iter=5000, seed=0)
    start = Logistic().cost(np.zeros(6))  # ln 2
    res = gdkit.minimize("logistic", step=gdkit.step_rule("rmsprop,fixed", **{"fixed.eta": 0.01}),
                         max_iter=300, seed=0)
    # With a fixed η RMSprop hovers near the minimum (its steps stay about η
    # long), so the run stops at max_iter, but within 1e-4 of the minimal cost.
    assert reference.success
    assert res.fun < reference.fun + 1e-4 < start - 0.3
    np.testing.assert_allclose(res.x, reference.x, atol=0.02)


def test_rmsprop_converges_with_a_decaying_eta() -> None:
    reference = gdkit.minimize("logistic", step="armijo", max_iter=5000, seed=0)
    rule = gdkit.step_rule("rmsprop,fixed", **{"fixed.eta": 0.05,
                                                "fixed.schedule": "cosine(steps=3000)"})
    res = gdkit.minimize("logistic", step=rule, max_iter=3000, seed=0)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, reference.x, atol=1e-3)


def test_mini_batch_sgd_with_rmsprop() -> None:
    rule = gdkit.step_rule("rmsprop,fixed", **{"fixed.eta": 0.01})
    res = gdkit.minimize("logistic", step=rule, batch_size=20, epochs=5, seed=1)
    cost = res.history["cost"]
    assert res.success and cost[-1] < Logistic().cost(np.zeros(6)) - 0.1
    assert res.history["accuracy"][-1] > 0.7


@pytest.mark.parametrize(("option", "bad"), [("rho", 1.0), ("rho", -0.1), ("rho", "slow"),
                                             ("eps", 0.0), ("eps", float("nan"))])
def test_bad_options_are_named(option: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"rmsprop: {option} must"):
        gdkit.transform("rmsprop", **{option: bad})
