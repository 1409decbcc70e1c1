"""The traced adapter: the network's cost written with an array namespace
(``autograd.numpy``, ``jax.numpy``) for an autodiff gradient source."""

from __future__ import annotations

from typing import Any

from gdkit.errors import ConfigError
from gdkit.protocols import Batch, FloatArray

from .backprop import Backprop

__all__ = ["Traced"]


class Traced(Backprop):
    """``traced_cost``, ``batch_data`` and ``traced_cost_on`` (the
    :class:`~gdkit.protocols.Traceable` and :class:`~gdkit.protocols.TracesData`
    capabilities)."""

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        """C written with the array namespace ``xp`` (``autograd.numpy``,
        ``jax.numpy``) for an autodiff gradient source: the same network and
        cost, σ(z) as (1 + tanh(z/2))/2 and the cross-entropy and log-likelihood
        from z (softplus, log-sum-exp), so nothing overflows."""
        return self.traced_cost_on(xp, v, self.batch_data(batch))

    def batch_data(self, batch: Batch | None = None) -> tuple[FloatArray, FloatArray]:
        """The inputs and targets ``batch`` selects (all when None); a
        mini-batch's are the network's work buffers, overwritten by the next."""
        self._local_only()
        return (self.inputs, self.targets) if batch is None else self._gather(batch)

    def traced_cost_on(self, xp: Any, v: Any, data: tuple[Any, ...]) -> Any:
        """C on ``data = (inputs, targets)`` with the namespace ``xp`` (see
        :meth:`traced_cost`)."""
        traced = self._traced_form()
        x, y = data
        a: Any = x
        last = len(self._layout) - 1
        for layer, (s, e, end, shape) in enumerate(self._layout):
            z = xp.dot(a, xp.reshape(v[s:e], shape).T) + v[e:end]
            if layer == last:
                return traced(xp, z, y)
            a = 0.5 * (xp.tanh(0.5 * z) + 1.0)
        raise AssertionError("a network has at least one layer")  # pragma: no cover

    def _traced_form(self) -> Any:
        traced = getattr(self.cost_part, "traced", None)
        if traced is None:
            raise ConfigError(f"network: the cost {self.cost_part!r} has no traced form "
                              "(traced(xp, z, y)), so an autodiff gradient source cannot "
                              "differentiate it; use the analytic gradient (the cost's delta) "
                              "or one of the built-in costs.")
        return traced
