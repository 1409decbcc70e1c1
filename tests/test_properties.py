"""Hypothesis property tests of the mathematics.

Eq. (9): ΔC ≈ ∇C·Δv, so the step Δv = −η∇C changes the cost by
ΔC = −η‖∇C‖² + O(η²) ≤ 0 for small enough η; the remainder
R(η) = ΔC + η‖∇C‖² = ½η² ∇Cᵀ H ∇C + O(η³) shrinks like η².
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gdkit_plugins.finite_difference import fd_steps
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize._numdiff import approx_derivative  # scipy's own relative step rule

import gdkit
from gdkit.protocols import HasGradient

from .helpers import EXEMPT, FD_SOURCES, SMALL, Stepper, pairs, small

EPS = float(np.finfo(float).eps)
ROUNDING = 100 * EPS  # "within rounding of C": gdkit_plugins.step_sizes._ROUNDING_ULPS ulps


def points(dim: int, bound: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    return st.lists(st.floats(-bound, bound, allow_nan=False), min_size=dim,
                    max_size=dim).map(np.array)


def test_every_builtin_objective_has_a_small_instance() -> None:
    builtin = {n for n, info in gdkit.get_registry().parts("objective").items()
               if info.distribution == "gdkit"}
    assert builtin == set(SMALL) | set(EXEMPT), "add the new objective to tests/helpers.py SMALL"
    for name in SMALL:
        assert isinstance(small(name), HasGradient), name


@pytest.mark.parametrize(("name", "source"), pairs())
@settings(max_examples=60)
@given(data=st.data())
def test_small_fixed_step_never_raises_the_cost(name: str, source: str,
                                                data: st.DataObject) -> None:
    obj = small(name)
    v = data.draw(points(obj.dim), label="v")
    g_true = obj.gradient(v)  # type: ignore[attr-defined]
    # Away from stationary points, where a finite-difference error could
    # outweigh ∇C itself (there ΔC ≤ 0 is not promised for an approximate ∇C).
    assume(float(g_true @ g_true) > 1e-6)
    g = gdkit.gradient_source(source).gradient(obj, v)
    c0 = obj.cost(v)
    checked = 0
    for k in range(8):
        eta = 1e-4 * 2.0**-k  # below 2/L for every test function on [-3, 3]^m
        predicted = -eta * float(g @ g)  # eq. (9)
        if -predicted < 100 * EPS * max(1.0, abs(c0)):
            continue  # ΔC below float resolution: nothing to check
        w = v.copy()
        Stepper(gdkit.step_rule("fixed", eta=eta)).step(w, g, gdkit.StepContext(obj.cost, w))
        delta = obj.cost(w) - c0
        assert delta <= 0.0, f"η={eta}: ΔC={delta} > 0 (predicted {predicted})"
        checked += 1
    assume(checked > 0)


def _hessian_along(obj: object, v: np.ndarray, u: np.ndarray) -> float:
    d = 1e-5
    gp = obj.gradient(v + d * u)  # type: ignore[attr-defined]
    gm = obj.gradient(v - d * u)  # type: ignore[attr-defined]
    return float(u @ (gp - gm)) / (2 * d)


@pytest.mark.parametrize(("name", "source"),
                         [p for p in pairs() if p[1] != "forward"])
@settings(max_examples=60)
@given(data=st.data())
def test_remainder_of_eq_9_shrinks_like_eta_squared(name: str, source: str,
                                                    data: st.DataObject) -> None:
    """Forward differences are left out on purpose: their O(h) error adds a
    term linear in η to R(η), so R/η² does not settle (the other sources'
    errors are below it at these η)."""
    obj = small(name)
    v = data.draw(points(obj.dim), label="v")
    g = gdkit.gradient_source(source).gradient(obj, v)
    gnorm = float(np.sqrt(g @ g))
    assume(gnorm > 1e-3)
    u = g / gnorm
    c0 = obj.cost(v)
    # The O(η²) term must be there to be seen: curvature along ∇C not ~0,
    # and its effect over the smallest step resolvable in floating point.
    kappa = _hessian_along(obj, v, u)
    assume(0.5 * abs(kappa) * (1e-3 / 8) ** 2 > 1e6 * EPS * max(1.0, abs(c0)))

    def remainder(step_length: float) -> float:
        eta = step_length / gnorm
        return obj.cost(v - eta * g) - c0 + eta * gnorm**2

    r = [remainder(1e-3 * 2.0**-k) for k in range(4)]
    assert abs(r[-1]) > 1e4 * EPS * max(1.0, abs(c0))  # resolvable, so the ratio means something
    ratio = r[-2] / r[-1]
    assert 3.0 < ratio < 5.0, f"R(η)/R(η/2) = {ratio}, expected ≈ 4; R = {r}"


@pytest.mark.parametrize("name", list(SMALL))
@settings(max_examples=40)
@given(data=st.data(), c=st.sampled_from([1e-4, 0.1, 0.5]))
def test_armijo_always_meets_sufficient_decrease(name: str, c: float,
                                                 data: st.DataObject) -> None:
    obj = small(name)
    v = data.draw(points(obj.dim), label="v")
    res = gdkit.minimize(obj, v, step=gdkit.step_rule("armijo", c=c), max_iter=15, gtol=0.0)
    h = res.history
    taken = ~np.isnan(h.eta)
    assert taken.sum() == res.nit
    # C(v_{k+1}) <= C(v_k) - c η_k ‖∇C(v_k)‖² for every step taken, unless
    # C(v_{k+1}) is within rounding of C(v_k), where the search tests the
    # slope instead (Hager–Zhang's approximate condition).
    bound = h.cost[:-1] - c * h.eta[:-1] * h.grad_norm[:-1] ** 2
    flat = np.abs(h.cost[1:] - h.cost[:-1]) <= ROUNDING * np.abs(h.cost[:-1])
    assert np.all(((h.cost[1:] <= bound) | flat)[taken[:-1]])


@pytest.mark.parametrize("name", list(SMALL))
@settings(max_examples=40)
@given(data=st.data(), memory=st.integers(1, 12))
def test_barzilai_borwein_never_rises_above_its_recent_worst(name: str, memory: int,
                                                              data: st.DataObject) -> None:
    # The non-monotone rule: C(v_{k+1}) <= max(C_k, ..., C_{k-M+1}) - c η_k ‖∇C(v_k)‖².
    obj = small(name)
    v = data.draw(points(obj.dim), label="v")
    c = 1e-4
    res = gdkit.minimize(obj, v, step=gdkit.step_rule("barzilai-borwein", memory=memory, c=c),
                         max_iter=25, gtol=0.0)
    h = res.history
    taken = np.flatnonzero(h.eta[:-1] > 0)
    for k in taken:
        worst = h.cost[max(0, k - memory + 1):k + 1].max()
        flat = abs(h.cost[k + 1] - h.cost[k]) <= ROUNDING * abs(h.cost[k])  # slope tested
        assert flat or h.cost[k + 1] <= worst - c * h.eta[k] * h.grad_norm[k] ** 2


def _fd_error_bound(source: str, obj: object, v: np.ndarray, c0: float) -> np.ndarray:
    """Per-coordinate truncation + rounding error of each scheme (times 10):
    forward ½h|C_ii| + 2ε|C|/h with h ~ ε^½; central h²/6|C_iii| + ε|C|/h with
    h ~ ε^⅓; complex step h²/6|C_iii| + ε|∂_iC| with h = 1e-20. C_ii and C_iii
    come from differences of the analytic gradient."""
    d = 1e-3
    g = obj.gradient(v)  # type: ignore[attr-defined]
    d2, d3 = np.empty_like(v), np.empty_like(v)
    for i in range(v.size):
        e = np.zeros_like(v)
        e[i] = d
        gp = obj.gradient(v + e)[i]  # type: ignore[attr-defined]
        gm = obj.gradient(v - e)[i]  # type: ignore[attr-defined]
        d2[i] = abs(gp - gm) / (2 * d)
        d3[i] = abs(gp - 2 * g[i] + gm) / d**2
    fmag = max(1.0, abs(c0))
    if source == "forward":
        h = fd_steps(v, 1)
        bound = 0.5 * np.abs(h) * d2 + 2 * EPS * fmag / np.abs(h)
    elif source == "central":
        h = fd_steps(v, 2)
        bound = h**2 / 6 * d3 + EPS * fmag / np.abs(h)
    else:
        bound = EPS * (1 + np.abs(g))
    return 10 * bound + 1e-300


@pytest.mark.parametrize(("name", "source"), [p for p in pairs() if p[1] in FD_SOURCES])
@settings(max_examples=60)
@given(data=st.data())
def test_finite_differences_agree_with_analytic_within_truncation_error(
        name: str, source: str, data: st.DataObject) -> None:
    obj = small(name)
    v = data.draw(points(obj.dim, bound=3.0), label="v")
    g = obj.gradient(v)  # type: ignore[attr-defined]
    approx = gdkit.gradient_source(source).gradient(obj, v)
    err = np.abs(approx - g)
    bound = _fd_error_bound(source, obj, v, obj.cost(v))
    assert np.all(err <= bound), f"errors {err} exceed the truncation bounds {bound}"


@pytest.mark.parametrize(("name", "source"), [p for p in pairs() if p[1] in FD_SOURCES])
def test_finite_difference_errors_are_of_the_expected_order(name: str, source: str) -> None:
    """Each scheme reaches its expected accuracy at an ordinary point."""
    obj = small(name)
    v = np.linspace(-1.3, 1.7, obj.dim)
    g = obj.gradient(v)  # type: ignore[attr-defined]
    err = float(np.max(np.abs(gdkit.gradient_source(source).gradient(obj, v) - g)))
    rel = err / float(np.max(np.abs(g)))
    limit = {"forward": 1e-6, "central": 1e-9, "complex-step": 1e-14}[source]
    assert rel < limit


@settings(max_examples=30)
@given(v=points(4, bound=3.0))
def test_forward_differences_match_scipys_own_step_rule(v: np.ndarray) -> None:
    """scipy chooses h itself here (relative step EPS^½ scaled by max(1, |v_i|),
    with v_i's sign): a gdkit step rule that drifts from it fails."""
    obj = small("rosenbrock")
    ours = gdkit.gradient_source("forward").gradient(obj, v)
    theirs = approx_derivative(obj.cost, v, method="2-point")
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(v=points(2, bound=5.0), eps=st.floats(1e-3, 1.0))
def test_normalized_step_has_length_epsilon(v: np.ndarray, eps: float) -> None:
    obj = small("valley")
    g = obj.gradient(v)  # type: ignore[attr-defined]
    assume(float(g @ g) > 1e-12)
    w = v.copy()
    eta = Stepper(gdkit.step_rule("normalized", epsilon=eps)).step(
        w, g, gdkit.StepContext(obj.cost, w))
    assert math.isclose(float(np.linalg.norm(w - v)), eps, rel_tol=1e-9)
    assert math.isclose(eta, eps / float(np.linalg.norm(g)), rel_tol=1e-12)
