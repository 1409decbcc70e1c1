"""Checkpoint and resume of one run: saving its state, the configuration
check on resume, and SIGINT/SIGTERM turned into a clean, saved stop."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, final

import numpy as np

from .checkpoint import Checkpoint, save_checkpoint
from .compose import Chain
from .errors import CheckpointError, Interrupted
from .identity import configuration
from .protocols import FloatArray, Objective, PureStepRule, Sampled
from .state import RunState

__all__ = ["IDENTIFIED", "RunControl", "check_config", "check_probe", "identities", "probe_of",
           "trap_signals"]


IDENTIFIED: Final = ("objective", "gradient", "step")
"""The parts a resume compares by configuration (:func:`gdkit.identity.configuration`);
each is saved with its repr too (``"<key>_repr"``), which the messages show."""


def identities(obj: Any, src: Any, rule: Any) -> dict[str, Any]:
    """The configuration (and repr) of a run's parts, as a checkpoint records them:
    a chain part by part."""
    parts = rule.parts if isinstance(rule, Chain) else None
    step = [configuration(p) for p in parts] if parts is not None else configuration(rule)
    step_repr = [repr(p) for p in parts] if parts is not None else repr(rule)
    return {"objective": configuration(obj), "objective_repr": repr(obj),
            "gradient": configuration(src), "gradient_repr": repr(src),
            "step": step, "step_repr": step_repr}


def _differences(key: str, saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs in one configuration entry (a chain part by part), shown by repr.
    A checkpoint from before configurations were saved holds reprs: they are compared."""
    was, is_ = saved.get(key), now[key]
    if key in IDENTIFIED:
        shown_was, shown_now = saved.get(f"{key}_repr", was), now[f"{key}_repr"]
        if f"{key}_repr" not in saved:  # an older checkpoint: it saved the reprs
            was, is_ = shown_was, shown_now
    else:
        shown_was, shown_now = was, is_
    if was == is_:
        return []
    if key == "step" and isinstance(was, list) and isinstance(is_, list):
        if len(was) != len(is_):
            return [f"step: saved the chain {shown_was}, now {shown_now}"]
        return [f"step part {i + 1}: saved {_shown(shown_was, i)}, now {_shown(shown_now, i)}"
                for i, (a, b) in enumerate(zip(was, is_, strict=True)) if a != b]
    return [f"{key}: saved {shown_was!r}, now {shown_now!r}" if key not in IDENTIFIED
            else f"{key}: saved {shown_was}, now {shown_now}"]


def _shown(reprs: Any, i: int) -> Any:
    return reprs[i] if isinstance(reprs, list) and i < len(reprs) else reprs


def check_config(path: Any, saved: Checkpoint, now: dict[str, Any], allow: bool) -> None:
    """Refuse to resume ``saved`` under another configuration ``now`` (unless ``allow``)."""
    diffs = [d for k in now if not k.endswith("_repr")
             for d in _differences(k, saved.config, now)]
    if saved.v.shape != (now["dim"],):
        raise CheckpointError(f"checkpoint {os.fspath(path)!r} holds {saved.v.size} parameters "
                              f"but the objective has dim {now['dim']}: it is from another run.")
    if diffs and not allow:
        what = (f"cannot resume from {os.fspath(path)!r}: the run's configuration differs from "
                f"the saved one ({'; '.join(diffs)}).")
        raise CheckpointError(f"{what} Resume with the same parts, or pass "
                              "allow_config_change=True to continue anyway.",
                              setting="allow_config_change", what=what)


_PROBE_KEY: Final = "probe_cost"
_PROBE_ROWS: Final = 64


def probe_of(obj: Objective, cost: Callable[[FloatArray, Any], float] | None = None
             ) -> Callable[[FloatArray], float]:
    """A fingerprint of the objective as a function, saved with each checkpoint:
    its cost at v on the first 64 training inputs (a sampled objective), or
    C(v). A resume recomputes it at the saved v, which catches other data or
    settings that the parts' reprs do not show. ``cost(v, batch)`` is where
    the run's costs come from (default: the objective's)."""
    c = obj.cost if cost is None else cost
    if isinstance(obj, Sampled):
        batch = np.arange(min(int(obj.n_samples), _PROBE_ROWS))
        return lambda v: float(c(v, batch))
    return lambda v: float(c(v, None))


def check_probe(path: Any, saved: Checkpoint, now: float) -> None:
    was = saved.config.get(_PROBE_KEY)
    if not isinstance(was, float) or not (math.isfinite(was) and math.isfinite(now)):
        return  # an older checkpoint, or nothing to compare
    # Bit-identical on one machine; the tolerance allows another BLAS's rounding.
    rtol = 1e4 * float(np.finfo(saved.v.dtype).eps)
    if abs(now - was) > rtol * max(abs(now), abs(was)):
        what = (f"cannot resume from {os.fspath(path)!r}: the objective is not the one the run "
                f"was saved with. At the saved parameters its cost on a probe batch (the first "
                f"{_PROBE_ROWS} training inputs, or the full cost) is now {now!r}, but was "
                f"{was!r}: other data or settings than the checkpointed run.")
        raise CheckpointError(f"{what} Resume with the same objective, or pass "
                              "allow_config_change=True to continue anyway.",
                              setting="allow_config_change", what=what)


@final
class RunControl:
    """Where and how often a run is saved, and the cooperative stop flag."""

    __slots__ = ("config", "every", "extra", "path", "probe", "requested", "rule")

    def __init__(self, path: str | os.PathLike[str] | None, every: int, config: dict[str, Any],
                 extra: dict[str, Any], rule: PureStepRule,
                 probe: Callable[[FloatArray], float]) -> None:
        self.path = None if path is None else os.fspath(path)
        self.probe = probe
        self.every = every
        self.config = config
        self.extra = extra
        self.rule = rule
        self.requested = 0  # the signal number once SIGINT/SIGTERM arrived

    @property
    def saving(self) -> bool:
        """Whether this run writes checkpoints."""
        return self.path is not None

    def save(self, state: RunState, mode: str, *, rows: int | None = None) -> None:
        """Save ``state`` atomically (``rows``: the history rows to keep)."""
        if self.path is None:
            return
        ck = state.checkpoint(self.rule, mode, {**self.config, _PROBE_KEY: self.probe(state.v)},
                              self.extra, rows=rows)
        try:
            save_checkpoint(self.path, ck)
        except OSError as exc:
            raise CheckpointError(
                f"cannot write the checkpoint {self.path!r} ({exc.strerror or exc}) at "
                f"iteration {state.iteration}; the previous checkpoint, if any, is intact. "
                "Free some space, or give another path and resume from the last one.") from None

    def interrupted(self, *, epoch: int, iteration: int, where: str) -> Interrupted:
        name = signal.Signals(self.requested).name
        saved = (f"the run's state is saved in {self.path!r}: continue it with "
                 f"checkpoint=gdkit.Checkpointing({self.path!r}, resume=True)."
                 if self.path is not None else
                 "no checkpoint was asked for, so the run cannot be continued (pass "
                 "checkpoint=PATH to make it resumable).")
        what = f"interrupted by {name} {where} (iteration {iteration})"
        return Interrupted(f"{what}; {saved}", signum=self.requested, checkpoint=self.path or "",
                           epoch=epoch, iteration=iteration, what=what)


@contextlib.contextmanager
def trap_signals(control: RunControl, *, enabled: bool) -> Iterator[None]:
    """First SIGINT/SIGTERM: ask the loop to stop after the current step.
    Second: stop at once (KeyboardInterrupt); the atomic write keeps the last
    complete checkpoint intact."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if control.requested:
            raise KeyboardInterrupt
        control.requested = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
