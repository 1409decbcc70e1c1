"""Observers: what watches a run, on one protocol that :func:`gdkit.minimize` accepts.

An observer is any object with some of these methods (none is required; each
is looked up once per run):

- ``on_start(event)`` once before the first step, with a :class:`RunStart`
  (where the run starts, and the history a resumed run already holds);
- ``on_epoch(event)`` after every epoch (every step in full-batch mode), with an
  :class:`EpochEnd`; returning True stops the run cleanly (as a callback's
  True or :class:`StopIteration` does);
- ``on_finish(result)`` once, with the :class:`~gdkit.result.Result`;
- ``on_progress(epoch, done, total)`` in mini-batch mode, about 100 times an
  epoch, with the mini-batches of epoch ``epoch`` (counted from 1) done so
  far (for a progress bar; it costs nothing per step).

A plain function among the observers is scipy's ``callback``: it is called
after every epoch with a copy of v (or, if its first parameter is named
``intermediate_result``, a :class:`~gdkit.result.Result`), and returning True
or raising :class:`StopIteration` stops the run.

The loop tells the observers before it saves a checkpoint and before a
pending SIGINT/SIGTERM stops the run, so an observer sees every epoch exactly
once, whenever the interrupt lands. Built in: :class:`JsonLog` (one JSON
line an epoch), :class:`BestEpoch` (the best epoch by a metric, with its
parameters) and :class:`EarlyStopping` (no improvement in n epochs).

Examples
--------
An observer of your own, keeping the cost of every epoch::

    >>> import gdkit
    >>> class Costs:
    ...     def __init__(self):
    ...         self.seen = []
    ...     def on_epoch(self, event):
    ...         self.seen.append((event.epoch, round(event.fun, 6)))
    ...         return event.fun < 1e-3          # True stops the run
    >>> watch = Costs()
    >>> res = gdkit.minimize("valley", [1.0, 1.0], step="armijo", observers=[watch])
    >>> watch.seen[-1][0] == res.nit, res.message
    (True, 'stopped by the observer Costs after 5 steps')
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import math
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol, final, runtime_checkable

from .errors import ConfigError, GdkitError
from .protocols import FloatArray
from .records import EPOCH, log_line, read_line
from .result import Result
from .state import OwnState, RunState

__all__ = ["BestEpoch", "EarlyStopping", "EpochEnd", "JsonLog", "Notifier", "Observer",
           "RunStart", "finishing", "starting", "step_of", "watchers"]


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
    """Watches a run: ``on_epoch(event) -> stop?`` (``on_start(event)``,
    ``on_finish(result)`` and ``on_progress(epoch, done, total)`` optional)."""

    def on_epoch(self, event: EpochEnd) -> bool | None: ...


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


_HOOKS = ("on_start", "on_epoch", "on_finish", "on_progress")


def watchers(observers: Any) -> list[Any]:
    """``minimize``'s ``observers``, checked: observers (objects with one of the
    ``on_*`` methods) and scipy-style callbacks (plain callables), or one of them."""
    if _watches(observers):
        return [observers]
    try:
        given = list(observers)
    except TypeError:
        given = [observers]
    for o in given:
        if not _watches(o):
            raise ConfigError(f"minimize: observers holds {type(o).__name__} {o!r}"[:160]
                              + ", which is neither an observer (an object with on_epoch, "
                              "on_start, on_finish or on_progress) nor a callback function.")
    return given


def _watches(o: Any) -> bool:
    return callable(o) or any(getattr(o, h, None) is not None for h in _HOOKS)


class Notifier:
    """Tells the observers about a run: ``notifier(state, record, fun)`` after an
    epoch returns who stopped the run (``"the callback"``, ``"the observer
    NAME"``), or None; ``progress(epoch, done, total)`` (None when no observer
    has ``on_progress``) within a mini-batch epoch."""

    __slots__ = ("calls", "epoch_hook", "mode", "progress")

    def __init__(self, mode: str, observers: Sequence[Any], hook: Any) -> None:
        self.mode = mode
        self.calls: list[tuple[str, Callable[[EpochEnd], Any]]] = [
            ("the callback", _callback(o, mode)) if _is_callback(o)
            else (f"the observer {type(o).__name__}", o.on_epoch) for o in observers
            if _is_callback(o) or getattr(o, "on_epoch", None) is not None]
        self.epoch_hook = hook.gdkit_epoch_end if mode == "epoch" else None
        bars = [o.on_progress for o in observers
                if getattr(o, "on_progress", None) is not None]
        self.progress: Callable[[int, int, int], None] | None = None
        if bars:
            def progress(epoch: int, done: int, total: int) -> None:
                for bar in bars:
                    bar(epoch, done, total)
            self.progress = progress

    def __call__(self, state: RunState, record: dict[str, float], fun: float) -> str | None:
        """Tell every observer, the plugins' epoch hook (mini-batch mode) and the
        callbacks about an epoch. Every one is told, even after another has
        asked to stop."""
        if not self.calls and self.epoch_hook is None:
            return None
        step = state.epoch if self.mode == "epoch" else state.iteration
        event = EpochEnd(step, state.iteration, state.v, fun, record, self.mode)
        if self.epoch_hook is not None:
            self.epoch_hook(epoch=step, record=record)
        stopped_by = None
        for who, call in self.calls:
            if call(event) and stopped_by is None:
                stopped_by = who
        return stopped_by


def _is_callback(o: Any) -> bool:
    """A plain callable in ``observers``: scipy's callback, not an observer object."""
    return callable(o) and not any(getattr(o, h, None) is not None for h in _HOOKS)


@final
@dataclass(frozen=True, slots=True)
class RunStart:
    """What an observer's ``on_start(event)`` is told before the first step.

    Attributes
    ----------
    mode : str
        ``"epoch"`` (mini-batches) or ``"iteration"`` (full batch).
    epoch, iteration : int
        Where the run starts (0 unless it resumes a checkpoint).
    history : mapping of str to sequence of float
        The records a resumed run already holds (empty for a fresh run).
    resumed : bool
        Whether the run continues a checkpoint.
    """

    mode: str
    epoch: int
    iteration: int
    history: Mapping[str, Sequence[float]]
    resumed: bool


def starting(observers: Sequence[Any], mode: str, state: RunState, resumed: bool) -> None:
    """Tell every observer with an ``on_start`` method that the run starts."""
    event = RunStart(mode, state.epoch, state.iteration,
                     {k: tuple(c) for k, c in state.history.items()}, resumed)
    for watcher in observers:
        start = getattr(watcher, "on_start", None)
        if start is not None:
            start(event)


def finishing(observers: Sequence[Any], result: Result) -> None:
    """Tell every observer with an ``on_finish`` method how the run ended."""
    for watcher in observers:
        finish = getattr(watcher, "on_finish", None)
        if finish is not None:
            finish(result)


# -- built-in observers ------------------------------------------------------------------
class JsonLog:
    """Write each epoch's record as one JSON line (:func:`gdkit.records.log_line`).

    The file is opened when the run starts (after a checkpoint's lock is
    taken), and every line is flushed. A resumed run keeps the lines of the
    epochs its checkpoint holds and drops any later ones (written by a run
    stopped after its log line but before its checkpoint), so each epoch is
    in the log exactly once.

    Parameters
    ----------
    path : path-like
        The log file; a fresh run replaces it.
    label : str, optional
        How errors name the log (a command passes its flag), default "the log".

    Attributes
    ----------
    failed_after : int or None
        The epoch after which writing failed, if it did.
    """

    def __init__(self, path: str | os.PathLike[str], *, label: str = "the log") -> None:
        self.path, self.label = os.fspath(path), label
        self.failed_after: int | None = None
        self._file: IO[str] | None = None

    def on_start(self, event: RunStart) -> None:
        try:
            if event.resumed:
                _keep_epochs(self.path, event.epoch)
            self._file = _open_lines(self.path, append=event.resumed)
        except OSError as exc:
            why = ("it is a pipe with no reader: start the reader first"
                   if exc.errno == errno.ENXIO else exc.strerror or str(exc))
            raise GdkitError(f"{self.label}: cannot write {self.path}: {why}.") from None

    def on_epoch(self, event: EpochEnd) -> None:
        if self._file is None:
            return
        try:
            self._file.write(log_line(event.epoch, event.record))
            self._file.flush()
        except OSError as exc:
            self.failed_after = event.epoch
            raise GdkitError(f"{self.label}: cannot write {self.path} ({exc.strerror or exc}) "
                             f"after epoch {event.epoch}; the run stopped.") from None

    def on_finish(self, result: Result) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (every line was flushed, or its error told)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def _open_lines(path: str, *, append: bool) -> IO[str]:
    """``path`` opened for text lines; a named pipe without a reader is refused at once
    (ENXIO) instead of blocking until one comes."""
    if stat.S_ISFIFO(os.stat(path).st_mode if os.path.exists(path) else 0):
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO: nobody reads it
        os.set_blocking(fd, True)
        return os.fdopen(fd, "w", encoding="utf-8")
    return open(path, "a" if append else "w", encoding="utf-8")


def _keep_epochs(path: str, epochs: int) -> None:
    """Cut the log at ``path`` after its line of epoch ``epochs`` (a missing file,
    or one that is not a regular file, is left alone)."""
    if not os.path.isfile(path):
        return
    keep = 0
    with open(path, "rb") as fh:
        for raw in fh:
            row = read_line(raw.decode("utf-8", "replace"))
            if isinstance(row, dict) and row[EPOCH] > epochs:
                break
            keep += len(raw)
    if keep < os.path.getsize(path):
        with open(path, "r+b") as fh:
            fh.truncate(keep)


class BestEpoch:
    """The epoch with the highest ``metric`` (the first of equals), its record,
    and, when this run saw it, a copy of its parameters.

    A resumed run counts the epochs its checkpoint holds (without their
    parameters: ``x`` stays None until a better epoch comes).
    """

    def __init__(self, metric: str = "val_accuracy") -> None:
        self.metric = metric
        self.value, self.epoch = -math.inf, 0
        self.x: FloatArray | None = None
        self.record: dict[str, float] = {}

    def on_start(self, event: RunStart) -> None:
        column = [float(c) for c in event.history.get(self.metric, ())]
        finite = [(c, -i) for i, c in enumerate(column) if math.isfinite(c)]
        if finite:
            value, neg_i = max(finite)
            self.value, self.epoch = value, 1 - neg_i

    def on_epoch(self, event: EpochEnd) -> None:
        value = event.record.get(self.metric)
        if value is not None and value > self.value:
            self.value, self.epoch = float(value), event.epoch
            self.x, self.record = event.x.copy(), dict(event.record)


class EarlyStopping:
    """Stop when ``metric`` has not improved for ``patience`` epochs (the book's
    "no improvement in n epochs" rule, ch. 3); resumed runs count from their
    checkpoint's best epoch."""

    def __init__(self, patience: int, metric: str = "val_accuracy") -> None:
        self.patience, self.best = patience, BestEpoch(metric)
        self.stopped_at = 0

    def on_start(self, event: RunStart) -> None:
        self.best.on_start(event)

    def on_epoch(self, event: EpochEnd) -> bool:
        value = event.record.get(self.best.metric)
        if value is not None and value > self.best.value:
            self.best.value, self.best.epoch = float(value), event.epoch
        stop = self.best.epoch > 0 and event.epoch - self.best.epoch >= self.patience
        if stop:
            self.stopped_at = event.epoch
        return stop
