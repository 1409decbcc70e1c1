"""Transforms: reshape the direction d before a step size moves v along it.

In a :func:`gdkit.chain` the direction starts as d = −∇C (eq. 10); each
transform rewrites it in place, in order:

- ``momentum``: the seed's ball that "has momentum" (heavy ball, or
  Nesterov's look-ahead variant), restarted when it stops descending;
- ``clip``: rescale d to a global norm of at most ``max_norm``;
- ``weight-decay``: add −λv, the gradient step of the penalty (λ/2)‖v‖²;
- ``lbfgs``: d ← −H∇C with H the limited-memory BFGS estimate of the
  inverse Hessian from the last k steps (curvature without m² numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

import gdkit
from gdkit.errors import ConfigError
from gdkit.protocols import FloatArray, PartState, StepContext
from gdkit.validate import flag, integer, number

from .fast.forms import CompiledForm

__all__ = ["LBFGS", "Clip", "Momentum", "WeightDecay"]


def _set(obj: Any, **values: Any) -> None:
    for k, val in values.items():
        object.__setattr__(obj, k, val)


class MomentumState(NamedTuple):
    velocity: FloatArray  # m, the running direction


@dataclass(frozen=True)
class Momentum:
    """The ball with momentum: m ← β·m + d, then d ← m (heavy ball).

    A ball rolling down the valley keeps part of its velocity; along a narrow
    valley the components of d that alternate in sign cancel in m while the
    ones along the valley add up, so with a step size η the steps grow by up
    to 1/(1 − β) there. With ``nesterov=True`` the direction looks ahead:
    d ← d + β·m (after updating m). β = 0 is plain gradient descent.

    With ``restart=True`` (the default), a full-batch step whose new direction
    would not descend, ∇C·d ≥ 0 (eq. 9 would then promise ΔC ≥ 0), restarts
    the ball instead: the velocity is set to zero before adding d, so the
    direction is the incoming one (−∇C at the head of a chain). This is the
    gradient restart of O'Donoghue and Candès; it keeps a line search after
    momentum (``momentum,armijo``) from being handed an uphill direction.
    Mini-batch steps never restart: the sign of ∇C·d on one mini-batch is
    noise, and the compiled path runs the plain update.

    Parameters
    ----------
    beta : float, default 0.9
        The momentum coefficient, 0 <= β < 1.
    nesterov : bool, default False
    restart : bool, default True
        Restart the velocity when the direction stops being a descent
        direction (full batch only); False keeps the plain heavy ball.

    References
    ----------
    B. T. Polyak, "Some methods of speeding up the convergence of iteration
    methods", USSR Comput. Math. Math. Phys. 4 (1964). I. Sutskever et al.,
    "On the importance of initialization and momentum in deep learning",
    ICML 2013. B. O'Donoghue and E. Candès, "Adaptive restart for
    accelerated gradient schemes", Found. Comput. Math. 15 (2015).
    """

    beta: float = 0.9
    nesterov: bool = False
    restart: bool = True

    def __post_init__(self) -> None:
        _set(self, beta=number("momentum", "beta", self.beta, low=0.0, high=1.0,
                               low_closed=True),
             nesterov=flag("momentum", "nesterov", self.nesterov),
             restart=flag("momentum", "restart", self.restart))

    def __repr__(self) -> str:
        # restart shows only when off, so the repr of a default momentum (and
        # the configuration saved in checkpoints before restart existed) is
        # unchanged.
        tail = "" if self.restart else ", restart=False"
        return f"Momentum(beta={self.beta!r}, nesterov={self.nesterov!r}{tail})"

    def init(self, v: FloatArray) -> MomentumState:
        return MomentumState(np.zeros_like(v))

    def compiled_form(self) -> CompiledForm:
        """For a compiled path: β, and 1.0 for Nesterov's look-ahead (else 0.0)."""
        return CompiledForm("momentum", (self.beta, 1.0 if self.nesterov else 0.0))

    def update(self, d: FloatArray, state: MomentumState,
               v: FloatArray, ctx: StepContext) -> MomentumState:
        m = state.velocity
        m *= self.beta
        m += d
        g = ctx.grad
        if self.restart and ctx.batch is None and g is not None and self._uphill(g, d, m):
            m[...] = d  # velocity 0, then + d
        if self.nesterov:
            w = ctx.work(v)
            np.multiply(m, self.beta, out=w)
            d += w
        else:
            d[...] = m
        return state

    def _uphill(self, g: FloatArray, d: FloatArray, m: FloatArray) -> bool:
        """Whether the direction this step would pass on has ∇C·d ≥ 0 (and is
        not zero): m for the heavy ball, d + β·m for Nesterov."""
        gm = float(np.dot(g, m))
        slope = float(np.dot(g, d)) + self.beta * gm if self.nesterov else gm
        return slope >= 0.0 and bool(m.any())


@dataclass(frozen=True)
class Clip:
    """Clip by global norm: d ← d·min(1, max_norm/‖d‖).

    Bounds the length of the direction (a step size η then moves at most
    η·max_norm), which tames the rare huge gradient without changing the
    direction.

    Parameters
    ----------
    max_norm : float, default 1.0
        The largest ‖d‖ passed on, > 0.
    """

    max_norm: float = 1.0

    def __post_init__(self) -> None:
        _set(self, max_norm=number("clip", "max_norm", self.max_norm, low=0.0))

    def init(self, v: FloatArray) -> PartState:
        return ()

    def update(self, d: FloatArray, state: PartState, v: FloatArray,
               ctx: StepContext) -> PartState:
        norm = math.sqrt(float(np.dot(d, d)))
        if norm > self.max_norm:
            d *= self.max_norm / norm
        return state


@dataclass(frozen=True)
class WeightDecay:
    """Weight decay: d ← d − λ·v, the step of the L2 penalty (λ/2)‖v‖².

    Chapter 3 of the book adds (λ/2n)Σw² to the cost ("L2 regularization"),
    whose gradient step shrinks the weights: w → (1 − ηλ/n)w − η∇C. Here λ is
    the book's λ/n, and every parameter decays (biases too).

    Parameters
    ----------
    lam : float, default 1e-4
        λ >= 0.
    """

    lam: float = 1e-4

    def __post_init__(self) -> None:
        _set(self, lam=number("weight-decay", "lam", self.lam, low=0.0, low_closed=True))

    def init(self, v: FloatArray) -> PartState:
        return ()

    def update(self, d: FloatArray, state: PartState, v: FloatArray,
               ctx: StepContext) -> PartState:
        w = ctx.work(v)
        np.multiply(v, self.lam, out=w)
        d -= w
        return state


class LBFGSState(NamedTuple):
    s: FloatArray  # (k, m): the steps s_i = v_{i+1} − v_i, a ring buffer
    y: FloatArray  # (k, m): the gradient changes y_i = ∇C_{i+1} − ∇C_i
    rho: FloatArray  # (k,): 1 / (y_i·s_i)
    pairs: int  # pairs stored, 0..k
    head: int  # the slot of the newest pair
    started: int  # 1 once prev_v / prev_grad hold the previous point
    prev_v: FloatArray
    prev_grad: FloatArray
    incoming: FloatArray  # the direction this step received (for a restart)


@dataclass(frozen=True)
class LBFGS:
    """Limited-memory BFGS: d ← −H∇C, with H the inverse-Hessian estimate of
    the last k steps (curvature without m² numbers).

    Newton's step solves ∇²C·Δv = −∇C, which needs the m² second
    derivatives the seed rules out. BFGS builds an estimate H of (∇²C)⁻¹
    from how the gradient changed along the steps taken,

        s_i = v_{i+1} − v_i,   y_i = ∇C(v_{i+1}) − ∇C(v_i),   y_i ≈ ∇²C·s_i,

    and L-BFGS keeps only the last k pairs, 2k·m numbers, applying H to the
    incoming direction by the two-loop recursion (Nocedal and Wright,
    Algorithm 7.4) with H₀ = γI, γ = s·y / y·y of the newest pair. In a chain
    the incoming direction is d = −∇C (eq. 10), so d ← −H∇C; with no pairs
    yet (the first step, a restart) d passes unchanged.

    The pairs sit in fixed-size (k, m) arrays of the explicit state, written
    as a ring, so a checkpoint saves them and a resumed run continues bit
    for bit. A pair with s·y ≤ 0 (C not convex along s: H would stop being
    positive definite) is skipped. If the result is not a descent direction
    (∇C·d ≥ 0, which rounding can cause), the memory is cleared and d is
    passed unchanged: a clean restart.

    Pair it with a step size that tries η = 1 and accepts points meeting the
    curvature condition, ``wolfe``: its accepted steps have s·y > 0, so no
    pair is lost. Full batch only: s and y compare gradients of different
    mini-batches otherwise, so a mini-batch run is refused.

    Parameters
    ----------
    memory : int, default 10
        k, the number of (s, y) pairs kept (≥ 1).

    References
    ----------
    J. Nocedal, "Updating quasi-Newton matrices with limited storage", Math.
    Comp. 35 (1980). D. C. Liu and J. Nocedal, "On the limited memory BFGS
    method for large scale optimization", Math. Program. 45 (1989).
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., sec. 7.2.
    """

    memory: int = 10

    def __post_init__(self) -> None:
        _set(self, memory=integer("lbfgs", "memory", self.memory, minimum=1))

    def init(self, v: FloatArray) -> LBFGSState:
        k = self.memory
        return LBFGSState(np.zeros((k, v.size), dtype=v.dtype),
                          np.zeros((k, v.size), dtype=v.dtype), np.zeros(k), 0, k - 1, 0,
                          np.zeros_like(v), np.zeros_like(v), np.zeros_like(v))

    def update(self, d: FloatArray, state: LBFGSState, v: FloatArray,
               ctx: StepContext) -> LBFGSState:
        if ctx.batch is not None:
            raise ConfigError(
                "lbfgs is for full-batch gradient descent: its curvature pairs (s, y) "
                "compare the gradients of two successive steps, which in mini-batch mode "
                "come from different mini-batches (y is then noise, not curvature). Use "
                "momentum or a schedule for mini-batches; lbfgs for full-batch runs "
                "(gdkit.minimize without batch_size, or gdkit minimize).")
        g = ctx.grad
        if g is None:
            raise ConfigError("lbfgs: ctx.grad is not set; use it inside gdkit.chain(...), "
                              "which provides ∇C.")
        count, head = state.pairs, state.head
        if state.started:
            count, head = self._push(v, g, state, count, head)
        state.prev_v[...] = v
        state.prev_grad[...] = g
        if count:
            state.incoming[...] = d
            self._two_loop(d, state, count, head, ctx.work(v))
            slope = float(np.dot(g, d))
            if not (slope < 0.0 and math.isfinite(slope)) and state.incoming.any():
                d[...] = state.incoming  # a clean restart: no pairs, H = I
                count, head = 0, self.memory - 1
        return state._replace(pairs=count, head=head, started=1)

    def _push(self, v: FloatArray, g: FloatArray, state: LBFGSState, count: int,
              head: int) -> tuple[int, int]:
        """Store the pair of the last step (unless s·y ≤ 0); the new (count, head)."""
        slot = (head + 1) % self.memory
        s, y = state.s[slot], state.y[slot]
        np.subtract(v, state.prev_v, out=s)
        np.subtract(g, state.prev_grad, out=y)
        sy = float(np.dot(s, y))
        if not (sy > 0.0 and math.isfinite(sy)):
            return count, head  # skipped; the slot is overwritten by the next pair
        state.rho[slot] = 1.0 / sy
        return min(count + 1, self.memory), slot

    def _two_loop(self, d: FloatArray, state: LBFGSState, count: int, head: int,
                  w: FloatArray) -> None:
        """d ← H·d by the two-loop recursion over the ``count`` newest pairs."""
        k = self.memory
        alpha = [0.0] * count
        order = [(head - j) % k for j in range(count)]  # newest first
        for j, i in enumerate(order):
            a = state.rho[i] * float(np.dot(state.s[i], d))
            alpha[j] = a
            np.multiply(state.y[i], a, out=w)
            d -= w
        yn = state.y[head]
        d *= 1.0 / (state.rho[head] * float(np.dot(yn, yn)))  # γ = s·y / y·y
        for j in range(count - 1, -1, -1):
            i = order[j]
            b = state.rho[i] * float(np.dot(state.y[i], d))
            np.multiply(state.s[i], alpha[j] - b, out=w)
            d += w


@gdkit.hookimpl
def gdkit_transforms() -> dict[str, Any]:
    return {"momentum": Momentum, "clip": Clip, "weight-decay": WeightDecay,
            "lbfgs": LBFGS}
