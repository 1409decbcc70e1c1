"""Step sizes: pick η along a direction d and move v → v + η·d (eq. 10, 15).

In a :func:`gdkit.chain` the direction d starts as −∇C, so with no
transforms each of these is the seed's update v → v − η∇C with η chosen in
its own way; after a transform (momentum, clipping) they move along the new
direction. Each keeps the promise of eq. (9), ΔC ≈ η ∇C·d ≤ 0, in its own
way:

- ``fixed``: η a number, or a number times a schedule of the step count and
  epoch (the seed's "η is often varied"); descends when η is small enough.
- ``armijo``: backtracking until C(v + ηd) ≤ C(v) + c·η·∇C·d (sufficient
  decrease, tested in difference form, on the slope where C is flat to
  rounding); refuses a direction that is not a descent direction.
- ``normalized``: η = ε/‖d‖, so every step has length ε (the seed's last
  paragraph: "choose ‖Δv‖ = ε").
- ``bold-driver``: grow η after a step that lowered C, undo one that raised it.
- ``barzilai-borwein``: η from the last two points and gradients, guarded by a
  non-monotone line search (full batch only).
- ``wolfe``: a line search to the strong Wolfe conditions (sufficient
  decrease and curvature), the partner of the ``lbfgs`` transform.

A non-finite trial cost is treated as "reject and shrink", never accepted.
State is a NamedTuple of numbers and arrays made by ``init``; the chain
saves and restores it for checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

import gdkit
from gdkit.errors import ConfigError, PrecisionLost, StepError
from gdkit.protocols import FloatArray, PartState, StepContext
from gdkit.validate import choice, integer, number

from .fast.forms import CompiledForm
from .schedules import parse_schedule

__all__ = ["Armijo", "BarzilaiBorwein", "BoldDriver", "Fixed", "Normalized", "Wolfe"]


def _set(obj: Any, **values: Any) -> None:
    for k, val in values.items():
        object.__setattr__(obj, k, val)


def _descent_slope(name: str, d: FloatArray, grad: FloatArray | None) -> float:
    """∇C·d, refusing a direction that does not descend (∇C·d >= 0, d != 0).
    Returns 0.0 for d = 0 (nothing to do)."""
    if grad is None:
        raise ConfigError(f"{name}: ctx.grad is not set; use this step size inside "
                          "gdkit.chain(...), which provides ∇C.")
    slope = float(np.dot(grad, d))
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
                     delta: float) -> bool:
    """Hager and Zhang's approximate sufficient decrease, for a trial whose C is
    within rounding of C(v): ∇C(v + ηd)·d ≤ (2δ − 1)·∇C·d (eq. AW1).

    For a C quadratic along d it is exactly C(v + ηd) ≤ C(v) + δ·η·∇C·d, but
    it reads the slope, which rounding does not swamp where C is flat to
    rounding. Without a gradient at trial points (a bare context) it is
    False: the trial is rejected."""
    if not ctx.has_gradient:
        return False
    gt = ctx.gradient_at(trial)
    dphi = float(np.dot(gt, d))
    return math.isfinite(dphi) and dphi <= (2.0 * delta - 1.0) * slope


def _backtrack(name: str, v: FloatArray, d: FloatArray, ctx: StepContext, *, eta: float,
               ref: float, slope: float, c: float, shrink: float,
               tries: int) -> tuple[float, float] | None:
    """Try η, η·shrink, … until the decrease is sufficient; move v there and
    return (η, C there), or None when ``tries`` trials all fail (v unchanged).

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
    trial = ctx.work(v)
    for _ in range(tries):
        np.multiply(d, eta, out=trial)
        trial += v
        ft = ctx.cost(trial)
        if math.isfinite(ft):
            if (ft - ref) - c * eta * slope <= 0.0 and abs(ft - f0) > tol:
                v[...] = trial
                return eta, ft
            if abs(ft - f0) <= tol:
                if np.array_equal(trial, v):
                    raise _frozen(name, ctx, eta)
                if (ft - ref) - c * eta * slope <= 0.0 or _approx_decrease(
                        ctx, trial, d, slope, c):
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


@dataclass(frozen=True)
class Fixed:
    """A fixed learning rate, optionally varied by a schedule: v → v + η·d (eq. 15).

    With d = −∇C this is the seed's update v → v − η∇C.

    Parameters
    ----------
    eta : float, default 0.1
        η > 0. ΔC ≈ −η‖∇C‖² ≤ 0 (eq. 9) holds for η small enough; too large
        and the cost grows (and gdkit raises DivergenceError once it is
        non-finite).
    schedule : str or callable, optional
        η at step k is ``eta * schedule(k, epoch)``: a schedule object, or a
        spec such as ``"cosine(steps=5000)"`` or ``"warmup(steps=100) then
        cosine(steps=5000)"`` (see :mod:`gdkit_plugins.schedules`). It is a
        pure function of the counters, so a resumed run gets exactly the η it
        would have had.
    """

    eta: float = 0.1
    schedule: Any = None

    def __post_init__(self) -> None:
        _set(self, eta=number("fixed", "eta", self.eta, low=0.0),
             schedule=parse_schedule(self.schedule))

    def init(self, v: FloatArray) -> PartState:
        return ()

    def _eta(self, ctx: StepContext) -> float:
        return self.eta_at(ctx.iteration, ctx.epoch)

    def eta_at(self, iteration: int, epoch: int) -> float:
        """η at a step: ``eta``, times the schedule at (iteration, epoch) if any."""
        s = self.schedule
        return self.eta if s is None else self.eta * s(iteration, epoch)

    def compiled_form(self) -> CompiledForm:
        """For a compiled path: v → v + η·d with η = :meth:`eta_at`."""
        return CompiledForm("fixed", (self.eta,), eta=self.eta_at)

    def move(self, v: FloatArray, d: FloatArray, state: PartState,
             ctx: StepContext) -> tuple[float, PartState]:
        eta = self._eta(ctx)
        w = ctx.work(v)
        np.multiply(d, eta, out=w)
        v += w
        return eta, state

    def move_steepest(self, v: FloatArray, grad: FloatArray, state: PartState,
                      ctx: StepContext) -> tuple[float, PartState]:
        # v + (−η)·∇C, bit for bit v + η·(−∇C): one array pass fewer.
        eta = self._eta(ctx)
        w = ctx.work(v)
        np.multiply(grad, -eta, out=w)
        v += w
        return eta, state


@dataclass(frozen=True)
class Normalized:
    """A step of fixed length: η = ε/‖d‖, so Δv = ε·d/‖d‖.

    The choice at the end of the seed's section: among all moves of size
    ‖Δv‖ = ε, Δv = −η∇C with η = ε/‖∇C‖ decreases C the most (to first
    order). It does not settle: near a minimum it keeps stepping ε.

    Parameters
    ----------
    epsilon : float, default 0.01
        The step length ε > 0.
    """

    epsilon: float = 0.01

    def __post_init__(self) -> None:
        _set(self, epsilon=number("normalized", "epsilon", self.epsilon, low=0.0))

    def init(self, v: FloatArray) -> PartState:
        return ()

    def move(self, v: FloatArray, d: FloatArray, state: PartState,
             ctx: StepContext) -> tuple[float, PartState]:
        norm = math.sqrt(float(np.dot(d, d)))
        if norm == 0.0:
            return 0.0, state
        eta = self.epsilon / norm
        w = ctx.work(v)
        np.multiply(d, eta, out=w)
        v += w
        return eta, state


class ArmijoState(NamedTuple):
    eta: float  # the last accepted η (NaN before the first step)
    flat: int  # accepted steps since C fell beyond rounding or ‖∇C‖ reached a new low
    best: float  # the lowest ‖∇C‖ among those steps (inf: none yet)


@dataclass(frozen=True)
class Armijo:
    """Backtracking line search to sufficient decrease (Armijo's rule).

    Tries η, η·shrink, η·shrink², … until C(v + ηd) ≤ C(v) + c·η·∇C·d, the
    quantitative form of eq. (9), along any descent direction d (∇C·d < 0; a
    direction with ∇C·d >= 0 is refused with :class:`~gdkit.errors.StepError`).
    Each step starts from the last accepted η times ``grow``, capped at
    ``eta_max``, so η can also increase.

    Near a minimum the decrease asked for, c·η·∇C·d, falls below one ulp of
    C, and a test written C(trial) ≤ C + c·η·∇C·d rejects every real trial
    on rounding noise. So the test is made in difference form,

        (C(v + ηd) − C(v)) − c·η·∇C·d ≤ 0,                          (A1)

    and where C(v + ηd) is within rounding of C(v) (100 ulps of C) the
    search reads the slope instead, Hager and Zhang's approximate form of
    (A1), exact for a C quadratic along d:

        ∇C(v + ηd)·d ≤ (2c − 1)·∇C·d,                              (A2)

    which needs ∇C at the trial point (:meth:`StepContext.gradient_at
    <gdkit.protocols.StepContext.gradient_at>`; one gradient evaluation,
    only in that regime). A trial equal to v bit for bit is never accepted:
    the search raises :class:`~gdkit.errors.PrecisionLost` (the run ends at
    once, unsuccessful, with the ‖∇C‖ reached), and so it does after
    ``patience`` accepted steps in which neither C fell beyond rounding nor
    ‖∇C‖ reached a new low (∇C is then rounding noise: float32 asked for a
    gtol below its precision).

    Parameters
    ----------
    eta0 : float, default 1.0
        The first trial η.
    c : float, default 0.5
        Sufficient-decrease constant, 0 < c < 1. A demanding c (0.1-0.5)
        keeps the search from accepting long steps that only just lower a
        small mini-batch's cost; 1e-4, the textbook value for full-batch
        quasi-Newton methods, lets η grow until sigmoid networks saturate.
    shrink : float, default 0.5
        Backtracking factor, 0 < shrink < 1.
    grow : float, default 2.0
        Factor on the last accepted η for the next first trial (>= 1; 1
        restarts every step from the last η).
    eta_max : float, default 1e6
    max_backtracks : int, default 60
        Trials per step before giving up with :class:`~gdkit.errors.StepError`.
    patience : int, default 50
        Accepted steps without progress (C not lower beyond rounding, ‖∇C‖
        not at a new low) before :class:`~gdkit.errors.PrecisionLost`.

    References
    ----------
    L. Armijo, "Minimization of functions having Lipschitz continuous first
    partial derivatives", Pacific J. Math. 16 (1966). S. Vaswani et al.,
    "Painless stochastic gradient: interpolation, line-search, and
    convergence rates", NeurIPS 2019 (Armijo on mini-batches).
    """

    eta0: float = 1.0
    c: float = 0.5
    shrink: float = 0.5
    grow: float = 2.0
    eta_max: float = 1e6
    max_backtracks: int = 60
    patience: int = 50

    def __post_init__(self) -> None:
        _set(self, patience=integer("armijo", "patience", self.patience, minimum=1))
        _set(self, eta0=number("armijo", "eta0", self.eta0, low=0.0),
             c=number("armijo", "c", self.c, low=0.0, high=1.0),
             shrink=number("armijo", "shrink", self.shrink, low=0.0, high=1.0),
             grow=number("armijo", "grow", self.grow, low=1.0, low_closed=True),
             eta_max=number("armijo", "eta_max", self.eta_max, low=0.0),
             max_backtracks=integer("armijo", "max_backtracks", self.max_backtracks,
                                    minimum=1))

    def init(self, v: FloatArray) -> ArmijoState:
        return ArmijoState(math.nan, 0, math.inf)

    def move(self, v: FloatArray, d: FloatArray, state: ArmijoState,
             ctx: StepContext) -> tuple[float, ArmijoState]:
        slope = _descent_slope("armijo", d, ctx.grad)
        if slope == 0.0:
            return 0.0, state
        f0 = ctx.fun
        last = state.eta
        eta = self.eta0 if math.isnan(last) else min(last * self.grow, self.eta_max)
        accepted = _backtrack("armijo", v, d, ctx, eta=eta, ref=f0, slope=slope, c=self.c,
                              shrink=self.shrink, tries=self.max_backtracks)
        if accepted is not None:
            flat, best = _watch("armijo", ctx, v, accepted[1], state.flat, state.best,
                                self.patience)
            return accepted[0], ArmijoState(accepted[0], flat, best)
        lowest = eta * self.shrink ** (self.max_backtracks - 1)
        raise StepError(
            f"armijo: no step among {self.max_backtracks} trials (η down to {lowest:.3g}) "
            f"decreased C = {f0:.6g} enough; the gradient may be inaccurate (finite "
            "differences near a minimum?) or C not smooth here.")


class BoldDriverState(NamedTuple):
    eta: float  # the η of the next trial
    flat: int  # accepted steps since C fell beyond rounding or ‖∇C‖ reached a new low
    best: float  # the lowest ‖∇C‖ among those steps (inf: none yet)


@dataclass(frozen=True)
class BoldDriver:
    """The bold driver: grow η after a step that lowers C, undo one that raises it.

    After a step with C(v + ηd) ≤ C(v), η → min(η·grow, eta_max); otherwise
    the step is undone (v unchanged, returning η = 0) and η → η·shrink.
    Where C(v + ηd) is within rounding of C(v), "lowered C" is read from the
    slope, ∇C(v + ηd)·d ≤ −∇C·d (the approximate condition (A2) of
    :class:`Armijo` with c = 0); a trial equal to v, or ``patience`` steps
    without progress, raise :class:`~gdkit.errors.PrecisionLost`.

    Full batch only: on a mini-batch almost every step lowers that batch's own
    cost, so η grows at every step until the model saturates (on the book's
    network it reached 10⁶⁰ within an epoch and stuck at 9.8%); a mini-batch
    run is refused with a :class:`~gdkit.errors.ConfigError` pointing to
    ``armijo``, whose sufficient-decrease test does hold η back.

    Parameters
    ----------
    eta0 : float, default 0.1
    grow : float, default 1.1
    shrink : float, default 0.5
    eta_min : float, default 1e-12
        Below this η the rule gives up with :class:`~gdkit.errors.StepError`.
    eta_max : float, default 1e6
        The largest η it grows to.
    patience : int, default 50
        As for :class:`Armijo`.
    """

    eta0: float = 0.1
    grow: float = 1.1
    shrink: float = 0.5
    eta_min: float = 1e-12
    eta_max: float = 1e6
    patience: int = 50

    def __post_init__(self) -> None:
        _set(self, patience=integer("bold-driver", "patience", self.patience, minimum=1))
        _set(self, eta0=number("bold-driver", "eta0", self.eta0, low=0.0),
             grow=number("bold-driver", "grow", self.grow, low=1.0, low_closed=True),
             shrink=number("bold-driver", "shrink", self.shrink, low=0.0, high=1.0),
             eta_min=number("bold-driver", "eta_min", self.eta_min, low=0.0),
             eta_max=number("bold-driver", "eta_max", self.eta_max, low=0.0))

    def init(self, v: FloatArray) -> BoldDriverState:
        return BoldDriverState(self.eta0, 0, math.inf)

    def move(self, v: FloatArray, d: FloatArray, state: BoldDriverState,
             ctx: StepContext) -> tuple[float, BoldDriverState]:
        _full_batch_only("bold-driver", ctx, "on a mini-batch almost every step lowers that "
                         "batch's cost, so η would grow at every step until the model "
                         "saturates")
        eta = state.eta
        if eta < self.eta_min:
            raise StepError(f"bold-driver: η shrank below eta_min = {self.eta_min:g} without "
                            "finding a step that lowers C.")
        f0 = ctx.fun
        trial = ctx.work(v)
        np.multiply(d, eta, out=trial)
        trial += v
        ft = ctx.cost(trial)
        if math.isfinite(ft):
            if abs(ft - f0) > _rounding(f0, v):
                lowered = ft <= f0
            else:  # C is flat to rounding here: the slope says whether C fell
                if np.array_equal(trial, v):
                    raise _frozen("bold-driver", ctx, eta)
                g = ctx.grad
                slope = float(np.dot(g, d)) if g is not None else 0.0
                lowered = (_approx_decrease(ctx, trial, d, slope, 0.0)
                           if ctx.has_gradient and g is not None else ft <= f0)
            if lowered:
                v[...] = trial
                flat, best = _watch("bold-driver", ctx, v, ft, state.flat, state.best,
                                    self.patience)
                return eta, BoldDriverState(min(eta * self.grow, self.eta_max), flat, best)
        return 0.0, state._replace(eta=eta * self.shrink)


class BBState(NamedTuple):
    eta: float  # the current BB η (eta0 until two points are known)
    started: int  # 1 once prev_v / prev_grad hold the previous point
    prev_v: FloatArray
    prev_grad: FloatArray
    recent: FloatArray  # the last `memory` costs, oldest first, NaN where none yet
    flat: int  # accepted steps since C fell beyond rounding or ‖∇C‖ reached a new low
    best: float  # the lowest ‖∇C‖ among those steps (inf: none yet)


@dataclass(frozen=True)
class BarzilaiBorwein:
    """Barzilai–Borwein step sizes, safeguarded by a non-monotone line search.

    With s = v_k − v_{k−1} and y = ∇C_k − ∇C_{k−1}: η = s·s / s·y ("long",
    BB1) or s·y / y·y ("short", BB2), clipped to [eta_min, eta_max]; the first
    step, and any step with s·y ≤ 0, uses the previous η (initially eta0).

    Plain BB is not monotone and can cycle far from a minimum (it does on 2-D
    Rosenbrock from the classic start). With ``memory`` = M ≥ 1 the BB η is
    only the first trial of a backtracking search that accepts

        C(v + ηd) ≤ max(C_k, C_{k−1}, …, C_{k−M+1}) + c·η·∇C·d,

    Raydan's global BB (GBB) with the non-monotone rule of Grippo, Lampariello
    and Lucidi: C may still rise above the last value, which keeps BB's speed,
    but not above the worst of the last M, which rules out cycling. M = 1 is
    a monotone Armijo search from the BB trial; ``memory=0`` is plain BB (no
    extra cost evaluations). The acceptance test is made in difference form
    with the slope test where C is flat to rounding, as in :class:`Armijo`;
    a step that cannot move v, or ``patience`` steps without progress, raise
    :class:`~gdkit.errors.PrecisionLost`.

    Full batch only: s and y compare gradients of two different mini-batches
    in mini-batch mode, where the BB quotient is noise, so a mini-batch run
    is refused with a :class:`~gdkit.errors.ConfigError`.

    Parameters
    ----------
    eta0 : float, default 1e-3
    variant : {"long", "short"}, default "long"
    eta_min, eta_max : float, default 1e-10, 1e10
    memory : int, default 10
        M, the number of recent costs the acceptance test compares against;
        0 turns the line search off.
    c : float, default 1e-4
        Sufficient-decrease constant, 0 < c < 1.
    shrink : float, default 0.5
        Backtracking factor, 0 < shrink < 1.
    max_backtracks : int, default 60
        Trials per step before giving up with :class:`~gdkit.errors.StepError`.
    patience : int, default 50
        As for :class:`Armijo`.

    References
    ----------
    J. Barzilai and J. M. Borwein, "Two-point step size gradient methods",
    IMA J. Numer. Anal. 8 (1988). M. Raydan, "The Barzilai and Borwein
    gradient method for the large scale unconstrained minimization problem",
    SIAM J. Optim. 7 (1997).
    """

    eta0: float = 1e-3
    variant: str = "long"
    eta_min: float = 1e-10
    eta_max: float = 1e10
    memory: int = 10
    c: float = 1e-4
    shrink: float = 0.5
    max_backtracks: int = 60
    patience: int = 50
    _long: bool = field(init=False, repr=False, compare=False, default=True)

    def __post_init__(self) -> None:
        name = "barzilai-borwein"
        _set(self, patience=integer(name, "patience", self.patience, minimum=1))
        _set(self, eta0=number(name, "eta0", self.eta0, low=0.0),
             variant=choice(name, "variant", self.variant, ("long", "short")),
             eta_min=number(name, "eta_min", self.eta_min, low=0.0),
             eta_max=number(name, "eta_max", self.eta_max, low=0.0),
             memory=integer(name, "memory", self.memory, minimum=0,
                            note=" (0: no line search)"),
             c=number(name, "c", self.c, low=0.0, high=1.0),
             shrink=number(name, "shrink", self.shrink, low=0.0, high=1.0),
             max_backtracks=integer(name, "max_backtracks", self.max_backtracks, minimum=1))
        _set(self, _long=self.variant == "long")

    def init(self, v: FloatArray) -> BBState:
        return BBState(self.eta0, 0, np.zeros_like(v), np.zeros_like(v),
                       np.full(self.memory, np.nan), 0, math.inf)

    def _bb_eta(self, v: FloatArray, grad: FloatArray, state: BBState,
                ctx: StepContext) -> float:
        """The BB η from (v, ∇C) and the previous pair, which it then replaces."""
        eta = state.eta
        if state.started:
            s, y = ctx.work(v), state.prev_v  # y reuses prev_v once s is formed
            np.subtract(v, state.prev_v, out=s)
            np.subtract(grad, state.prev_grad, out=y)
            sy = float(np.dot(s, y))
            if sy > 0:
                bb = float(np.dot(s, s)) / sy if self._long else sy / float(np.dot(y, y))
                if math.isfinite(bb):
                    eta = min(max(bb, self.eta_min), self.eta_max)
        state.prev_v[...] = v
        state.prev_grad[...] = grad
        return eta

    def move(self, v: FloatArray, d: FloatArray, state: BBState,
             ctx: StepContext) -> tuple[float, BBState]:
        _full_batch_only("barzilai-borwein", ctx, "its η compares the gradients of two "
                         "successive steps, which in mini-batch mode come from different "
                         "mini-batches (the quotient is noise)")
        grad = ctx.grad
        if grad is None:
            raise ConfigError("barzilai-borwein: ctx.grad is not set; use it inside "
                              "gdkit.chain(...), which provides ∇C.")
        eta = self._bb_eta(v, grad, state, ctx)
        if self.memory == 0:  # plain BB
            w = ctx.work(v)
            np.multiply(d, eta, out=w)
            w += v
            if d.any() and np.array_equal(w, v):
                raise _frozen("barzilai-borwein", ctx, eta)
            v[...] = w
            return eta, state._replace(eta=eta, started=1)
        slope = _descent_slope("barzilai-borwein", d, grad)
        new = state._replace(eta=eta, started=1)
        if slope == 0.0:
            return 0.0, new
        recent = state.recent
        recent[:-1] = recent[1:]
        recent[-1] = ctx.fun
        ref = float(np.nanmax(recent))
        accepted = _backtrack("barzilai-borwein", v, d, ctx, eta=eta, ref=ref, slope=slope,
                              c=self.c, shrink=self.shrink, tries=self.max_backtracks)
        if accepted is not None:
            flat, best = _watch("barzilai-borwein", ctx, v, accepted[1], state.flat,
                                state.best, self.patience)
            return accepted[0], new._replace(flat=flat, best=best)
        lowest = eta * self.shrink ** (self.max_backtracks - 1)
        known = int(np.count_nonzero(~np.isnan(recent)))
        raise StepError(
            f"barzilai-borwein: no step among {self.max_backtracks} trials (η down to "
            f"{lowest:.3g}) decreased C below max of the last {known} costs "
            f"({ref:.6g}) enough; the gradient may be inaccurate or C not smooth here.")


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


@gdkit.hookimpl
def gdkit_step_sizes() -> dict[str, Any]:
    return {
        "fixed": Fixed,
        "armijo": Armijo,
        "normalized": Normalized,
        "bold-driver": BoldDriver,
        "barzilai-borwein": BarzilaiBorwein,
        "wolfe": Wolfe,
    }
