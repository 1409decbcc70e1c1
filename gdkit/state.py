"""The run state the loop owns, and the seam that drives any step rule purely.

A run is a :class:`RunState`: v, the step rule's state, the shuffling
generator, the position (iteration, epoch, place in the permutation), the
start cost and the history. The loop advances it; a checkpoint saves exactly
it (:meth:`RunState.checkpoint`), and a resume restores exactly it
(:meth:`RunState.resumed`).

Step rules are driven purely, as optax drives its transformations: the loop
calls ``init(v)`` once and ``update(v, grad, state, ctx) -> (η, state)`` per
step (:class:`~gdkit.protocols.PureStepRule`, which every
:func:`gdkit.chain` is). A third-party rule of the older, monolithic kind
(``step(v, grad, ctx) -> η``, keeping its own state behind
:class:`~gdkit.protocols.Stateful`) is adapted here, at the seam, by
:class:`OwnState`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, final

import numpy as np

from .checkpoint import Checkpoint
from .errors import CheckpointError, PluginError
from .protocols import Batch, FloatArray, PureStepRule, Stateful, StepContext, StepRule

__all__ = ["OwnState", "RunState", "driver"]


@final
class OwnState:
    """A monolithic step rule (``step(v, grad, ctx)``) behind the pure interface.

    Such a rule keeps its own state; its ``reset``/``get_state``/``set_state``
    (:class:`~gdkit.protocols.Stateful`), when it has them, are what ``init``,
    ``state_dict`` and ``load_state`` call. Its state object in the run state
    is ``()``: the rule object holds the rest, so one such object drives one
    run at a time.
    """

    __slots__ = ("rule",)

    def __init__(self, rule: StepRule) -> None:
        self.rule = rule

    def __repr__(self) -> str:
        return repr(self.rule)

    def init(self, v: FloatArray) -> tuple[()]:
        if isinstance(self.rule, Stateful):
            self.rule.reset()
        return ()

    def update(self, v: FloatArray, grad: FloatArray, state: tuple[()],
               ctx: StepContext) -> tuple[Any, tuple[()]]:
        return self.rule.step(v, grad, ctx), state

    def state_dict(self, state: tuple[()]) -> dict[str, Any]:
        if not isinstance(self.rule, Stateful):
            return {}
        flat = self.rule.get_state()
        for key, value in flat.items():
            if np.asarray(value).dtype.kind not in "biufc":
                raise PluginError(
                    f"the step rule {self.rule!r}'s get_state() holds {key!r} = "
                    f"{type(value).__name__}: a state must hold only numbers and arrays of "
                    "numbers, which a checkpoint saves without pickle. Fix the step rule.")
        return flat

    def load_state(self, v: FloatArray, saved: Mapping[str, Any]) -> tuple[()]:
        if isinstance(self.rule, Stateful):
            self.rule.reset()
            self.rule.set_state(dict(saved))
        return ()


def driver(rule: PureStepRule | StepRule) -> PureStepRule:
    """``rule`` itself when it is pure (``init``/``update``/``state_dict``/
    ``load_state``), else the monolithic rule adapted by :class:`OwnState`."""
    if isinstance(rule, PureStepRule):
        return rule
    return OwnState(rule)


@dataclass(slots=True, eq=False)
class RunState:
    """Everything a run is, owned by the loop.

    Attributes
    ----------
    v : ndarray
        The parameters (moved in place by each step).
    rule_state : object
        The step rule's state (a :class:`~gdkit.compose.ChainState` for a chain).
    rng : numpy.random.Generator
        The generator of the mini-batch shuffles.
    iteration : int
        Steps taken (over the whole run, resumes included).
    epoch : int
        Complete epochs (mini-batch mode).
    position : int
        The next mini-batch's start in ``perm`` (0 at an epoch's start).
    perm : ndarray or None
        The current epoch's permutation of the training inputs (None between epochs).
    epoch_seconds : float
        Training time already spent in the current epoch.
    start_cost : float
        C at the run's start: success must not end above it.
    history : dict of str to list of float
        The records so far (a row per iteration, or per epoch).
    """

    v: FloatArray
    rule_state: Any
    rng: np.random.Generator
    iteration: int = 0
    epoch: int = 0
    position: int = 0
    perm: Batch | None = None
    epoch_seconds: float = 0.0
    start_cost: float = math.nan
    history: dict[str, list[float]] = field(default_factory=dict)

    def checkpoint(self, rule: PureStepRule, mode: str, config: Mapping[str, Any],
                   extra: Mapping[str, Any], *, rows: int | None = None) -> Checkpoint:
        """This state as a :class:`~gdkit.checkpoint.Checkpoint` (``rows``: keep
        only the first rows of every history column)."""
        history = self.history if rows is None else {k: c[:rows] for k, c in self.history.items()}
        return Checkpoint(
            v=self.v, mode=mode, epoch=self.epoch, iteration=self.iteration,
            position=self.position, perm=self.perm,
            rng_state=dict(self.rng.bit_generator.state), history=dict(history),
            rule_state=rule.state_dict(self.rule_state),
            config={**config, "start_cost": self.start_cost}, extra=dict(extra),
            epoch_seconds=self.epoch_seconds)

    @classmethod
    def resumed(cls, saved: Checkpoint, v: FloatArray, rule: PureStepRule,
                rng: np.random.Generator, path: Any) -> RunState:
        """The state a checkpoint saved, continued with parameters ``v`` (the
        saved ones, in the run's dtype) and the run's generator ``rng``."""
        if saved.rng_state is not None:
            try:
                rng.bit_generator.state = saved.rng_state
            except (TypeError, ValueError, KeyError, OverflowError) as exc:
                raise CheckpointError(
                    f"checkpoint {path!r}: the shuffling generator's state (rng_state) is "
                    f"damaged ({type(exc).__name__}: {exc}); the run cannot continue as it "
                    "was. Use an earlier copy, or start afresh.") from None
        return cls(v=v, rule_state=rule.load_state(v, saved.rule_state), rng=rng,
                   iteration=saved.iteration, epoch=saved.epoch, position=saved.position,
                   perm=saved.perm, epoch_seconds=saved.epoch_seconds,
                   start_cost=float(saved.config.get("start_cost", math.inf)),
                   history={k: list(col) for k, col in saved.history.items()})
