"""What a mini-batch step's line search reuses of the step's gradient call
(:class:`~gdkit.protocols.ReusesPass`): C(v) from the gradient's own forward
pass, the inputs it gathered, and C(v + ηd) along a line from the first
layer's weighted inputs at v and along d, without forming v + ηd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, final

import numpy as np

from gdkit.protocols import Batch, FloatArray

from .backprop import Backprop, _Views, _Work

__all__ = ["ReusedPass"]


@final
class _Line:
    """A line search's buffers for ``rows`` inputs: z¹ at v and along d (P¹),
    a trial's z¹, and the parameters of the layers after the first at the
    trial. Its own: a gradient at a trial point (Hager-Zhang's test) rewrites
    the work buffers, not these."""

    __slots__ = ("biases", "gram", "p0", "rest", "weights_t", "z", "z0")

    def __init__(self, rows: int, layout: list[tuple[int, int, int, tuple[int, int]]],
                 dtype: np.dtype[Any]) -> None:
        cut = layout[0][2]
        self.p0 = np.empty((rows, layout[0][3][0]), dtype)
        self.z = np.empty_like(self.p0)
        self.z0 = np.empty_like(self.p0)
        self.gram = np.empty((rows, rows), dtype)
        self.rest = rest = np.empty(layout[-1][2] - cut, dtype)
        self.weights_t = [rest[a - cut:b - cut].reshape(shape).T for a, b, _, shape in layout[1:]]
        self.biases = [rest[b - cut:c - cut] for _, b, c, _ in layout[1:]]


class ReusedPass(Backprop):
    """The costs a mini-batch step asks for, from the work of its gradient call.

    Each method answers only when the last call of :meth:`gradient` was on
    this very ``batch`` array (and ``v``, for the cost at the gradient's
    point) and the buffers it filled are still as it left them; otherwise it
    returns None and the caller falls back to :meth:`cost`. A subclass that
    changes :meth:`cost` or :meth:`gradient` gets None throughout.
    """

    def _held_for(self, batch: Batch
                  ) -> tuple[Batch, _Views, _Work, int, int, bool, FloatArray] | None:
        held = self._held
        if held is None or held[0] is not batch or held[3] != self._gathers:
            return None
        cls = type(self)
        if cls.cost is not Backprop.cost or cls.gradient is not Backprop.gradient:
            return None
        work = held[2]
        if work.x is None or work.y is None or self._work.get(len(batch)) is not work:
            return None
        return held

    def cost_at_gradient(self, v: FloatArray, batch: Batch) -> float | None:
        """C(v) on ``batch`` from the last gradient call's own forward pass (the
        same pass over the same buffers as :meth:`cost`: the same bits), when
        that call was ``gradient(v, batch, ...)`` and no pass has run since."""
        held = self._held_for(batch)
        if held is None or held[1].array is not v or held[4] != self._passes:
            return None
        work = held[2]
        assert work.y is not None
        return self.cost_part.cost(work.a[-1], work.y)

    def cost_on_batch(self, w: FloatArray, batch: Batch) -> float | None:
        """C(w) on ``batch`` with the inputs the last gradient call gathered for
        it (what :meth:`cost` computes, without gathering them again)."""
        held = self._held_for(batch)
        if held is None:
            return None
        work = held[2]
        assert work.x is not None and work.y is not None
        pv = self._views(w, self._param_views, "w")
        return self.cost_part.cost(self._forward(pv, work.x), work.y)

    def line_cost(self, v: FloatArray, d: FloatArray, batch: Batch
                  ) -> Callable[[float], float] | None:
        """η ↦ C(v + ηd) on ``batch``, or None (as :meth:`cost_on_batch`).

        The first layer's weighted inputs are linear in η, z¹(η) = z¹(v) +
        η·(X (d_w¹)ᵀ + d_b¹), so a trial costs one small product per later
        layer and never forms v + ηd. z¹(v) is the gradient's own (kept from
        the next step on); when ``d`` is that gradient's own array (steepest
        descent, along ±∇C), X (d_w¹)ᵀ = X Xᵀ Δ¹ (BP4: ∇_w¹C = (Δ¹)ᵀ X), a
        B × B Gram matrix instead of the product with the m-sized layer. The
        values agree with ``cost(v + ηd, batch)`` to rounding (a different
        order of the same sums), not bit for bit.
        ``v`` and ``d`` must not change while the function is in use.
        """
        held = self._held_for(batch)
        if held is None or held[1].array is not v or len(self.sizes) < 3:
            return None
        pv, work = held[1], held[2]
        x, y = work.x, work.y
        assert x is not None and y is not None
        rows, k1 = x.shape[0], self.sizes[1]
        line = work.line
        if line is None:
            line = work.line = _Line(rows, self._layout, self.dtype)
        z0 = line.z0
        if held[5]:  # z¹(v), kept by this gradient call
            assert work.z0 is not None
            np.copyto(z0, work.z0)
        else:  # computed, and kept by the gradient calls from now on
            np.matmul(x, pv.weights_t[0], out=z0)
            z0 += pv.biases[0]
            if work.z0 is None:
                work.z0 = np.empty((rows, k1), self.dtype)
            self._keep_z0 = True
        dv = self._views(d, self._grad_views, "d")
        if d is held[6]:  # d = ∇C here: X (∇_w¹C)ᵀ = X Xᵀ Δ¹, the Gram matrix's product
            gram = line.gram
            np.matmul(x, x.T, out=gram)
            np.matmul(gram, work.d[0], out=line.p0)
        else:
            np.matmul(x, dv.weights_t[0], out=line.p0)
        line.p0 += dv.biases[0]
        return self._along(v, d, line, work)

    def _along(self, v: FloatArray, d: FloatArray, line: _Line,
               work: _Work) -> Callable[[float], float]:
        """The function of η :meth:`line_cost` returns."""
        cut = self._layout[0][2]
        v_rest, d_rest, rest, p0, z, z0 = v[cut:], d[cut:], line.rest, line.p0, line.z, line.z0
        wts, bs = line.weights_t, line.biases
        acts, y, expit, cost_part = work.a, work.y, self._expit, self.cost_part
        assert y is not None
        last = len(acts) - 1

        def cost(eta: float) -> float:
            self._passes += 1  # the activations are this trial's now
            np.multiply(p0, eta, out=z)
            np.add(z, z0, out=z)
            a = expit(z, out=z)
            np.multiply(d_rest, eta, out=rest)
            np.add(rest, v_rest, out=rest)
            for layer in range(1, last + 1):
                out = acts[layer]
                np.matmul(a, wts[layer - 1], out=out)
                out += bs[layer - 1]
                if layer < last:
                    expit(out, out=out)
                else:
                    cost_part.activate(out)
                a = out
            return cost_part.cost(a, y)

        return cost
