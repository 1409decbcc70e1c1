"""``fixed`` (η a number or a schedule) and ``normalized`` (η = ε/‖d‖)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdkit.protocols import FloatArray, PartState, StepContext
from gdkit.validate import number

from ..fast.forms import CompiledForm
from ..schedules import parse_schedule
from ._search import _set


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
