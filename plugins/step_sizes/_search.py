"""What the line searches share: the slope, the rounding band of C, backtracking,
and the watch for a run that no longer makes progress (PrecisionLost)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gdkit.errors import ConfigError, PrecisionLost, StepError
from gdkit.protocols import FloatArray, StepContext


def _set(obj: Any, **values: Any) -> None:
    for k, val in values.items():
        object.__setattr__(obj, k, val)


def _descent_slope(name: str, d: FloatArray, grad: FloatArray | None,
                   sign: float = 1.0) -> float:
    """∇C·(sign·d), refusing a direction that does not descend (∇C·d >= 0,
    d != 0). Returns 0.0 for d = 0 (nothing to do). With ``sign`` = −1 and
    ``d`` = ∇C it is ∇C·(−∇C) bit for bit: a negated product, or sum of
    negated terms, rounds to the negated result."""
    if grad is None:
        raise ConfigError(f"{name}: ctx.grad is not set; use this step size inside "
                          "gdkit.chain(...), which provides ∇C.")
    slope = sign * float(np.dot(grad, d))
    if slope < 0.0:
        return slope
    if not d.any():
        return 0.0
    raise StepError(
        f"{name}: the direction is not a descent direction (∇C·d = {slope:.3g} >= 0), so no "
        "step along it can lower C. A transform before it (momentum?) turned d uphill: "
        "lower its β, or use a step size that does not need descent, such as 'fixed'.")


def _full_batch_only(name: str, ctx: StepContext, why: str) -> None:
    """Refuse a mini-batch step (``ctx.batch`` set) with ``why``."""
    if ctx.batch is not None:
        raise ConfigError(
            f"{name} is for full-batch gradient descent: {why}. Use 'armijo' (sufficient "
            f"decrease) or 'fixed' (with a schedule) for mini-batches; {name} is for "
            "full-batch runs (gdkit.minimize without batch_size, or gdkit minimize).")


_EPS64 = float(np.finfo(np.float64).eps)

_ROUNDING_ULPS = 100
"""How many units in the last place of C count as "within rounding" of C."""


def _rounding(f0: float, v: FloatArray) -> float:
    """ε_k, the change in C that rounding can produce near C = ``f0``:
    ``_ROUNDING_ULPS`` ulps of |C| in v's dtype (Hager & Zhang's ε|C_k|)."""
    return _ROUNDING_ULPS * float(np.finfo(v.dtype).eps) * abs(f0)


def _norm(g: FloatArray | None) -> float:
    return math.nan if g is None else math.sqrt(float(np.dot(g, g)))


def _frozen(name: str, ctx: StepContext, eta: float) -> PrecisionLost:
    """The error for a trial η·d too small to change v in its dtype."""
    gnorm = _norm(ctx.grad)
    return PrecisionLost(
        f"{name}: precision lost at ‖∇C‖ = {gnorm:.3g}: no step along d changes C by more "
        f"than rounding (C = {ctx.fun:.17g}) while still moving v (η = {eta:.3g} leaves v "
        "unchanged bit for bit). This is as close to the minimum as this precision gets: "
        "loosen gtol, or use float64 if this ran in float32.", grad_norm=gnorm)


def _approx_decrease(ctx: StepContext, trial: FloatArray, d: FloatArray, slope: float,
                     delta: float, sign: float = 1.0) -> bool:
    """Hager and Zhang's approximate sufficient decrease, for a trial whose C is
    within rounding of C(v): ∇C(v + ηd)·d ≤ (2δ − 1)·∇C·d (eq. AW1).

    For a C quadratic along d it is exactly C(v + ηd) ≤ C(v) + δ·η·∇C·d, but
    it reads the slope, which rounding does not swamp where C is flat to
    rounding. Without a gradient at trial points (a bare context) it is
    False: the trial is rejected. The direction is ``sign``·``d``."""
    if not ctx.has_gradient:
        return False
    gt = ctx.gradient_at(trial)
    dphi = sign * float(np.dot(gt, d))
    return math.isfinite(dphi) and dphi <= (2.0 * delta - 1.0) * slope


def _backtrack(name: str, v: FloatArray, d: FloatArray, ctx: StepContext, *, eta: float,
               ref: float, slope: float, c: float, shrink: float, tries: int,
               sign: float = 1.0) -> tuple[float, float] | None:
    """Try η, η·shrink, … until the decrease is sufficient; move v there and
    return (η, C there), or None when ``tries`` trials all fail (v unchanged).
    The direction is ``sign``·``d`` (−1 and ∇C: steepest descent, the same
    bits as d = −∇C formed: v + η·(−g) and v + (−η)·g round alike).

    A trial is accepted when, in difference form (rounding in C(v) and
    C(trial) cancels instead of swamping the test),

        (C(v + ηd) − ref) − c·η·∇C·d ≤ 0                     (Armijo, cf. eq. 9)

    or, where C(v + ηd) is within rounding of C(v) so that the difference is
    noise, when the approximate condition of :func:`_approx_decrease` holds.
    A trial equal to v bit for bit is never accepted: it raises
    :class:`~gdkit.errors.PrecisionLost` (a smaller η cannot move v either).
    """
    f0 = ctx.fun
    tol = _rounding(f0, v)
    phi = ctx.cost_along(d)
    trial = ctx.work(v)
    for _ in range(tries):
        ft = phi(sign * eta)
        if math.isfinite(ft):
            if (ft - ref) - c * eta * slope <= 0.0 and abs(ft - f0) > tol:
                np.multiply(d, sign * eta, out=trial)
                v += trial  # v + η·d, the same bits as η·d + v
                return eta, ft
            if abs(ft - f0) <= tol:
                np.multiply(d, sign * eta, out=trial)
                trial += v
                if np.array_equal(trial, v):
                    raise _frozen(name, ctx, eta)
                if (ft - ref) - c * eta * slope <= 0.0 or _approx_decrease(
                        ctx, trial, d, slope, c, sign):
                    v[...] = trial  # gradient_at writes its own buffer, not this one
                    return eta, ft
        eta *= shrink
    return None


def _watch(name: str, ctx: StepContext, v: FloatArray, ft: float, flat: int, best: float,
           patience: int) -> tuple[int, float]:
    """Count the accepted steps since C last fell by more than rounding and
    ‖∇C‖ last reached a new low; at ``patience`` of them, raise
    :class:`~gdkit.errors.PrecisionLost`.

    Where C is flat to rounding, steps accepted on the slope test still make
    progress while ‖∇C‖ keeps reaching new lows (float64 near a minimum);
    once the gradient itself is rounding noise (float32 at a gtol below its
    precision) v wanders without progress, and the run should say so rather
    than spend its iterations. Returns the new (flat, best)."""
    f0 = ctx.fun
    if ft < f0 - _rounding(f0, v):
        return 0, math.inf
    gnorm = _norm(ctx.grad)
    if gnorm < best:
        return 0, gnorm
    flat += 1
    if flat >= patience:
        raise PrecisionLost(
            f"{name}: precision lost at ‖∇C‖ = {gnorm:.3g}: in {flat} steps C has not "
            f"fallen by more than its rounding (C = {f0:.17g}) nor ‖∇C‖ below its lowest, "
            f"{best:.3g}: the steps no longer make progress this precision can measure. "
            "Near a minimum, loosen gtol (or use float64 if this ran in float32); far "
            "from one, the direction or the scaling of the problem is at fault.",
            grad_norm=gnorm)
    return flat, best
