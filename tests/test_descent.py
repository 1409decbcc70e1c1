"""Example tests pinning the behaviour of gdkit.minimize."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import rosen

import gdkit
import gdkit.result
from gdkit.errors import ConfigError, DivergenceError, PluginError, ShapeError


def fixed(eta: float) -> gdkit.StepRule:
    return gdkit.step_rule("fixed", eta=eta)


def test_fixed_step_on_valley_is_exactly_eq_15() -> None:
    # C = (v1² + 5 v2²)/2, ∇C = (v1, 5 v2): one step v - η∇C by hand.
    res = gdkit.minimize("valley", [1.0, 1.0], step=fixed(0.1), max_iter=1)
    np.testing.assert_array_equal(res.x, [1.0 - 0.1 * 1.0, 1.0 - 0.1 * 5.0])
    assert res.nit == 1
    assert not res.success and res.status == 1
    assert res.history.cost.tolist() == [3.0, 0.5 * (0.9**2 + 5 * 0.5**2)]
    assert res.history.eta[0] == 0.1 and math.isnan(res.history.eta[-1])
    assert res.fun == res.history.cost[-1]


def test_result_follows_scipy_conventions() -> None:
    res = gdkit.minimize("valley", [1.0, -2.0], step=fixed(0.1), gtol=1e-8)
    assert res.success and res.status == 0
    assert "converged" in res.message
    for key in ("x", "fun", "jac", "nit", "nfev", "ngev", "success", "status", "message"):
        assert key in res
    assert res.grad_norm <= 1e-8
    assert res.history.rows == res.nit + 1
    assert res.history.per == "iteration"
    np.testing.assert_allclose(res.x, 0, atol=1e-8)


def test_gtol_zero_means_zero_not_default() -> None:
    default = gdkit.minimize("valley", [1.0, 1.0], step=fixed(0.1))
    zero = gdkit.minimize("valley", [1.0, 1.0], step=fixed(0.1), gtol=0.0, max_iter=300)
    assert default.success and default.nit < 300
    assert zero.nit == 300 and not zero.success


def test_max_iter_zero_takes_no_step() -> None:
    res = gdkit.minimize("valley", [1.0, 1.0], step=fixed(0.1), max_iter=0)
    assert res.nit == 0
    np.testing.assert_array_equal(res.x, [1.0, 1.0])


def test_v0_is_not_modified_and_x_is_a_new_array() -> None:
    v0 = np.array([1.0, 1.0])
    res = gdkit.minimize("valley", v0, step=fixed(0.1), max_iter=3)
    np.testing.assert_array_equal(v0, [1.0, 1.0])
    assert res.x is not v0


def test_float32_stays_float32() -> None:
    res = gdkit.minimize("valley", np.array([1.0, 1.0], np.float32), step=fixed(0.1))
    assert res.x.dtype == np.float32 and res.jac.dtype == np.float32


@pytest.mark.parametrize("stop", ["raise", "return"])
def test_callback_can_stop_the_run(stop: str) -> None:
    seen: list[int] = []

    def callback(intermediate_result: gdkit.Result) -> bool:
        seen.append(intermediate_result.nit)
        if intermediate_result.nit == 3:
            if stop == "raise":
                raise StopIteration
            return True
        return False

    res = gdkit.minimize("valley", [1.0, 1.0], step=fixed(0.01), observers=[callback])
    assert seen == [1, 2, 3]
    assert res.nit == 3 and res.status == 2 and not res.success
    assert "callback" in res.message


def test_plain_callback_receives_a_copy_of_v() -> None:
    xs: list[np.ndarray] = []
    res = gdkit.minimize("valley", [1.0, 1.0], step=fixed(0.1), max_iter=2, observers=[xs.append])
    assert len(xs) == 2
    np.testing.assert_array_equal(xs[-1], res.x)
    assert xs[-1] is not res.x


def test_callable_objective_with_jac() -> None:
    res = gdkit.minimize(lambda v: float(v @ v), [3.0, 4.0], gradient=lambda v: 2 * v,
                         step=fixed(0.25))
    assert res.success
    assert np.linalg.norm(2 * res.x) <= 1e-5  # the default gtol


def test_callable_objective_without_jac_asked_for_its_analytic_gradient_is_refused() -> None:
    with pytest.raises(ConfigError, match="central"):
        gdkit.minimize(lambda v: float(v @ v), [3.0, 4.0], gradient="analytic")


def test_the_defaults_minimize_a_callable_by_central_differences_as_scipy_does() -> None:
    """No gradient given: central differences (gradient="auto"), and L-BFGS with a
    Wolfe line search (step="auto" in full batch), both named in the result."""
    res = gdkit.minimize(lambda v: float(v @ v), np.ones(3))
    assert res.success and np.linalg.norm(res.x) < 1e-5, res.message
    assert type(res.gradient_source).__name__ == "Central"
    assert [type(p).__name__ for p in res.step_rule.parts] == ["LBFGS", "Wolfe"]


def test_the_defaults_minimize_rosenbrock() -> None:
    """The fixed η = 0.1 of old diverged here in 4 steps; the defaults converge."""
    res = gdkit.minimize("rosenbrock")
    assert res.success and np.allclose(res.x, 1.0, atol=1e-4), res.message
    assert type(res.gradient_source).__name__ == "Analytic"
    assert res.step_rule == gdkit.step_rule("lbfgs,wolfe")


def test_the_default_step_of_mini_batches_is_the_books_fixed_eta() -> None:
    obj = gdkit.objective("quadratic")
    res = gdkit.minimize(obj, batch_size=5, epochs=2, seed=1)
    assert res.step_rule == gdkit.step_rule("fixed")
    same = gdkit.minimize(obj, batch_size=5, epochs=2, seed=1, step="fixed")
    assert np.array_equal(res.x, same.x)


def test_callable_objective_needs_v0() -> None:
    with pytest.raises(ConfigError, match="v0"):
        gdkit.minimize(lambda v: float(v @ v))


def test_v0_of_wrong_length() -> None:
    with pytest.raises(ShapeError, match="dim 2"):
        gdkit.minimize("valley", [1.0, 2.0, 3.0])


def test_nonfinite_v0() -> None:
    with pytest.raises(ConfigError, match="NaN"):
        gdkit.minimize("valley", [np.nan, 1.0])


def test_divergence_names_iteration_and_last_cost() -> None:
    with pytest.raises(DivergenceError, match=r"iteration \d+.*last finite cost.*smaller η") as ei:
        gdkit.minimize("valley", [1.0, 1.0], step=fixed(10.0), max_iter=10_000)
    assert ei.value.iteration > 0
    assert ei.value.last_finite_cost is not None and math.isfinite(ei.value.last_finite_cost)


def test_nan_gradient_is_divergence() -> None:
    res_grad = lambda v: np.array([np.nan, 0.0])  # noqa: E731
    with pytest.raises(DivergenceError, match="gradient norm is nan at the starting point"):
        gdkit.minimize(lambda v: 1.0, [0.0, 0.0], gradient=res_grad)


class WrongShape:
    def gradient(self, objective, v, batch=None, out=None):  # type: ignore[no-untyped-def]
        return np.zeros(v.size + 1)


class WrongDtype:
    def gradient(self, objective, v, batch=None, out=None):  # type: ignore[no-untyped-def]
        return np.zeros(v.size, dtype=np.float32)


@pytest.mark.parametrize("source", [WrongShape(), WrongDtype()])
def test_gradient_of_wrong_shape_or_dtype_is_a_shape_error(source: object) -> None:
    with pytest.raises(ShapeError, match=type(source).__name__):
        gdkit.minimize("valley", [1.0, 1.0], gradient=source)  # type: ignore[arg-type]


def test_object_without_the_protocol_is_refused() -> None:
    with pytest.raises(PluginError, match=r"step rule.*without step"):
        gdkit.minimize("valley", [1.0, 1.0], step=object())  # type: ignore[arg-type]


def test_epochs_without_batch_size() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        gdkit.minimize("quadratic", epochs=3)


def test_batch_size_needs_a_sampled_objective() -> None:
    with pytest.raises(ConfigError, match="n_samples"):
        gdkit.minimize("valley", [1.0, 1.0], batch_size=2, epochs=1)


@pytest.mark.parametrize(("name", "value"), [("max_iter", -1), ("max_iter", 1.5),
                                             ("batch_size", 0), ("epochs", -2)])
def test_bad_counts(name: str, value: object) -> None:
    kwargs: dict[str, object] = {name: value}
    if name != "max_iter":
        kwargs.setdefault("batch_size", 10)
    with pytest.raises(ConfigError, match=name):
        gdkit.minimize("quadratic", **kwargs)  # type: ignore[arg-type]


def test_mini_batch_sgd_is_seeded_and_records_epochs() -> None:
    q = gdkit.objective("quadratic", n_samples=200)

    def run(seed: int) -> gdkit.Result:
        return gdkit.minimize(q, step=fixed(0.05), batch_size=16, epochs=4, seed=seed)

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.history.cost, b.history.cost)
    assert not np.array_equal(a.x, c.x)
    assert a.success and a.status == 4 and a.epochs == 4
    assert a.history.per == "epoch" and a.history.rows == 4
    assert a.nit == 4 * math.ceil(200 / 16)  # the last, partial batch is kept
    assert a.history.cost[-1] < a.history.cost[0]
    assert a.history.cost[-1] == pytest.approx(q.cost(a.x))


def test_mini_batches_cover_every_sample_once_per_epoch() -> None:
    q = gdkit.objective("quadratic", n_samples=50)
    seen: list[np.ndarray] = []

    class Spy:
        def gradient(self, objective, v, batch=None, out=None):  # type: ignore[no-untyped-def]
            seen.append(batch.copy())
            return objective.gradient(v, batch, out)

    gdkit.minimize(q, gradient=Spy(), batch_size=7, epochs=2, seed=0)  # type: ignore[arg-type]
    first = np.concatenate(seen[:8])
    second = np.concatenate(seen[8:])
    assert sorted(first.tolist()) == list(range(50)) == sorted(second.tolist())
    assert not np.array_equal(first, second)  # a fresh permutation each epoch


def test_step_rule_failure_ends_the_run_with_a_message() -> None:
    # A wrong-sign gradient: no step along it can decrease C.
    class Backwards:
        def gradient(self, objective, v, batch=None, out=None):  # type: ignore[no-untyped-def]
            out[...] = -objective.gradient(v)
            return out

    res = gdkit.minimize("valley", [1.0, 1.0], gradient=Backwards(),  # type: ignore[arg-type]
                         step=gdkit.step_rule("armijo", max_backtracks=5))
    assert not res.success and res.status == 3
    assert "armijo" in res.message
    np.testing.assert_array_equal(res.x, [1.0, 1.0])


def test_jac_with_a_real_objective_is_refused() -> None:
    with pytest.raises(ConfigError, match="jac"):
        gdkit.minimize(gdkit.objective("valley"), [1.0, 1.0], gradient=lambda v: v)


def test_objective_by_name_uses_its_initial_point_and_seed() -> None:
    a = gdkit.minimize("valley", step=fixed(0.1), max_iter=0, seed=3)
    b = gdkit.minimize("valley", step=fixed(0.1), max_iter=0, seed=3)
    c = gdkit.minimize("valley", step=fixed(0.1), max_iter=0, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_callable_capabilities_are_visible_to_protocol_checks() -> None:
    # Python 3.12+ checks protocols on the class (inspect.getattr_static).
    from gdkit.protocols import ComplexCost, HasGradient

    def f(v: np.ndarray) -> float:
        return float(v @ v)

    plain = gdkit.as_objective(f, 2)
    both = gdkit.as_objective(f, 2, jac=lambda v: 2 * v, complex_safe=True)
    assert not isinstance(plain, HasGradient) and not isinstance(plain, ComplexCost)
    assert isinstance(both, HasGradient) and isinstance(both, ComplexCost)
    assert isinstance(both, gdkit.FunctionObjective)
    np.testing.assert_array_equal(both.gradient(np.array([1.0, 2.0])), [2.0, 4.0])


def test_a_vanished_gradient_at_a_worse_point_is_no_success() -> None:
    def upside_down_bell(v: np.ndarray) -> float:  # far out, ∇C underflows to exactly 0
        return float(1 - np.exp(-0.5 * v @ v))

    res = gdkit.minimize(upside_down_bell, [0.5, 0.0], gradient="central",
                         step=gdkit.step_rule("fixed", eta=1e6), max_iter=50)
    assert res.grad_norm == 0.0  # what used to be reported as converged
    assert (res.status, res.success) == (gdkit.result.COST_ROSE, False)
    assert res.message.startswith("no success: the cost rose from 0.117503 at the start to 1 ")
    assert "try a smaller η" in res.message


def test_mini_batches_that_end_above_the_start_are_no_success(tmp_path: Path) -> None:
    def run(**kw: object) -> gdkit.Result:
        return gdkit.minimize("network", step=gdkit.step_rule("fixed", eta=1e300), batch_size=5,
                              seed=1, **kw)  # type: ignore[arg-type]

    res = run(epochs=2)
    assert (res.status, res.success) == (gdkit.result.COST_ROSE, False)
    assert "the cost rose from 0.258091 at the start to 0.85" in res.message
    ck = tmp_path / "ck.npz"
    run(epochs=1, checkpoint=ck)
    # the start's cost travels in the checkpoint
    resumed = run(epochs=2, checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert (resumed.status, resumed.message) == (res.status, res.message)
    assert gdkit.minimize("network", step=gdkit.step_rule("fixed", eta=3.0), batch_size=5,
                          epochs=2, seed=1).success


@pytest.mark.parametrize(("returned", "shown"), [
    (lambda v: v * v, "an array of shape (2,)"), (lambda v: "0.5", "str '0.5'"),
    (lambda v: None, "NoneType None"), (lambda v: True, "bool True"),
])
def test_a_cost_that_is_not_one_number_is_named(returned: Callable[[np.ndarray], object],
                                                shown: str) -> None:
    with pytest.raises(ShapeError, match=rf"returned {re.escape(shown)}, not a number"):
        gdkit.minimize(returned, [1.0, 2.0], gradient="central")  # type: ignore[arg-type]


def test_a_cost_that_writes_into_v_is_caught() -> None:
    def sloppy(v: np.ndarray) -> float:
        v *= 2.0
        return float(v @ v)

    with pytest.raises(PluginError, match="modified v, its argument"):
        gdkit.minimize(sloppy, [1.0, 2.0], gradient="central")


def test_nfev_counts_every_finite_difference_probe() -> None:
    calls = []

    def cost(v: np.ndarray) -> float:
        calls.append(1)
        return float(rosen(v))

    for source, per_gradient in (("forward", 1 + 2), ("central", 1 + 2 * 2)):
        calls.clear()
        res = gdkit.minimize(cost, [-1.2, 1.0], gradient=source, step="fixed", max_iter=3)
        assert res.nfev == len(calls) == 4 + 4 * per_gradient  # C(v_0..v_3), 4 gradients


def test_a_nan_at_a_probe_names_the_probe_and_the_coordinate() -> None:
    def edge(v: np.ndarray) -> float:  # defined for v_1 <= 1 only
        return float(v[0] ** 2 + np.sqrt(1.0 - v[1]))

    with np.errstate(invalid="ignore"), pytest.raises(
            DivergenceError, match=r"is nan at the finite-difference probe v \+ h·e_1 "
                                   r"\(coordinate 1, h = 1\.49e-08\) although C\(v\) = 1 is"):
        gdkit.minimize(edge, [1.0, 1.0], gradient="forward")


def test_a_float32_cost_gets_float32_steps() -> None:
    def f32(v: np.ndarray) -> np.float32:
        return np.float32(np.sum(v.astype(np.float32) ** 2))

    v = np.array([1.3, -0.7, 2.1])
    g = gdkit.gradient_source("forward").gradient(gdkit.as_objective(f32, 3), v)
    assert np.max(np.abs(g - 2 * v) / np.abs(2 * v)) < 1e-2  # float64's steps: error 1.0


def test_complex_step_refuses_a_cost_that_drops_the_imaginary_part() -> None:
    obj = gdkit.as_objective(lambda v: np.real(v @ v), 2, complex_safe=True)
    with pytest.raises(ConfigError, match="drops the imaginary part"):
        gdkit.minimize(obj, [1.0, 2.0], gradient="complex-step")


def test_a_step_rule_returning_no_number_is_named() -> None:
    class Vague:
        def step(self, v: np.ndarray, g: np.ndarray, ctx: object) -> object:
            v -= 0.1 * g
            return "small"

    with pytest.raises(PluginError, match=r"the step rule .*Vague.* returned η = 'small', not a "
                                          r"number"):
        gdkit.minimize("valley", step=Vague(), max_iter=3)  # type: ignore[arg-type]


def test_an_initial_point_of_strings_is_named() -> None:
    class Wordy:
        dim = 2

        def cost(self, v: np.ndarray, batch: object = None) -> float:
            return float(v @ v)

        def initial_point(self, rng: np.random.Generator) -> list[str]:
            return ["one", "two"]

    with pytest.raises(ShapeError, match=r"the initial_point of .*Wordy.* is an array of <U3"):
        gdkit.minimize(Wordy(), gradient="central")


def test_a_state_holding_an_object_is_named_before_the_checkpoint(tmp_path: Path) -> None:
    class Hoarder:
        def step(self, v: np.ndarray, g: np.ndarray, ctx: object) -> float:
            v -= 0.1 * g
            return 0.1

        def get_state(self) -> dict[str, object]:
            return {"memo": {"a": 1}}

        def set_state(self, state: object) -> None:
            pass

        def reset(self) -> None:
            pass

    with pytest.raises(PluginError, match=r"get_state\(\) holds 'memo' = dict"):
        gdkit.minimize("valley", step=Hoarder(), max_iter=3,  # type: ignore[arg-type]
                       checkpoint=tmp_path / "ck.npz")
    assert list(tmp_path.iterdir()) == []
