"""What a run is told besides its parts and its bounds, one object a concern.

:func:`gdkit.minimize` takes at most a dozen parameters. Two of them carry
settings that belong together and are rarely all given:

- :class:`Checkpointing` (``checkpoint=``): where the run's state is saved,
  how often, whether it continues a saved run, and what else the file keeps;
- :class:`RunOptions` (``options=``): how the run executes (its floating
  dtype, BLAS threads, signal handling), not what it computes.

Keywords that :func:`~gdkit.minimize` once took and no longer does are
refused by :func:`moved` with one line naming the new spelling, instead of
Python's bare "unexpected keyword argument".
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, ParamSpec, TypeVar

from .checkpoint import check_meta
from .errors import ConfigError
from .threads import Threads, decide
from .validate import float_dtype, integer

__all__ = ["DEFAULT_EVERY", "MOVED", "Checkpointing", "RunOptions", "checkpointing", "moved"]

DEFAULT_EVERY: Final = 100
"""Full-batch iterations between checkpoints unless told otherwise."""

Path = str | os.PathLike[str]


def _path(name: str, value: Any) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text:
        raise ConfigError(f"Checkpointing: {name} must be a path (str or pathlib.Path), got "
                          f"{type(value).__name__} {value!r}"[:160] + ".")
    return text


@dataclass(frozen=True)
class Checkpointing:
    """Where and how a run is checkpointed, and whether it continues a saved one.

    Parameters
    ----------
    path : path or None
        Save the whole state of the run to this ``.npz`` (atomically) after
        every epoch (mini-batch) or every ``every`` iterations (full batch):
        parameters, step-rule state, generator state, position, history and
        configuration. None: save nothing (only with ``resume=PATH``: continue
        a saved run without saving it again).
    every : int, default 100
        Full-batch iterations between checkpoints.
    resume : bool or path, default False
        Continue a saved run: True continues the run in ``path`` (and keeps
        saving there); a path continues the run saved in that file (and saves
        to ``path``, if any). Same parameters, rule state, shuffles and
        history, so the result is bit for bit that of an uninterrupted run.
        ``v0`` must be None; the objective, gradient source, step rule, dtype
        and batch size must match the saved ones (compared by configuration)
        unless ``allow_config_change=True``; ``epochs`` and ``max_iter`` may
        grow. Each checkpoint also stores the cost at its parameters on a
        probe batch (the first 64 training inputs of a sampled objective,
        else the full cost: one more cost evaluation per checkpoint); a resume
        recomputes it and refuses an objective whose data or settings differ
        although its configuration is the same.
    allow_config_change : bool, default False
        Resume even though the configuration differs.
    run_info : mapping, optional
        JSON-able data stored in each checkpoint's ``extra`` (the ``gdkit
        train`` command keeps its settings there).

    Examples
    --------
    >>> import gdkit
    >>> gdkit.Checkpointing("run.npz", resume=True).source
    'run.npz'
    """

    path: Path | None
    every: int = DEFAULT_EVERY
    resume: bool | Path = False
    allow_config_change: bool = False
    run_info: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.path is not None:
            _path("path", self.path)
        integer("Checkpointing", "every", self.every, minimum=1)
        if not isinstance(self.resume, bool):
            _path("resume", self.resume)
        elif self.resume and self.path is None:
            raise ConfigError("Checkpointing: resume=True continues the run saved in path, "
                              "but path is None; give the checkpoint's path.")
        if not isinstance(self.allow_config_change, bool):
            raise ConfigError("Checkpointing: allow_config_change must be True or False, got "
                              f"{self.allow_config_change!r}.")
        if self.run_info is not None:
            check_meta(dict(self.run_info), "Checkpointing: run_info")

    @property
    def target(self) -> str | None:
        """The file the run saves to, or None."""
        return None if self.path is None else os.fspath(self.path)

    @property
    def source(self) -> str | None:
        """The file the run resumes from, or None for a fresh run."""
        if isinstance(self.resume, bool):
            return self.target if self.resume else None
        return os.fspath(self.resume)


def checkpointing(spec: Any) -> Checkpointing | None:
    """``minimize``'s ``checkpoint=``: None, a path (save there, no resume) or a
    :class:`Checkpointing`."""
    if spec is None or isinstance(spec, Checkpointing):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return Checkpointing(spec)
    raise ConfigError(f"minimize: checkpoint must be a path or a gdkit.Checkpointing, got "
                      f"{type(spec).__name__} {spec!r}"[:160] + ".")


@dataclass(frozen=True)
class RunOptions:
    """How a run executes: settings that change neither its parts nor its bounds.

    Parameters
    ----------
    dtype : dtype, optional
        Floating dtype of v: float64 by default (v0's when it is floating; a
        resumed run's saved one).
    threads : int, "auto" or None, default "auto"
        BLAS threads during the run (restored afterwards): ``"auto"`` runs
        steps on one thread when their work (rows × parameters) is small,
        where more threads cost time and change the rounding
        (:func:`gdkit.threads.decide`); an int fixes the count; None leaves
        the BLAS library's setting alone.
    handle_signals : bool, default True
        Trap SIGINT and SIGTERM (main thread only): the first finishes the
        current span of steps (about 1% of an epoch) or the current epoch's
        record, saves the checkpoint if there is one, and raises
        :class:`~gdkit.errors.Interrupted`; a second stops at once with
        :class:`KeyboardInterrupt` (the last complete checkpoint stays intact).

    Examples
    --------
    >>> import gdkit
    >>> gdkit.RunOptions(dtype="float32", threads=1)
    RunOptions(dtype='float32', threads=1, handle_signals=True)
    """

    dtype: Any = None
    threads: Threads = "auto"
    handle_signals: bool = True

    def __post_init__(self) -> None:
        if self.dtype is not None:
            float_dtype("RunOptions", "dtype", self.dtype, options=None)
        decide(self.threads, 1, 1)  # refuses what is not a count, "auto" or None
        if not isinstance(self.handle_signals, bool):
            raise ConfigError("RunOptions: handle_signals must be True or False, got "
                              f"{self.handle_signals!r}.")


MOVED: Final[Mapping[str, str]] = {
    "jac": "jac= moved: pass the gradient function as gradient= (gradient=jac).",
    "dtype": "dtype= moved: pass options=gdkit.RunOptions(dtype=...).",
    "threads": "threads= moved: pass options=gdkit.RunOptions(threads=...).",
    "handle_signals": "handle_signals= moved: pass "
                      "options=gdkit.RunOptions(handle_signals=...).",
    "progress": "progress= moved: pass an observer with an on_progress(epoch, done, total) "
                "method in observers=.",
    "callback": "callback= moved: pass the callback in observers= (observers=[callback]).",
    "checkpoint_every": "checkpoint_every= moved: pass "
                        "checkpoint=gdkit.Checkpointing(path, every=...).",
    "resume": "resume= moved: pass checkpoint=gdkit.Checkpointing(path, resume=True) (or "
              "resume=PATH to continue another file's run).",
    "allow_config_change": "allow_config_change= moved: pass "
                           "checkpoint=gdkit.Checkpointing(path, resume=..., "
                           "allow_config_change=True).",
    "run_info": "run_info= moved: pass checkpoint=gdkit.Checkpointing(path, run_info=...).",
}
"""The keywords :func:`gdkit.minimize` no longer takes, and where each went."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def moved(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Refuse a keyword of :data:`MOVED` with its one-line direction (a
    :class:`~gdkit.errors.ConfigError`, also a TypeError) before calling ``func``."""
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        for key in sorted(kwargs.keys() & MOVED.keys()):
            raise ConfigError(f"{func.__name__}: {MOVED[key]}")
        return func(*args, **kwargs)
    return wrapper
