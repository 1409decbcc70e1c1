"""``armijo`` (backtracking to sufficient decrease) and ``bold-driver``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdkit.errors import StepError
from gdkit.protocols import FloatArray, StepContext
from gdkit.validate import integer, number

from ..fast.forms import CompiledForm
from ._search import (
    _ROUNDING_ULPS,
    _approx_decrease,
    _backtrack,
    _descent_slope,
    _frozen,
    _full_batch_only,
    _rounding,
    _set,
    _watch,
)


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

    def compiled_form(self) -> CompiledForm:
        """For a compiled path: eta0, c, shrink, grow, eta_max, max_backtracks,
        patience and the ulps of C that count as rounding, in that order; the
        state stays an :class:`ArmijoState`."""
        return CompiledForm("armijo", (self.eta0, self.c, self.shrink, self.grow, self.eta_max,
                                       float(self.max_backtracks), float(self.patience),
                                       float(_ROUNDING_ULPS)))

    def move(self, v: FloatArray, d: FloatArray, state: ArmijoState,
             ctx: StepContext) -> tuple[float, ArmijoState]:
        return self._move(v, d, 1.0, state, ctx)

    def move_steepest(self, v: FloatArray, grad: FloatArray, state: ArmijoState,
                      ctx: StepContext) -> tuple[float, ArmijoState]:
        """:meth:`move` along d = −∇C without forming d (the same η, state and bits)."""
        return self._move(v, grad, -1.0, state, ctx)

    def _move(self, v: FloatArray, d: FloatArray, sign: float, state: ArmijoState,
              ctx: StepContext) -> tuple[float, ArmijoState]:
        """Backtrack along ``sign``·``d``."""
        slope = _descent_slope("armijo", d, ctx.grad, sign)
        if slope == 0.0:
            return 0.0, state
        f0 = ctx.fun
        last = state.eta
        eta = self.eta0 if math.isnan(last) else min(last * self.grow, self.eta_max)
        accepted = _backtrack("armijo", v, d, ctx, eta=eta, ref=f0, slope=slope, c=self.c,
                              shrink=self.shrink, tries=self.max_backtracks, sign=sign)
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
