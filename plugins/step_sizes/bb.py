"""``barzilai-borwein``: η from the last two points and gradients, guarded by a
non-monotone line search."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from gdkit.errors import ConfigError, StepError
from gdkit.protocols import FloatArray, StepContext
from gdkit.validate import choice, integer, number

from ._search import _backtrack, _descent_slope, _frozen, _full_batch_only, _set, _watch


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
