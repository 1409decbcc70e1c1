"""RMSprop: a transform that scales the direction per coordinate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gdkit.errors import ConfigError
from gdkit.protocols import FloatArray, StepContext
from gdkit.validate import number


class RMSpropState(NamedTuple):
    """The state of :class:`RMSprop` for one run."""

    s: FloatArray  # the running mean of ∇C², one entry per parameter


@dataclass(frozen=True)
class RMSprop:
    """RMSprop: divide each coordinate of d by a running RMS of its gradient.

    With g = ∇C (``ctx.grad``) each step updates a running mean of the squared
    gradient and rescales the direction coordinate by coordinate::

        s ← ρ·s + (1 − ρ)·g²
        d ← d / (√s + ε)

    Steep coordinates (large |g|) get short steps and shallow ones long steps,
    so one η suits parameters whose gradients differ in scale by orders of
    magnitude. Put a step size after it: ``"rmsprop,fixed"``. Each coordinate
    keeps the sign of d, so a d that descends still descends (∇C·d <= 0).

    Parameters
    ----------
    rho : float, default 0.9
        The decay ρ of the running mean, 0 <= ρ < 1 (0: the last gradient
        only, making the first steps close to sign descent).
    eps : float, default 1e-8
        ε > 0, which keeps the division finite where s = 0.

    Notes
    -----
    The state is :class:`RMSpropState`, the array s, zeros of v's shape and
    dtype made by :meth:`init`; a checkpoint saves it and a resumed run takes
    the same steps. :meth:`update` allocates nothing: it computes into s, d
    and the context's scratch array ``ctx.work(v)``.

    References
    ----------
    T. Tieleman and G. Hinton, "Lecture 6.5 - rmsprop: Divide the gradient by
    a running average of its recent magnitude", COURSERA: Neural Networks for
    Machine Learning, 2012.
    """

    rho: float = 0.9
    eps: float = 1e-8

    def __post_init__(self) -> None:
        # The instance is frozen: store the validated (float) values through object.
        object.__setattr__(self, "rho", number("rmsprop", "rho", self.rho, low=0.0, high=1.0,
                                               low_closed=True))
        object.__setattr__(self, "eps", number("rmsprop", "eps", self.eps, low=0.0))

    def init(self, v: FloatArray) -> RMSpropState:
        """A fresh state for a run starting at ``v``: s = 0."""
        return RMSpropState(np.zeros_like(v))

    def update(self, d: FloatArray, state: RMSpropState, v: FloatArray,
               ctx: StepContext) -> RMSpropState:
        """Update s from g = ``ctx.grad`` and rewrite ``d`` in place."""
        g = ctx.grad
        if g is None:
            raise ConfigError("rmsprop: ctx.grad is not set; use this transform inside "
                              "gdkit.chain(...), which provides ∇C.")
        s, w = state.s, ctx.work(v)
        np.multiply(g, g, out=w)  # w = g²
        w *= 1.0 - self.rho
        s *= self.rho
        s += w  # s = ρ·s + (1 − ρ)·g²
        np.sqrt(s, out=w)
        w += self.eps
        d /= w  # d = d / (√s + ε)
        return state
