"""``wolfe``: a line search to the strong Wolfe conditions, the partner of ``lbfgs``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdkit.errors import ConfigError, StepError
from gdkit.protocols import FloatArray, StepContext
from gdkit.validate import integer, number

from ._search import _EPS64, _descent_slope, _frozen, _norm, _rounding, _set


class WolfeState(NamedTuple):
    prev_fun: float  # C at the previous step's start (NaN before the first step)


@dataclass(frozen=True)
class Wolfe:
    """A line search to the strong Wolfe conditions, with Hager and Zhang's
    approximate Wolfe conditions where C is flat to rounding.

    With φ(η) = C(v + ηd) and φ'(η) = ∇C(v + ηd)·d, it looks for an η with

        φ(η) − φ(0) ≤ c1·η·φ'(0)           (sufficient decrease, W1; cf. eq. 9)
        abs(φ'(η)) ≤ −c2·φ'(0)             (strong curvature condition, W2)

    by bracketing and zooming with safeguarded cubic and quadratic
    interpolation (Nocedal and Wright, Algorithms 3.5 and 3.6). W1 is tested
    in difference form; where φ(η) is within rounding of φ(0), it is
    replaced by Hager and Zhang's approximate Wolfe conditions,

        c2·φ'(0) ≤ φ'(η) ≤ (2c1 − 1)·φ'(0),                         (AW)

    which read only slopes ("within rounding": ``epsilon`` times abs(φ(0)), Hager and
    Zhang's switch; AW bounds the slope from both sides, so the wider switch
    is safe here). A trial equal to v bit for bit is never accepted
    (:class:`~gdkit.errors.PrecisionLost`).

    Why strong Wolfe, with the approximate conditions only as the fallback:
    L-BFGS needs s·y > 0 at every accepted step, which W2 (and AW's lower
    bound) guarantees, since s·y = η(φ'(η) − φ'(0)) ≥ −η(1 − c2)φ'(0) > 0;
    the strong form also keeps η from overshooting far past a minimum along
    d, so the pairs describe the curvature near the path, and it is the
    search scipy's BFGS uses, so the benchmark compares like with like. Far
    from a minimum W1 guarantees a decrease of C that AW alone does not (AW
    allows C to rise by rounding); near one, W1 is noise and AW, following
    Hager and Zhang, decides. The first trial is η = 1 capped as scipy caps
    it (η₀ = min(eta0, 1.01·2(C_k − C_{k−1})/φ'(0)), and
    min(eta0, −1.01‖∇C‖/φ'(0)) at the first step), the natural step of a
    quasi-Newton direction.

    Each trial costs one C and one ∇C (:meth:`StepContext.gradient_at
    <gdkit.protocols.StepContext.gradient_at>`), except a trial that already
    fails W1, whose slope is not needed. When ``max_evals`` trials find no
    point meeting the conditions, the best point meeting W1 is taken (L-BFGS
    then skips a pair with s·y ≤ 0); if there is none, the step fails with
    :class:`~gdkit.errors.StepError`. Full-batch or mini-batch alike (on a
    mini-batch, C and ∇C are the batch's); refuses a direction that does not
    descend.

    Parameters
    ----------
    c1 : float, default 1e-4
        Sufficient-decrease constant, 0 < c1 < 1/2.
    c2 : float, default 0.9
        Curvature constant, c1 < c2 < 1 (0.9 for quasi-Newton directions,
        0.1 for conjugate gradients).
    eta0 : float, default 1.0
        The largest first trial.
    eta_max : float, default 1e10
    max_evals : int, default 30
        Trials per step.
    epsilon : float, default 1e-6
        Hager and Zhang's ε: φ(η) counts as within rounding of φ(0), and AW
        decides, when abs(φ(η) − φ(0)) ≤ ε·abs(φ(0)) (or 100 ulps of φ(0), if
        more).
        The rounding in C is not a fixed number of ulps of C: a sum of
        squares of residuals of size ~1 that nearly cancel (Watson's
        problem, C ≈ 1.4e-6) is noisy at 1e-17, a thousand times C's ulp.

    References
    ----------
    P. Wolfe, "Convergence conditions for ascent methods", SIAM Rev. 11
    (1969). J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed.,
    sec. 3.5. W. W. Hager and H. Zhang, "A new conjugate gradient method with
    guaranteed descent and an efficient line search", SIAM J. Optim. 16
    (2005).
    """

    c1: float = 1e-4
    c2: float = 0.9
    eta0: float = 1.0
    eta_max: float = 1e10
    max_evals: int = 30
    epsilon: float = 1e-6

    def __post_init__(self) -> None:
        _set(self, epsilon=number("wolfe", "epsilon", self.epsilon, low=0.0, low_closed=True))
        _set(self, c1=number("wolfe", "c1", self.c1, low=0.0, high=0.5),
             c2=number("wolfe", "c2", self.c2, low=0.0, high=1.0),
             eta0=number("wolfe", "eta0", self.eta0, low=0.0),
             eta_max=number("wolfe", "eta_max", self.eta_max, low=0.0),
             max_evals=integer("wolfe", "max_evals", self.max_evals, minimum=1))
        if not self.c2 > self.c1:
            raise ConfigError(f"wolfe: c2 must be greater than c1 = {self.c1:g}, got "
                              f"{self.c2!r}.")

    def init(self, v: FloatArray) -> WolfeState:
        return WolfeState(math.nan)

    def move(self, v: FloatArray, d: FloatArray, state: WolfeState,
             ctx: StepContext) -> tuple[float, WolfeState]:
        slope = _descent_slope("wolfe", d, ctx.grad)
        if slope == 0.0:
            return 0.0, state
        if not ctx.has_gradient:
            raise ConfigError("wolfe: this step context has no gradient at trial points "
                              "(its curvature condition needs one); gdkit.minimize provides "
                              "it, a hand-made StepContext needs gradient=.")
        f0 = ctx.fun
        eta = self._first(f0, slope, state, ctx.grad)
        found = _WolfeSearch(self, v, d, ctx, f0, slope).run(eta)
        if found is None:
            raise StepError(
                f"wolfe: no step among {self.max_evals} trials met even sufficient decrease "
                f"from C = {f0:.6g}; the gradient may be inaccurate or C not smooth here.")
        return found, WolfeState(f0)

    def _first(self, f0: float, slope: float, state: WolfeState,
               grad: FloatArray | None) -> float:
        """The first trial η (scipy's choice, so benchmarks compare like with like)."""
        if math.isnan(state.prev_fun):
            guess = 1.01 * _norm(grad) / -slope
        else:
            guess = 1.01 * 2.0 * (f0 - state.prev_fun) / slope
        if not (math.isfinite(guess) and guess > 0.0):
            return self.eta0
        return min(self.eta0, guess)


class _WolfeSearch:
    """One line search of :class:`Wolfe` (its trials share v, d and φ(0), φ'(0))."""

    def __init__(self, rule: Wolfe, v: FloatArray, d: FloatArray, ctx: StepContext,
                 f0: float, slope: float) -> None:
        self.rule, self.v, self.d, self.ctx = rule, v, d, ctx
        self.f0, self.slope = f0, slope
        self.tol = max(_rounding(f0, v), rule.epsilon * abs(f0))
        self.evals = 0
        self.best = 0.0  # the η of the lowest C meeting W1 so far (0: none)
        self.best_f = f0
        self.known: tuple[float, float, FloatArray] | None = None

    def phi(self, eta: float, slope_too: bool = True) -> tuple[float, float, bool]:
        """(φ(η), φ'(η) or NaN, whether η is acceptable)."""
        self.evals += 1
        ctx, r = self.ctx, self.rule
        trial = ctx.work(self.v)
        np.multiply(self.d, eta, out=trial)
        trial += self.v
        ft = ctx.cost(trial)
        if not math.isfinite(ft):
            return math.inf, math.nan, False
        diff = ft - self.f0
        flat = abs(diff) <= self.tol
        if flat and np.array_equal(trial, self.v):
            raise _frozen("wolfe", ctx, eta)
        decrease = diff - r.c1 * eta * self.slope <= 0.0
        if decrease and (ft < self.best_f or self.best == 0.0):
            self.best, self.best_f = eta, ft
        if not (slope_too or flat or decrease):
            return ft, math.nan, False
        gt = ctx.gradient_at(trial)
        dphi = float(np.dot(gt, self.d))
        if not math.isfinite(dphi):
            return math.inf, math.nan, False
        self.known = (eta, ft, gt)  # C and ∇C at this trial, for the loop if it is accepted
        ok = decrease and abs(dphi) <= -r.c2 * self.slope
        if flat:
            ok = ok or r.c2 * self.slope <= dphi <= (2.0 * r.c1 - 1.0) * self.slope
        return ft, dphi, ok

    def accept(self, eta: float) -> float:
        v = self.v
        np.multiply(self.d, eta, out=self.ctx.work(v))
        v += self.ctx.work(v)  # the trial's bits: (η·d) + v
        known = self.known
        if known is not None and known[0] == eta:  # the last trial: C and ∇C are known here
            self.ctx.offer(known[1], known[2])
        return eta

    def run(self, eta: float) -> float | None:
        r = self.rule
        lo, f_lo, g_lo = 0.0, self.f0, self.slope
        while self.evals < r.max_evals:
            f, g, ok = self.phi(eta, slope_too=False)
            if ok:
                return self.accept(eta)
            if (f - self.f0) - r.c1 * eta * self.slope > 0.0 or (lo > 0.0 and f >= f_lo) \
                    or math.isnan(g):
                return self.zoom(lo, f_lo, g_lo, eta, f, g)
            if g >= 0.0:
                return self.zoom(eta, f, g, lo, f_lo, g_lo)
            lo, f_lo, g_lo = eta, f, g
            if eta >= r.eta_max:
                break
            eta = min(2.0 * eta, r.eta_max)
        return self.fallback()

    def zoom(self, lo: float, f_lo: float, g_lo: float, hi: float, f_hi: float,
             g_hi: float) -> float | None:
        """Nocedal and Wright's Algorithm 3.6: lo meets W1 with the lowest C
        so far, and [lo, hi] holds a point meeting the strong Wolfe conditions."""
        r = self.rule
        while self.evals < r.max_evals:
            if abs(hi - lo) <= 4 * _EPS64 * max(abs(lo), abs(hi)):
                break  # the bracket has closed to rounding
            eta = _interpolate(lo, f_lo, g_lo, hi, f_hi, g_hi)
            f, g, ok = self.phi(eta)
            if ok:
                return self.accept(eta)
            if math.isnan(g) or (f - self.f0) - r.c1 * eta * self.slope > 0.0 or f >= f_lo:
                hi, f_hi, g_hi = eta, f, g
            else:
                if g * (hi - lo) >= 0.0:
                    hi, f_hi, g_hi = lo, f_lo, g_lo
                lo, f_lo, g_lo = eta, f, g
        return self.fallback()

    def fallback(self) -> float | None:
        """Out of trials: the lowest point meeting W1, if any."""
        return self.accept(self.best) if self.best > 0.0 else None


def _interpolate(lo: float, f_lo: float, g_lo: float, hi: float, f_hi: float,
                 g_hi: float) -> float:
    """A trial inside [lo, hi]: the minimizer of the cubic through both ends'
    values and slopes (of the quadratic when hi's slope is unknown), kept at
    least a tenth of the interval from either end, else the midpoint."""
    width = hi - lo
    eta = math.nan
    if math.isfinite(f_hi):
        if math.isfinite(g_hi):
            d1 = g_lo + g_hi - 3.0 * (f_lo - f_hi) / (lo - hi)
            disc = d1 * d1 - g_lo * g_hi
            if disc >= 0.0:
                d2 = math.copysign(math.sqrt(disc), hi - lo)
                den = g_hi - g_lo + 2.0 * d2
                if den != 0.0:
                    eta = hi - (hi - lo) * (g_hi + d2 - d1) / den
        else:
            den = 2.0 * (f_hi - f_lo - g_lo * width)
            if den > 0.0:
                eta = lo - g_lo * width * width / den
    a, b = (lo, hi) if lo < hi else (hi, lo)
    margin = 0.1 * (b - a)
    if not (math.isfinite(eta) and a + margin <= eta <= b - margin):
        eta = 0.5 * (lo + hi)
    return eta
