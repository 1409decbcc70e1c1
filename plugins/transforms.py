"""Transforms: reshape the direction d before a step size moves v along it.

In a :func:`gdkit.chain` the direction starts as d = −∇C (eq. 10); each
transform rewrites it in place, in order:

- ``momentum``: the seed's ball that "has momentum" (heavy ball, or
  Nesterov's look-ahead variant);
- ``clip``: rescale d to a global norm of at most ``max_norm``;
- ``weight-decay``: add −λv, the gradient step of the penalty (λ/2)‖v‖².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

import gdkit
from gdkit.protocols import CompiledForm, FloatArray, PartState, StepContext
from gdkit.validate import flag, number

__all__ = ["Clip", "Momentum", "WeightDecay"]


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

    Parameters
    ----------
    beta : float, default 0.9
        The momentum coefficient, 0 <= β < 1.
    nesterov : bool, default False

    References
    ----------
    B. T. Polyak, "Some methods of speeding up the convergence of iteration
    methods", USSR Comput. Math. Math. Phys. 4 (1964). I. Sutskever et al.,
    "On the importance of initialization and momentum in deep learning",
    ICML 2013.
    """

    beta: float = 0.9
    nesterov: bool = False

    def __post_init__(self) -> None:
        _set(self, beta=number("momentum", "beta", self.beta, low=0.0, high=1.0,
                               low_closed=True),
             nesterov=flag("momentum", "nesterov", self.nesterov))

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
        if self.nesterov:
            w = ctx.work(v)
            np.multiply(m, self.beta, out=w)
            d += w
        else:
            d[...] = m
        return state


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


@gdkit.hookimpl
def gdkit_transforms() -> dict[str, Any]:
    return {"momentum": Momentum, "clip": Clip, "weight-decay": WeightDecay}
