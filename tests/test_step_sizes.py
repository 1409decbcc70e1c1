"""Example tests of each built-in step size and gradient source."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest

import gdkit
from gdkit.errors import ConfigError, StepError
from gdkit.identity import configuration
from gdkit.protocols import StepContext

from .helpers import Stepper


def ctx_for(obj: gdkit.Objective, v: np.ndarray) -> StepContext:
    return StepContext(obj.cost, v)


def no_cost(v: np.ndarray) -> StepContext:
    """A context for rules that never evaluate C."""
    def cost(w: np.ndarray, batch: object = None) -> float:
        raise AssertionError("this rule must not evaluate C")

    return StepContext(cost, v)


@pytest.mark.parametrize(
    ("name", "option", "bad"),
    [("fixed", "eta", 0), ("fixed", "eta", -1.0), ("fixed", "eta", math.nan),
     ("fixed", "eta", "3"), ("normalized", "epsilon", 0.0), ("armijo", "c", 1.0),
     ("armijo", "shrink", 1.5), ("armijo", "grow", 0.5), ("armijo", "max_backtracks", 0),
     ("bold-driver", "shrink", 2.0), ("barzilai-borwein", "variant", "middle"),
     ("barzilai-borwein", "memory", -1), ("barzilai-borwein", "memory", 2.0),
     ("barzilai-borwein", "c", 0.0), ("barzilai-borwein", "max_backtracks", 0)])
def test_constructors_name_the_bad_argument(name: str, option: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=rf"{name}: {option} must"):
        gdkit.step_size(name, **{option: bad})
    with pytest.raises(ConfigError, match=rf"{name}: {option} must"):
        gdkit.step_rule(name, **{option: bad})  # a step size by name is its one-part chain


def test_fixed_step_moves_in_place_and_reports_eta() -> None:
    v = np.array([1.0, 2.0])
    buf_id = id(v)
    eta = Stepper(gdkit.step_rule("fixed", eta=0.5)).step(v, np.array([2.0, -2.0]), no_cost(v))
    assert eta == 0.5 and id(v) == buf_id
    np.testing.assert_array_equal(v, [0.0, 3.0])


def test_armijo_rejects_a_nonfinite_trial_and_shrinks() -> None:
    def cost(w: np.ndarray, batch: object = None) -> float:
        return math.inf if abs(w[0]) > 1.5 else float(w @ w)

    v = np.array([1.0])
    ctx = StepContext(cost, v)
    eta = Stepper(gdkit.step_rule("armijo", eta0=4.0)).step(v, np.array([2.0]), ctx)
    # η = 4 gives w = -7 (inf, rejected), 2 gives -3 (inf), 1 gives -1 (no decrease),
    # 0.5 gives 0: accepted.
    assert eta == 0.5 and v[0] == 0.0
    assert ctx.nfev == 5  # C(v) once + four trials


def test_armijo_grows_eta_after_success() -> None:
    obj = gdkit.objective("valley", curvature=(1.0, 1.0))
    rule = Stepper(gdkit.step_rule("armijo", eta0=0.01, grow=2.0))
    etas = [rule.step(v := np.array([1.0, 1.0]), obj.gradient(v), ctx_for(obj, v))
            for _ in range(3)]
    assert etas == [0.01, 0.02, 0.04]


def test_bold_driver_undoes_a_bad_step() -> None:
    obj = gdkit.objective("valley", curvature=(1.0, 1.0))
    rule = Stepper(gdkit.step_rule("bold-driver", eta0=3.0, grow=1.5, shrink=0.5))
    v = np.array([1.0, 1.0])
    assert rule.step(v, obj.gradient(v), ctx_for(obj, v)) == 0.0  # overshoot: C rises
    np.testing.assert_array_equal(v, [1.0, 1.0])
    assert rule.step(v, obj.gradient(v), ctx_for(obj, v)) == 1.5  # accepted, v → 0
    np.testing.assert_array_equal(v, [-0.5, -0.5])
    assert rule.state_dict()["0.eta"] == 2.25


@pytest.mark.parametrize("memory", [0, 1, 10])
def test_barzilai_borwein_is_exact_on_a_1d_quadratic(memory: int) -> None:
    # On C = a v²/2, s·s/s·y = 1/a: the second step lands on the minimum, and
    # the line search (memory >= 1) accepts both BB trials as they are.
    a = 4.0
    rule = Stepper(gdkit.step_rule("barzilai-borwein", eta0=0.1, memory=memory))
    v = np.array([1.0])
    first, second = (StepContext(lambda w, batch=None: float(a * w @ w / 2), v)
                     for _ in range(2))  # one context per step, as the loop resets it
    assert rule.step(v, a * v, first) == 0.1
    assert rule.step(v, a * v, second) == pytest.approx(1 / a)
    assert v[0] == pytest.approx(0.0, abs=1e-15)
    for ctx in (first, second):
        assert ctx.nfev == (0 if memory == 0 else 2)  # C(v) and one trial per step


def test_barzilai_borwein_backtracks_from_a_bb_step_that_climbs_too_far() -> None:
    # C = v²/2 from v = 1 with eta0 = 5: the trial -4 has C = 8 > 0.5 = the
    # worst recent cost, so η halves to 2.5 (C = 1.125, still too high), then
    # 1.25 (C = 0.03125): accepted.
    v = np.array([1.0])
    ctx = StepContext(lambda w, batch=None: float(w @ w / 2), v)
    rule = Stepper(gdkit.step_rule("barzilai-borwein", eta0=5.0, memory=3))
    assert rule.step(v, v.copy(), ctx) == 1.25
    assert v[0] == -0.25
    assert rule.state_dict()["0.eta"] == 5.0  # the BB estimate is kept; the search starts there
    np.testing.assert_array_equal(rule.state_dict()["0.recent"], [np.nan, np.nan, 0.5])


def test_plain_barzilai_borwein_takes_the_step_whatever_the_cost() -> None:
    v = np.array([1.0])
    rule = Stepper(gdkit.step_rule("barzilai-borwein", eta0=5.0, memory=0))
    assert rule.step(v, v.copy(), no_cost(v)) == 5.0
    assert v[0] == -4.0


@pytest.mark.parametrize("name", ["armijo", "bold-driver", "barzilai-borwein"])
def test_state_round_trips_so_a_resume_continues_identically(name: str) -> None:
    obj = gdkit.objective("rosenbrock")
    v = np.array([-1.2, 1.0])
    rule = Stepper(gdkit.step_rule(name))
    for _ in range(5):
        rule.step(v, obj.gradient(v), ctx_for(obj, v))
    state = rule.state_dict()
    clone = Stepper(gdkit.step_rule(name))
    clone.state = clone.rule.load_state(v, {k: (np.array(x) if isinstance(x, np.ndarray) else x)
                                            for k, x in state.items()})
    w = v.copy()
    for _ in range(5):
        a = rule.step(v, obj.gradient(v), ctx_for(obj, v))
        b = clone.step(w, obj.gradient(w), ctx_for(obj, w))
        assert a == b
    np.testing.assert_array_equal(v, w)
    # A new run of the same rule object starts afresh: init, not the old state.
    again = Stepper(rule.rule)
    fresh = Stepper(gdkit.step_rule(name))
    v1, v2 = np.array([-1.2, 1.0]), np.array([-1.2, 1.0])
    assert again.step(v1, obj.gradient(v1), ctx_for(obj, v1)) == fresh.step(
        v2, obj.gradient(v2), ctx_for(obj, v2))
    np.testing.assert_array_equal(v1, v2)


def test_complex_step_is_refused_for_an_objective_without_complex_cost() -> None:
    with pytest.raises(ConfigError, match=r"complex_cost.*central"):
        gdkit.minimize(lambda v: float(v @ v), [1.0, 1.0], gradient="complex-step")


def test_complex_step_accepts_an_opted_in_callable() -> None:
    obj = gdkit.as_objective(lambda v: (v * v).sum(), 2, complex_safe=True)
    g = gdkit.gradient_source("complex-step").gradient(obj, np.array([1.5, -2.0]))
    np.testing.assert_array_equal(g, [3.0, -4.0])


def test_analytic_source_refuses_an_objective_without_gradient() -> None:
    src = gdkit.gradient_source("analytic")
    with pytest.raises(ConfigError, match=r"no analytic gradient.*central"):
        src.validate(gdkit.as_objective(lambda v: 0.0, 2))  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", ["forward", "central", "complex-step"])
def test_finite_differences_on_float32_return_float32(source: str) -> None:
    obj = gdkit.objective("valley")
    v = np.array([0.5, -0.25], dtype=np.float32)
    g = gdkit.gradient_source(source).gradient(obj, v)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [0.5, -1.25], rtol=2e-3)


@pytest.mark.parametrize("source", ["forward", "central"])
def test_finite_differences_use_the_mini_batch(source: str) -> None:
    q = gdkit.objective("quadratic", n_samples=40)
    v = np.random.default_rng(0).standard_normal(q.dim)
    batch = np.arange(5, 17)
    g = gdkit.gradient_source(source).gradient(q, v, batch)
    np.testing.assert_allclose(g, q.gradient(v, batch), rtol=1e-5, atol=1e-6)
    assert not np.allclose(g, q.gradient(v), rtol=1e-3)


@pytest.mark.parametrize("name", ["armijo", "barzilai-borwein"])
def test_a_line_search_that_finds_no_step_raises_step_error_and_leaves_v(name: str) -> None:
    v = np.array([1.0, -1.0])
    ctx = StepContext(lambda w, batch=None: 0.0 if w is v else math.nan, v)
    rule = Stepper(gdkit.step_rule(name, max_backtracks=4, shrink=0.5))
    with pytest.raises(StepError, match=rf"{name}: no step among 4 trials \(η down to"):
        rule.step(v, np.array([1.0, -1.0]), ctx)
    np.testing.assert_array_equal(v, [1.0, -1.0])
    assert ctx.nfev == 5  # C(v) and four trials


NEEDS_A_CLUSTER = ("client", "address")
"""The dask source's settings that are checked against a cluster when it is made (tested
with one in tests/test_dask.py); where a run computes is not part of its identity."""


def _other_value(name: str, default: object) -> object:
    """A valid setting different from ``default``."""
    if default is None:
        return {"schedule": "cosine(steps=10)", "rows": 100}.get(name, 1e-6)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default * 2.0 if default > 1.0 else default * 0.5 if default < 0.5 else default * 0.9
    return {"long": "short"}[default]  # type: ignore[index]


_MAKERS = {"step size": gdkit.step_size, "transform": gdkit.transform,
           "gradient source": gdkit.gradient_source}


@pytest.mark.parametrize(("kind", "name"), [
    (kind, name) for kind in _MAKERS
    for name, info in gdkit.get_registry().parts(kind).items() if info.distribution == "gdkit"])
def test_every_setting_of_a_builtin_shows_in_its_repr_and_counts_in_its_identity(
        kind: str, name: str) -> None:
    # A resume compares the parts by configuration: a setting missing from it
    # would let a changed run through unnoticed, unless the part declares that
    # it changes no number (a dataclass field(compare=False), or a setting its
    # configuration() leaves out). People read the repr: it shows every setting.
    make = _MAKERS[kind]
    part = make(name)
    base, ident = repr(part), configuration(part)
    factory = gdkit.get_registry().lookup(kind, name).factory
    own = getattr(part, "configuration", None)
    counted = (set(own()) if callable(own) else
               {f.name for f in dataclasses.fields(part) if f.compare}
               if dataclasses.is_dataclass(part) else None)
    for p in inspect.signature(factory).parameters.values():
        if p.default is inspect.Parameter.empty or p.name in NEEDS_A_CLUSTER:
            continue
        other = make(name, **{p.name: _other_value(p.name, p.default)})
        assert repr(other) != base, f"{name}: {p.name} does not show in {base}"
        if counted is None or p.name in counted:
            assert configuration(other) != ident, f"{name}: {p.name} is not in its identity"


@pytest.mark.parametrize("name", ["bold-driver", "barzilai-borwein"])
def test_full_batch_rules_refuse_mini_batches_with_the_reason(name: str) -> None:
    q = gdkit.objective("quadratic", n_samples=40)
    with pytest.raises(ConfigError, match=rf"{name} is for full-batch gradient descent.*'armijo'"):
        gdkit.minimize(q, step=name, batch_size=10, epochs=1)
    assert gdkit.minimize(q, step=name, max_iter=50).nit > 0  # full batch: fine


def test_bold_driver_stops_growing_at_eta_max() -> None:
    obj = gdkit.objective("valley", curvature=(1e-9, 1e-9))  # every step lowers C
    res = gdkit.minimize(obj, [1.0, 1.0], gtol=0.0, max_iter=200,
                         step=gdkit.step_rule("bold-driver", eta0=1.0, grow=2.0, eta_max=64.0))
    assert np.nanmax(res.history["eta"]) == 64.0
