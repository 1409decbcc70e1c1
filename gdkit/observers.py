"""Observers: what watches a run, on one protocol that :func:`gdkit.minimize` accepts.

An observer is any object with some of these methods (none is required; each
is looked up once per run):

- ``epoch(event)`` after every epoch (every step in full-batch mode), with an
  :class:`EpochEnd`; returning True stops the run cleanly (as a callback's
  True or :class:`StopIteration` does);
- ``finish(result)`` once, with the :class:`~gdkit.result.Result`.

The loop tells the observers before it saves a checkpoint and before a
pending SIGINT/SIGTERM stops the run, so an observer sees every epoch exactly
once, whenever the interrupt lands.

Examples
--------
An observer of your own, keeping the cost of every epoch::

    >>> import gdkit
    >>> class Costs:
    ...     def __init__(self):
    ...         self.seen = []
    ...     def epoch(self, event):
    ...         self.seen.append((event.epoch, round(event.fun, 6)))
    ...         return event.fun < 1e-3          # True stops the run
    >>> watch = Costs()
    >>> res = gdkit.minimize("valley", [1.0, 1.0], step="armijo", observers=[watch])
    >>> watch.seen[-1][0] == res.nit, res.message
    (True, 'stopped by the observer Costs after 5 steps')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, final, runtime_checkable

from .protocols import FloatArray
from .result import Result
from .state import OwnState, RunState

__all__ = ["EpochEnd", "Observer", "notifier", "step_of"]


@final
@dataclass(frozen=True, slots=True)
class EpochEnd:
    """What an observer is told after an epoch.

    Attributes
    ----------
    epoch : int
        Epochs complete (full-batch mode: steps taken; every step is an epoch).
    iteration : int
        Steps taken over the whole run.
    x : ndarray
        The run's parameters, live: copy them to keep them.
    fun : float
        C(x) over all the training inputs.
    record : mapping of str to float
        The epoch's row of the history (cost, η, seconds, metrics...).
    mode : str
        ``"epoch"`` (mini-batches) or ``"iteration"`` (full batch).
    """

    epoch: int
    iteration: int
    x: FloatArray
    fun: float
    record: Mapping[str, float]
    mode: str


@runtime_checkable
class Observer(Protocol):
    """Watches a run: ``epoch(event) -> stop?`` (``finish(result)`` optional)."""

    def epoch(self, event: EpochEnd) -> bool | None: ...


def step_of(rule: Any) -> Any:
    """The step rule as the user gave it (not the loop's adapter)."""
    return rule.rule if isinstance(rule, OwnState) else rule


def _callback(callback: Callable[..., Any], mode: str) -> Callable[[EpochEnd], bool]:
    """scipy's callback as an observer: the intermediate Result, or a copy of v."""
    try:
        wants_result = list(inspect.signature(callback).parameters)[:1] == [
            "intermediate_result"]
    except (TypeError, ValueError):
        wants_result = False

    def epoch(event: EpochEnd) -> bool:
        if not wants_result:
            arg: Any = event.x.copy()
        elif mode == "iteration":
            arg = Result(x=event.x.copy(), fun=event.fun, grad_norm=event.record["grad_norm"],
                         nit=event.iteration)
        else:
            arg = Result(x=event.x.copy(), fun=event.fun, nit=event.iteration,
                         epoch=event.epoch, record=dict(event.record))
        try:
            return bool(callback(arg))
        except StopIteration:
            return True

    return epoch


def notifier(mode: str, observers: Sequence[Any], callback: Callable[..., Any] | None,
             hook: Any) -> Callable[[RunState, dict[str, float], float], str | None]:
    """One function telling every observer, the plugins' epoch hook (mini-batch
    mode) and the callback about an epoch; it returns who stopped the run
    (``"the callback"``, ``"the observer NAME"``), or None. Every one is told,
    even after another has asked to stop."""
    calls: list[tuple[str, Callable[[EpochEnd], Any]]] = [
        (f"the observer {type(o).__name__}", o.epoch) for o in observers
        if getattr(o, "epoch", None) is not None]
    if callback is not None:
        calls.append(("the callback", _callback(callback, mode)))
    epoch_hook = hook.gdkit_epoch_end if mode == "epoch" else None
    if not calls and epoch_hook is None:
        return lambda state, record, fun: None

    def notify(state: RunState, record: dict[str, float], fun: float) -> str | None:
        step = state.epoch if mode == "epoch" else state.iteration
        event = EpochEnd(step, state.iteration, state.v, fun, record, mode)
        if epoch_hook is not None:
            epoch_hook(epoch=step, record=record)
        stopped_by = None
        for who, call in calls:
            if call(event) and stopped_by is None:
                stopped_by = who
        return stopped_by

    return notify
