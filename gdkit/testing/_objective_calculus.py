"""The objective kit's checks of the calculus: complex-step against the gradient,
and the first-order Taylor behaviour eq. (9) promises (ΔC ≈ ∇C·Δv)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

import numpy as np

from ..gradcheck import _central, _exact_steps
from ..protocols import (
    ComplexCost,
    FloatArray,
    HasGradient,
    Objective,
)
from ._common import (
    _TINY,
    COMPLEX_STEP,
    DESCENT,
)
from ._harness import _Checker, _Point
from ._numeric import (
    _close,
    _eps,
)


def _objective_complex(chk: _Checker, obj: ComplexCost, ex: _Point) -> None:
    o: Any = obj
    v = ex.v
    rng = ex.rng()
    c = float(chk.call(COMPLEX_STEP, ex, "cost(v)", o.cost, v))
    z = chk.call(COMPLEX_STEP, ex, "complex_cost(v + 0j)", obj.complex_cost,
                 v.astype(np.complex128))
    try:
        zc = complex(z)
    except TypeError:
        chk.fail(COMPLEX_STEP, f"complex_cost returned {type(z).__name__}, not a number", ex)
    if not _close(zc.real, c, 1e3 * _eps(v.dtype)):
        chk.fail(COMPLEX_STEP, f"Re complex_cost(v) = {zc.real!r} but cost(v) = {c!r}", ex)
    u = rng.standard_normal(v.size)
    u /= np.linalg.norm(u)
    h = 1e-20
    w = v.astype(np.complex128) + 1j * h * u
    cs = complex(chk.call(COMPLEX_STEP, ex, "complex_cost(v + ihu)", obj.complex_cost, w)).imag / h
    if isinstance(obj, HasGradient):
        g = np.asarray(chk.call(COMPLEX_STEP, ex, "gradient(v)", obj.gradient, v),
                       dtype=np.float64)
        an = float(g @ u)
        allowed = 1e-7 * max(abs(an), abs(cs)) + 1e3 * _eps(v.dtype) * (
            float(np.abs(g * u).sum()) + abs(c)) + _TINY
        if abs(cs - an) > allowed:
            chk.fail(COMPLEX_STEP, f"Im complex_cost(v + ihu)/h = {cs:.10g} but the gradient "
                                   f"gives ∇C·u = {an:.10g} along a random direction u: "
                                   "complex_cost must be the same C, written with holomorphic "
                                   "operations only (r * r, not abs(r) ** 2)", ex)
    else:
        hc = _eps(v.dtype) ** (1 / 3) * max(1.0, float(np.max(np.abs(v))))
        comp = _central(lambda x: float(chk.call(COMPLEX_STEP, ex, "cost", o.cost, x)),
                        np.full(v.size, 0.0), v, u, hc, 1e-5, "")
        if abs(cs - comp.reference) > 1e-5 * max(abs(cs), abs(comp.reference)) + 2 * comp.tolerance:
            chk.fail(COMPLEX_STEP, f"Im complex_cost(v + ihu)/h = {cs:.10g} but central "
                                   f"differences of cost give {comp.reference:.10g}", ex)


def _fd_gradient(cost: Callable[[FloatArray], float], v: FloatArray) -> FloatArray:
    g = np.empty(v.size)
    eps = _eps(v.dtype)
    for i in range(v.size):
        h = eps ** (1 / 3) * max(1.0, abs(float(v[i])))
        e = np.zeros(v.size)
        e[i] = 1.0
        wp, wm = _exact_steps(v, e, h)
        g[i] = (cost(wp) - cost(wm)) / float(wp[i].astype(float) - wm[i].astype(float))
    return g.astype(v.dtype)


@final
@dataclass(frozen=True)
class _Trial:
    eta: float
    delta: float
    predicted: float

    @property
    def ratio(self) -> float:
        return self.delta / self.predicted


def _objective_descent(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v

    def cost(w: FloatArray) -> float:
        return float(chk.call(DESCENT, ex, "cost", obj.cost, w))

    if isinstance(obj, HasGradient):
        g = np.asarray(chk.call(DESCENT, ex, "gradient(v)", obj.gradient, v))
    else:
        g = _fd_gradient(cost, v)
    trials = _taylor(cost, v, g)
    problem = _judge_taylor(trials)
    if problem is not None:
        chk.fail(DESCENT, problem, ex)


def _taylor(cost: Callable[[FloatArray], float], v: FloatArray, g: FloatArray) -> list[_Trial]:
    """ΔC of the steps −η∇C whose length is 10⁻¹, 10⁻², … of max(1, ‖v‖∞), while
    the predicted change ∇C·Δv stays above the cost's rounding."""
    g64 = g.astype(np.float64)
    v64 = v.astype(np.float64)
    gnorm = math.sqrt(float(g64 @ g64))
    if gnorm == 0.0 or not math.isfinite(gnorm):
        return []
    c0 = cost(v)
    eps = _eps(v.dtype)
    scale = max(1.0, float(np.max(np.abs(v64))))
    trials: list[_Trial] = []
    for k in range(1, 13):
        eta = 10.0**-k * scale / gnorm
        w = (v64 - eta * g64).astype(v.dtype)
        predicted = float(g64 @ (w.astype(np.float64) - v64))
        c1 = cost(w)
        if -predicted <= 1e3 * eps * (abs(c0) + abs(c1)) + _TINY:
            break
        trials.append(_Trial(eta, c1 - c0, predicted))
    return trials


def _judge_taylor(trials: list[_Trial]) -> str | None:
    """Eq. (9): ΔC/(∇C·Δv) → 1 as η → 0. None if the trials agree or are inconclusive."""
    for i, t in enumerate(trials):
        if abs(t.ratio - 1.0) <= 0.1:
            for later in trials[i:]:
                if later.delta > 0:
                    return (f"the step −η∇C with η = {later.eta:.3g} raised C by "
                            f"{later.delta:.3g}, although ∇C·Δv = {later.predicted:.3g} "
                            f"and steps down to η = {t.eta:.3g} already agreed with it")
            return None
    if len(trials) >= 2:
        a, b = trials[-2], trials[-1]
        if abs(a.ratio - b.ratio) <= 0.05 * max(1.0, abs(b.ratio)):
            climbs = " raises C:" if b.delta > 0 else ""
            return (f"ΔC/(∇C·Δv) settles at {b.ratio:.4g}, not 1, as η → 0 (η = {b.eta:.3g}: "
                    f"ΔC = {b.delta:.3g}, ∇C·Δv = {b.predicted:.3g}): a small step along "
                    f"−∇C{climbs} the gradient is not the derivative of this cost (wrong "
                    "sign or scale?)")
    return None
