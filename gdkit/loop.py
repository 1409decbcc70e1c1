"""The one loop: a run advances its :class:`~gdkit.state.RunState` epoch by epoch.

Full-batch gradient descent and mini-batch SGD (eq. 10-20) differ only in
what an epoch is: one step on all the training inputs, or one pass over a
fresh permutation of them in mini-batches. :func:`run` is the loop both share:
it asks the mode for an epoch's steps, records the epoch, tells the
observers, saves a checkpoint when one is due, and turns a signal into a
saved stop. Stop, divergence, save and interrupt logic exist here once.

A mini-batch epoch is run in spans of about 1% of it, by one of two span
runners behind one seam: the numpy runner below, or a compiled runner that
an objective's plugin offers (:mod:`gdkit.compiled`). Signals, ``max_iter``
and progress are seen between spans; divergence at the step it happens.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .checked import as_eta, checked_gradient, first_cost, measured
from .errors import DivergenceError, PrecisionLost, StepError
from .protocols import (
    Batch,
    CompiledSteps,
    Evaluates,
    FloatArray,
    GradientSource,
    Objective,
    PureStepRule,
    StepContext,
)
from .result import (
    CONVERGED,
    EPOCHS_DONE,
    MAX_ITER,
    PRECISION_LOST,
    STEP_FAILED,
    STOPPED,
    History,
    Result,
    honest,
)
from .resume import RunControl
from .state import OwnState, RunState

__all__ = ["FullBatch", "MiniBatch", "Parts", "Stop", "run"]


class Stop(NamedTuple):
    """Why a run ended: a :class:`~gdkit.result.Result` status and message."""

    status: int
    message: str


@dataclass(slots=True)
class Parts:
    """What a run computes with, resolved and checked once."""

    obj: Objective
    src: GradientSource
    rule: PureStepRule
    cost: Callable[..., float]  # C(v, batch): the objective's, or the source's
    ctx: StepContext
    g: FloatArray  # the gradient buffer


Notify = Callable[[RunState, dict[str, float], float], "str | None"]
"""Tell the observers an epoch ended: (state, record, C) -> who stopped the run, or None."""


def run(mode: FullBatch | MiniBatch, state: RunState, control: RunControl,
        notify: Notify) -> Result:
    """Advance ``state`` epoch by epoch until ``mode`` or an observer stops it.

    After each epoch the record is made, the observers are told (they may
    stop the run), a checkpoint is saved if one is due, and then a pending
    SIGINT/SIGTERM raises :class:`~gdkit.errors.Interrupted`: so every
    completed epoch is recorded, observed and saved exactly once, wherever
    the signal lands. An observer that raises still leaves the epoch saved.
    A signal in the middle of an epoch saves the position
    reached and raises at once (the resumed run finishes that epoch).
    """
    stop = mode.begin(state)
    while stop is None:
        stop = mode.due(state)
        if stop is not None:
            break
        stop, ended = mode.advance(state, control)
        if not ended:
            break
        record = mode.end(state)
        try:
            told = notify(state, record, mode.fun)
        except BaseException:  # an observer failed: the epoch's work is kept all the same
            if control.saving:
                control.save(state, mode.name, rows=mode.saved_rows(state))
            raise
        if control.saving and mode.save_due(state, control.every, control.requested):
            control.save(state, mode.name, rows=mode.saved_rows(state))
        if control.requested:
            raise control.interrupted(epoch=state.epoch, iteration=state.iteration,
                                      where=mode.where(state))
        if stop is None and told:
            stop = Stop(STOPPED, f"stopped by {told} {mode.where(state, stopped=True)}")
    if control.saving and mode.final_save_due(state, control.every):
        control.save(state, mode.name, rows=mode.saved_rows(state))
    return mode.result(state, stop)


# -- shared checks ----------------------------------------------------------------
def diverged(what: str, value: float, it: int, last: float | None,
             start: bool = False) -> DivergenceError:
    """C or ∇C became NaN or infinite: the error, with η advice (none when it
    is so at the ``start``, before any step: no η is to blame)."""
    last_txt = "none" if last is None else f"{last:.6g}"
    if start:
        return DivergenceError(
            f"the {what} is {value} at the starting point, before any step: the objective "
            "is not finite there. Start elsewhere (v0) or fix the objective.",
            iteration=it, last_finite_cost=None)
    head = (f"the {what} became {value} at iteration {it} (last finite cost: {last_txt}). "
            "The steps are too large for this objective: ")
    return DivergenceError(
        head + "try a smaller η (gdkit.step_rule('fixed', eta=...)) or an adaptive step size "
        "such as 'armijo'.", iteration=it, last_finite_cost=last, setting="eta", what=head)


FROZEN_STEPS = 100
"""Full batch: a run whose v has not changed in this many steps in a row ends
(status PRECISION_LOST) instead of spending its remaining iterations."""


def failed(exc: StepError, it: int) -> Stop:
    """How a step rule's refusal ends the run: precision lost, or the rule failed."""
    if isinstance(exc, PrecisionLost):
        return Stop(PRECISION_LOST, f"stopped at iteration {it}: {exc}")
    return Stop(STEP_FAILED, f"step rule failed at iteration {it}: {exc}")


# -- full batch: an epoch is one step on all the data ---------------------------------
class FullBatch:
    """Full-batch gradient descent: every step sees all the training inputs,
    so every step is an epoch (``ctx.epoch`` counts steps: a schedule in
    epochs moves every step). The history has a row per point v_0 .. v_nit."""

    name = "iteration"

    def __init__(self, parts: Parts, *, max_iter: int, gtol: float,
                 value_and_gradient: Callable[..., tuple[float, FloatArray]] | None) -> None:
        self.p, self.max_iter, self.gtol = parts, max_iter, gtol
        self.vg = value_and_gradient
        self.fun, self.gnorm, self.nfev, self.ngev = math.nan, math.nan, 0, 0
        self.g: FloatArray = parts.g
        self.last: float | None = None
        self.before = np.empty_like(parts.g)  # v before the step: did it move?
        self.frozen = 0  # steps in a row that left v unchanged

    def _point(self, state: RunState, f: float | None = None) -> None:
        """C and ∇C at v (or as the step's line search offered them): checked,
        and a history row."""
        p, v, h = self.p, state.v, state.history
        offered = p.ctx.take_offer()
        if offered is not None:  # evaluated at exactly this v by the step: not again
            f, g = offered[0], p.g
            np.copyto(g, offered[1])
        elif self.vg is None:
            f = p.cost(v) if f is None else f
            g = p.src.gradient(p.obj, v, None, p.g)
            self.nfev, self.ngev = self.nfev + 1, self.ngev + 1
        else:
            f, g = self.vg(p.obj, v, None, p.g)
            self.nfev, self.ngev = self.nfev + 1, self.ngev + 1
        start = self.last is None and not state.iteration
        if not math.isfinite(f):
            raise diverged("cost", f, state.iteration, self.last, start)
        self.last = self.fun = f
        if g is not p.g:
            g = checked_gradient(g, v, p.src)
        self.g = g
        self.gnorm = gnorm = math.sqrt(np.dot(g, g))
        if not math.isfinite(gnorm):
            raise diverged("gradient norm", gnorm, state.iteration, self.last, start)
        h["cost"].append(f)
        h["grad_norm"].append(gnorm)

    def begin(self, state: RunState) -> Stop | None:
        for key in ("cost", "grad_norm", "eta"):
            state.history.setdefault(key, [])
        f = first_cost(self.p.obj, state.v, self.p.cost) if self.vg is None else None
        self._point(state, f)
        state.start_cost = state.history["cost"][0]
        return None

    def due(self, state: RunState) -> Stop | None:
        if self.gnorm <= self.gtol:
            return Stop(CONVERGED, f"converged: ‖∇C‖ = {self.gnorm:.3g} <= gtol = {self.gtol:g}")
        if state.iteration >= self.max_iter:
            return Stop(MAX_ITER, f"stopped: max_iter = {self.max_iter} steps taken "
                                  f"(‖∇C‖ = {self.gnorm:.3g})")
        return None

    def advance(self, state: RunState, control: RunControl) -> tuple[Stop | None, bool]:
        p, it, v = self.p, state.iteration, state.v
        p.ctx.begin(it, None, self.fun, epoch=it)
        np.copyto(self.before, v)
        try:
            eta, state.rule_state = p.rule.update(v, self.g, state.rule_state, p.ctx)
        except StepError as exc:
            return failed(exc, it), False
        state.history["eta"].append(eta if type(eta) is float else as_eta(eta, p.rule))
        state.iteration = it + 1
        self.frozen = self.frozen + 1 if np.array_equal(self.before, v) else 0
        if self.frozen >= FROZEN_STEPS:
            return Stop(PRECISION_LOST, (
                f"precision lost: v has not changed in the last {self.frozen} steps "
                f"(‖∇C‖ = {self.gnorm:.3g}, η = {eta:.3g}): no step this rule takes moves it "
                "in this precision. Loosen gtol, or use a line search such as 'armijo'.")), True
        return None, True

    def end(self, state: RunState) -> dict[str, float]:
        self._point(state)
        h = state.history
        return {"cost": self.fun, "grad_norm": self.gnorm, "eta": h["eta"][-1]}

    @staticmethod
    def save_due(state: RunState, every: int, requested: int) -> bool:
        return state.iteration % every == 0 or bool(requested)

    @staticmethod
    def final_save_due(state: RunState, every: int) -> bool:
        return bool(state.iteration % every or state.iteration == 0)

    @staticmethod
    def saved_rows(state: RunState) -> int:
        """The rows of v_0 .. v_{it-1}: v_it's row is recomputed on resume."""
        return state.iteration

    @staticmethod
    def where(state: RunState, stopped: bool = False) -> str:
        """Where the run is, for a message (``stopped``: by an observer)."""
        return f"after {state.iteration} steps" if stopped else f"after step {state.iteration}"

    def result(self, state: RunState, stop: Stop | None) -> Result:
        assert stop is not None
        h = state.history
        costs, etas = h["cost"], h["eta"]
        etas.extend([math.nan] * (len(costs) - len(etas)))
        status, message = honest(stop.status, stop.message, state.start_cost, self.fun)
        return Result(x=state.v, fun=self.fun, jac=self.g.copy(), grad_norm=self.gnorm,
                      nit=state.iteration, nfev=self.nfev + self.p.ctx.nfev,
                      ngev=self.ngev + self.p.ctx.ngev,
                      epochs=0, success=status == CONVERGED, status=status, message=message,
                      history=History("iteration", h), **used(self.p))


def used(parts: Parts) -> dict[str, Any]:
    """The gradient source and step rule a run used, as its result names them
    (``"auto"`` resolved: :func:`gdkit.parts.auto`)."""
    rule = parts.rule.rule if isinstance(parts.rule, OwnState) else parts.rule
    return {"gradient_source": parts.src, "step_rule": rule}


# -- mini-batches: an epoch is one pass over a permutation ------------------------------
class MiniBatch:
    """Mini-batch SGD (eq. 18-20): a fresh permutation of the n training
    inputs each epoch, drawn from the run's generator, in spans of steps."""

    name = "epoch"

    def __init__(self, parts: Parts, *, n: int, batch_size: int, epochs: int,
                 max_iter: float, progress: Callable[[int, int, int], None] | None,
                 compiled: CompiledSteps | None, resumed: bool) -> None:
        self.p, self.n, self.bs, self.epochs, self.max_iter = parts, n, batch_size, epochs, max_iter
        self.progress, self.compiled, self.resumed = progress, compiled, resumed
        self.evaluate = parts.obj.evaluate if isinstance(parts.obj, Evaluates) else None
        self.total = len(range(0, n, batch_size))
        self.chunk = max(1, self.total // 100)
        self.fun, self.eta, self.nfev, self.epochs_run = math.nan, math.nan, 0, 0
        self.g: FloatArray = parts.g
        self.stepped = False
        self.last: float | None = None

    def begin(self, state: RunState) -> Stop | None:
        h = state.history
        if not h:
            h.update(cost=[], eta=[], seconds=[])
        self.last = h["cost"][-1] if h.get("cost") else None
        if not self.resumed:  # the cost at the start, which success must not exceed
            state.start_cost = first_cost(self.p.obj, state.v, self.p.cost)
            self.nfev += 1
            if not math.isfinite(state.start_cost):
                raise diverged("cost", state.start_cost, 0, None, start=True)
        return None

    def due(self, state: RunState) -> Stop | None:
        if state.epoch >= self.epochs:
            return Stop(EPOCHS_DONE, f"done: {self.epochs} epochs")
        if state.iteration >= self.max_iter:
            return Stop(MAX_ITER, f"stopped: max_iter = {self.max_iter} steps taken")
        return None

    def advance(self, state: RunState, control: RunControl) -> tuple[Stop | None, bool]:
        """Epoch ``state.epoch`` from ``state.position``, span by span."""
        if state.perm is None:
            state.perm = state.rng.permutation(self.n)
            state.position, state.epoch_seconds = 0, 0.0
        perm, bs, n = state.perm, self.bs, self.n
        starts = range(state.position, n, bs)
        done0 = self.total - len(starts)
        span_of = self._compiled_span if self.compiled is not None else self._numpy_span
        t0 = time.perf_counter()
        spent0 = state.epoch_seconds
        stop: Stop | None = None
        for c0 in range(0, len(starts), self.chunk):
            todo = starts[c0:c0 + self.chunk]
            if len(todo) > self.max_iter - state.iteration:  # at least one step a span
                todo = todo[:max(1, int(self.max_iter - state.iteration))]
            stop = span_of(state, perm, todo)
            state.epoch_seconds = spent0 + time.perf_counter() - t0
            if stop is not None:
                break
            reached = min(todo[-1] + bs, n)
            if control.requested and reached < n:  # mid-epoch: save where the run is
                state.position = reached
                control.save(state, self.name)
                raise control.interrupted(
                    epoch=state.epoch, iteration=state.iteration,
                    where=f"in epoch {state.epoch + 1}, after mini-batch "
                          f"{done0 + c0 + len(todo):,}")
            if state.iteration >= self.max_iter:
                stop = Stop(MAX_ITER, f"stopped: max_iter = {self.max_iter} steps taken")
                break
            if self.progress is not None:
                self.progress(state.epoch + 1, done0 + c0 + len(todo), self.total)
        state.epoch += 1
        state.perm, state.position = None, 0
        return stop, True

    def _numpy_span(self, state: RunState, perm: Batch, todo: range) -> Stop | None:
        p, bs = self.p, self.bs
        obj, src, v, g_buf, ctx = p.obj, p.src, state.v, p.g, p.ctx
        gradient, update, isfinite = src.gradient, p.rule.update, math.isfinite
        it, epoch, rule_state, g = state.iteration, state.epoch, state.rule_state, self.g
        try:
            for start in todo:
                batch = perm[start:start + bs]
                ctx.begin(it, batch, None, epoch=epoch)
                g = gradient(obj, v, batch, g_buf)
                if g is not g_buf:
                    g = checked_gradient(g, v, src)
                # Finiteness only (NaN and inf propagate through a sum); a plain
                # sum, not BLAS dot, which wakes threads above ~10k elements.
                gsum = g.sum()
                if not isfinite(gsum):
                    raise diverged("gradient", gsum, it, self.last)
                try:
                    self.eta, rule_state = update(v, g, rule_state, ctx)
                except StepError as exc:
                    return failed(exc, it)
                it += 1
            return None
        finally:
            self.stepped = self.stepped or it > state.iteration
            state.iteration, state.rule_state, self.g = it, rule_state, g

    def _compiled_span(self, state: RunState, perm: Batch, todo: range) -> Stop | None:
        """The span on the compiled runner; a step it hands over (``handoff`` of
        :class:`~gdkit.protocols.Span`) on the numpy runner, then the rest back.
        The last step's whole gradient is asked for at an epoch's end (where an
        observer may end the run) and where max_iter ends it."""
        runner = self.compiled
        assert runner is not None
        while todo:
            stop = min(todo[-1] + self.bs, self.n)
            last = stop == self.n or state.iteration + len(todo) >= self.max_iter
            span = runner.steps(perm, todo[0], stop, state.iteration, state.epoch,
                                state.rule_state, last)
            state.iteration, state.rule_state = state.iteration + span.taken, span.rule_state
            self.p.ctx.nfev += span.nfev
            if span.taken:
                self.eta, self.stepped = span.eta, True
            if span.taken == len(todo):
                return None
            if not span.handoff:
                raise diverged("gradient", span.gsum, state.iteration, self.last)
            stopped = self._numpy_span(state, perm, todo[span.taken:span.taken + 1])
            if stopped is not None:
                return stopped
            todo = todo[span.taken + 1:]
        return None

    def end(self, state: RunState) -> dict[str, float]:
        f = self.p.cost(state.v)
        self.nfev += 1
        self.epochs_run += 1
        if not math.isfinite(f):
            raise diverged("cost", f, state.iteration, self.last)
        self.fun = self.last = f
        record = {"cost": f, "eta": as_eta(self.eta, self.p.rule),
                  "seconds": state.epoch_seconds}
        if self.evaluate is not None:
            record.update(measured(self.p.obj, self.evaluate(state.v)))
        h, e = state.history, state.epoch
        for k, val in record.items():
            h.setdefault(k, [math.nan] * (e - 1)).append(float(val))
        return record

    @staticmethod
    def save_due(state: RunState, every: int, requested: int) -> bool:
        return True

    @staticmethod
    def final_save_due(state: RunState, every: int) -> bool:
        return False

    @staticmethod
    def saved_rows(state: RunState) -> None:
        return None

    @staticmethod
    def where(state: RunState, stopped: bool = False) -> str:
        """Where the run is, for a message (``stopped``: by an observer)."""
        return f"{'after' if stopped else 'at the end of'} epoch {state.epoch}"

    def result(self, state: RunState, stop: Stop | None) -> Result:
        assert stop is not None
        v, g = state.v, self.g
        if not self.epochs_run:  # a resumed run with nothing left to do: C measured here
            self.fun = first_cost(self.p.obj, v, self.p.cost)
            self.nfev += 1
            if not math.isfinite(self.fun):
                raise diverged("cost", self.fun, state.iteration, self.last)
        if self.stepped:
            gnorm = math.sqrt(float(np.dot(g, g)))
            jac = g.copy()
        else:  # no gradient was computed by this call
            gnorm, jac = math.nan, np.full_like(v, math.nan)
        status, message = honest(stop.status, stop.message, state.start_cost, self.fun)
        return Result(x=v, fun=self.fun, jac=jac, grad_norm=gnorm, nit=state.iteration,
                      nfev=self.nfev + self.p.ctx.nfev,
                      ngev=state.iteration + self.p.ctx.ngev,
                      epochs=state.epoch, success=status == EPOCHS_DONE, status=status,
                      message=message, history=History("epoch", state.history),
                      compiled=self.compiled is not None, **used(self.p))
