"""The step context: what a step rule may use beyond v and ∇C (the cost on the
current batch, the gradient at a trial point, the step count), made once per run
and updated in place per step. Re-exported by :mod:`gdkit.protocols`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .protocols import Batch, FloatArray, ReusesPass

__all__ = ["StepContext"]


class StepContext:
    """What a step rule may use beyond v and ∇C: the cost on the current batch,
    and the gradient at a trial point.

    One context is made per run and updated in place per step (no allocation
    on the hot path).

    Parameters
    ----------
    cost_fn : callable
        ``cost_fn(w, batch) -> float``: C at ``w`` on ``batch``.
    v : ndarray
        The run's parameters (read by :attr:`fun`).
    gradient : callable, optional
        ``gradient(w, batch, out) -> ndarray``: ∇C at ``w`` on ``batch``
        (written into ``out`` when given). Without it
        :meth:`gradient_at` raises :class:`~gdkit.errors.ConfigError` and
        :attr:`has_gradient` is False.
    reuse : ReusesPass, optional
        An objective whose mini-batch gradient call's work the step's costs
        reuse (:class:`~gdkit.protocols.ReusesPass`): :attr:`fun` read from
        that call's forward pass (still counted in :attr:`nfev`, as a
        full-batch step's value-and-gradient call counts C), and :meth:`cost`
        on the inputs it gathered. The values are the same bit for bit; only
        their price changes. :meth:`cost_along` asks it for C along a line.

    Attributes
    ----------
    iteration : int
        The number of steps taken before this one (over the whole run,
        resumes included): the step count a schedule reads.
    epoch : int
        The number of complete epochs before this step (0 in full-batch mode).
    batch : ndarray or None
        The mini-batch the gradient was computed on (None: full batch).
    grad : ndarray or None
        ∇C at the current point (set by :func:`gdkit.chain` for its parts).
    nfev : int
        Cost evaluations made through :meth:`cost` so far.
    ngev : int
        Gradient evaluations made through :meth:`gradient_at` so far.
    """

    __slots__ = ("_at_gradient", "_cost_fn", "_fun", "_gbuf", "_gradient_fn", "_line",
                 "_offer", "_on_batch", "_v", "_work", "batch", "epoch", "grad", "iteration",
                 "nfev", "ngev")

    def __init__(
        self, cost_fn: Callable[[FloatArray, Batch | None], float], v: FloatArray,
        gradient: Callable[[FloatArray, Batch | None, FloatArray | None], FloatArray]
        | None = None, *, reuse: ReusesPass | None = None,
    ) -> None:
        self._cost_fn = cost_fn
        self._at_gradient = None if reuse is None else reuse.cost_at_gradient
        self._on_batch = None if reuse is None else reuse.cost_on_batch
        self._line = None if reuse is None else reuse.line_cost
        self._gradient_fn = gradient
        self._v = v
        self._fun: float | None = None
        self._work: FloatArray | None = None
        self._gbuf: FloatArray | None = None
        self._offer: tuple[float, FloatArray] | None = None
        self.batch: Batch | None = None
        self.grad: FloatArray | None = None
        self.iteration = 0
        self.epoch = 0
        self.nfev = 0
        self.ngev = 0

    def begin(self, iteration: int, batch: Batch | None = None, fun: float | None = None,
              *, epoch: int = 0) -> None:
        """Start a step: the loop calls this before each ``step`` (``fun`` is
        C(v) on ``batch`` when the caller already knows it, else None)."""
        self.iteration = iteration
        self.epoch = epoch
        self.batch = batch
        self._fun = fun
        self._offer = None

    def offer(self, fun: float, grad: FloatArray) -> None:
        """Hand the loop C and ∇C at the point this step moved v to, exactly
        (a line search that evaluated both at the trial it accepted), so the
        loop does not compute them again. ``grad`` is read before the next
        gradient evaluation; only a full-batch step's offer is used."""
        self._offer = (fun, grad)

    def take_offer(self) -> tuple[float, FloatArray] | None:
        """What :meth:`offer` handed over this step (once), or None."""
        offer, self._offer = self._offer, None
        return offer

    def cost(self, v: FloatArray) -> float:
        """C at ``v`` on the current batch (each call is one cost evaluation)."""
        self.nfev += 1
        batch, on_batch = self.batch, self._on_batch
        if on_batch is not None and batch is not None:
            f = on_batch(v, batch)
            if f is not None:
                return f
        return self._cost_fn(v, batch)

    def cost_along(self, d: FloatArray) -> Callable[[float], float]:
        """η ↦ C(v + ηd) on the current batch, from the current point v along
        ``d``: a line search's trials (each call is one cost evaluation).

        By default each call forms v + ηd in :meth:`work` and calls
        :meth:`cost`. On a mini-batch of an objective that offers it
        (``line_cost`` of :class:`~gdkit.protocols.ReusesPass`) the
        objective computes it along the line without forming the point, to
        rounding of :meth:`cost`'s value. Neither v nor ``d`` may change
        while the function is in use; form the point you accept yourself.
        """
        batch, line_fn = self.batch, self._line
        line = None if line_fn is None or batch is None else line_fn(self._v, d, batch)
        if line is None:
            v, trial, cost = self._v, self.work(self._v), self.cost

            def along(eta: float) -> float:
                np.multiply(d, eta, out=trial)
                np.add(trial, v, out=trial)
                return cost(trial)

            return along
        inner = line

        def counted(eta: float) -> float:
            self.nfev += 1
            return inner(eta)

        return counted

    @property
    def has_gradient(self) -> bool:
        """Whether :meth:`gradient_at` can be called."""
        return self._gradient_fn is not None

    def gradient_at(self, w: FloatArray, out: FloatArray | None = None) -> FloatArray:
        """∇C at ``w`` on the current batch (each call is one gradient evaluation).

        Written into ``out`` when given, else into a buffer of the context
        reused from call to call (copy it to keep it past the next call).
        A line search uses it for the slope ∇C(v + ηd)·d at a trial point.

        Raises
        ------
        ConfigError
            The context was made without a ``gradient`` callable.
        """
        fn = self._gradient_fn
        if fn is None:
            from .errors import ConfigError
            raise ConfigError("this step context has no gradient at trial points: make it "
                              "with StepContext(cost_fn, v, gradient=...) (gdkit.minimize "
                              "does).")
        if out is None:
            buf = self._gbuf
            if buf is None or buf.shape != w.shape or buf.dtype != w.dtype:
                buf = self._gbuf = np.empty_like(w)
            out = buf
        self.ngev += 1
        return fn(w, self.batch, out)

    @property
    def fun(self) -> float:
        """C at the current point, on the current batch, computed at most once
        per step. Read it before moving v."""
        f = self._fun
        if f is None:
            at, batch = self._at_gradient, self.batch
            if at is not None and batch is not None:
                f = at(self._v, batch)
            if f is None:
                f = self.cost(self._v)
            else:
                self.nfev += 1
            self._fun = f
        return f

    def work(self, v: FloatArray) -> FloatArray:
        """A scratch array of ``v``'s shape and dtype, reused from step to step
        (its contents are undefined): the trial point of a line search, or η·d."""
        w = self._work
        if w is None or w.shape != v.shape or w.dtype != v.dtype:
            w = self._work = np.empty_like(v)
        return w
