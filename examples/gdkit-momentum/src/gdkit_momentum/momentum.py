"""Heavy-ball momentum: a step rule with state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gdkit.errors import ConfigError
from gdkit.protocols import FloatArray, StepContext


class Momentum:
    """Heavy-ball momentum (Polyak, 1964): gradient descent with a velocity.

    Each step updates a velocity u and moves v by it::

        u ← β u − η ∇C(v)
        v ← v + u

    which is v_{k+1} = v_k − η∇C(v_k) + β (v_k − v_{k−1}): the plain step of
    eq. (15) plus β times the previous move. The first step of a run (u = 0)
    is exactly the plain step −η∇C, so it descends for small η (eq. 9); later
    steps need not lower C every time, but move faster along shallow valleys
    and damp the zig-zag across steep ones.

    Parameters
    ----------
    eta : float, default 0.1
        The learning rate η > 0.
    beta : float, default 0.9
        The momentum 0 <= β < 1 (0: plain gradient descent).

    Notes
    -----
    The velocity is the rule's state: :meth:`get_state` returns a copy of it,
    :meth:`set_state` restores it and :meth:`reset` forgets it, so a
    checkpoint can resume a run exactly (:class:`gdkit.protocols.Stateful`).
    Every step works in place on buffers of v's shape and dtype (float32 or
    float64) allocated on the first step.
    """

    __slots__ = ("_buf", "_velocity", "beta", "eta")

    def __init__(self, eta: float = 0.1, beta: float = 0.9) -> None:
        self.eta = _number("eta", eta)
        if not self.eta > 0:
            raise ConfigError(f"momentum: eta must be a number > 0, got {eta!r}.")
        self.beta = _number("beta", beta)
        if not 0 <= self.beta < 1:
            raise ConfigError(f"momentum: beta must be a number in [0, 1), got {beta!r}.")
        self._velocity: FloatArray | None = None
        self._buf: FloatArray | None = None

    def __repr__(self) -> str:
        return f"Momentum(eta={self.eta!r}, beta={self.beta!r})"

    # -- gdkit.protocols.Stateful ------------------------------------------
    def reset(self) -> None:
        """Start a fresh run: forget the velocity."""
        self._velocity = None

    def get_state(self) -> dict[str, Any]:
        """The velocity (a copy), or nothing before the first step."""
        return {} if self._velocity is None else {"velocity": self._velocity.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state :meth:`get_state` returned."""
        velocity = state.get("velocity")
        self._velocity = None if velocity is None else np.array(velocity, dtype=float)

    # -- gdkit.protocols.StepRule -------------------------------------------
    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        """Move v in place by the new velocity; return η."""
        u = self._velocity
        if u is None or u.shape != v.shape:
            u = np.zeros_like(v)
        elif u.dtype != v.dtype:
            u = u.astype(v.dtype)
        buf = self._buf
        if buf is None or buf.shape != v.shape or buf.dtype != v.dtype:
            buf = self._buf = np.empty_like(v)
        u *= self.beta
        np.multiply(grad, self.eta, out=buf)
        u -= buf
        v += u
        self._velocity = u
        return self.eta


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"momentum: {name} must be a number, got {value!r}.")
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(f"momentum: {name} must be finite, got {value!r}.")
    return x
