"""``chain(*transforms, step_size)``: a step rule made of a direction and a step size.

The seed's update Δv = −η∇C (eq. 10) is two ideas: a *direction* d, which
starts as −∇C and may be reshaped by :class:`~gdkit.protocols.Transform`\\ s
(momentum, clipping, weight decay), and a *step size* η along it, picked by a
:class:`~gdkit.protocols.StepSize` (fixed, a schedule, a line search), which
moves v → v + η·d. A chain composes them into a pure step rule
(:class:`~gdkit.protocols.PureStepRule`), as optax composes transformations:
``init(v)`` makes the run's state, ``update(v, grad, state, ctx)`` moves v and
returns η and the next state. The chain holds configuration only, so one
chain can drive any number of runs, even interleaved.

A chain's state is a :class:`ChainState`: one :data:`~gdkit.protocols.PartState`
per part (plain numbers and arrays), saved by ``state_dict`` field by field
(``"<part>.<field>"`` → number or array) and read back by ``load_state``, so a
checkpoint saves any chain without code written per part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple, final

import numpy as np

from .errors import CheckpointError, ConfigError
from .protocols import FloatArray, PartState, SteepestMove, StepContext, StepSize, Transform

__all__ = ["Chain", "ChainState", "chain"]

_SEP: Final = "."


class ChainState(NamedTuple):
    """The state of a chain in one run.

    Attributes
    ----------
    parts : tuple of PartState
        Each part's state, in the chain's order (what a checkpoint saves).
    d : ndarray
        The run's direction buffer (scratch: rewritten by every step, never saved).
    """

    parts: tuple[PartState, ...]
    d: FloatArray


@final
class Chain:
    """Transforms, then one step size: a pure step rule.

    Build it with :func:`chain`. ``update(v, grad, state, ctx)`` sets
    d = −∇C, lets each transform rewrite d in order, lets the step size move
    v along d, and returns the η used with the new state.

    Attributes
    ----------
    transforms : tuple of Transform
    step_size : StepSize

    Examples
    --------
    Driving a chain by hand, as :func:`gdkit.minimize` does:

    >>> import numpy as np, gdkit
    >>> rule = gdkit.step_rule("momentum,fixed(eta=0.5)")
    >>> v = np.array([1.0, -2.0])
    >>> ctx = gdkit.StepContext(lambda w, batch: float(w @ w), v)
    >>> state = rule.init(v)
    >>> eta, state = rule.update(v, 2 * v, state, ctx)
    >>> eta, v
    (0.5, array([0., 0.]))
    """

    __slots__ = ("_fast", "step_size", "transforms")

    def __init__(self, transforms: Sequence[Transform], step_size: StepSize) -> None:
        self.transforms = tuple(transforms)
        self.step_size = step_size
        self._fast = not self.transforms and isinstance(step_size, SteepestMove)

    @property
    def parts(self) -> tuple[Any, ...]:
        """The transforms and the step size, in order."""
        return (*self.transforms, self.step_size)

    def __repr__(self) -> str:
        return f"chain({', '.join(repr(p) for p in self.parts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chain) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    # -- the run's state -------------------------------------------------------
    def init(self, v: FloatArray) -> ChainState:
        """The state of every part for a run starting at ``v``."""
        states = tuple(p.init(v) for p in self.parts)
        for part, state in zip(self.parts, states, strict=True):
            if not isinstance(state, tuple):
                raise ConfigError(f"{part!r}.init() returned {type(state).__name__}; a part's "
                                  "state must be a NamedTuple of numbers and arrays, or ().")
        return ChainState(states, np.empty_like(v))

    def state_dict(self, state: ChainState) -> dict[str, Any]:
        """``state`` as ``{"<i>.<field>": number or array}`` (a snapshot: copies)."""
        flat: dict[str, Any] = {}
        for i, part_state in enumerate(state.parts):
            for name, value in _fields(part_state).items():
                flat[f"{i}{_SEP}{name}"] = np.array(value) if isinstance(
                    value, np.ndarray) else value
        return flat

    def load_state(self, v: FloatArray, saved: Mapping[str, Any]) -> ChainState:
        """The state saved by :meth:`state_dict`, for a run at ``v`` (every
        field checked against a fresh ``init``: names, shapes, dtypes)."""
        fresh = self.init(v)
        return ChainState(_restore(self.parts, fresh.parts, saved), fresh.d)

    # -- the step --------------------------------------------------------------
    def update(self, v: FloatArray, grad: FloatArray, state: ChainState,
               ctx: StepContext) -> tuple[float, ChainState]:
        """Move ``v`` in place along the chain's direction; return η and the new state."""
        ctx.grad = grad
        if self._fast:  # no transforms: d = −∇C is never materialized
            size_state = state.parts[0]
            eta, new = self.step_size.move_steepest(  # type: ignore[attr-defined]
                v, grad, size_state, ctx)
            # the same state object back (a fixed η, arrays updated in place): no new tuple
            return float(eta), state if new is size_state else ChainState((new,), state.d)
        parts = list(state.parts)
        d = state.d
        np.negative(grad, out=d)
        for i, t in enumerate(self.transforms):
            parts[i] = t.update(d, parts[i], v, ctx)
        eta, parts[-1] = self.step_size.move(v, d, parts[-1], ctx)
        return float(eta), ChainState(tuple(parts), d)


def chain(*parts: Any) -> Chain:
    """Compose transforms and a step size into a step rule: ``chain(*transforms, step_size)``.

    Parameters
    ----------
    *parts : Transform or StepSize
        Zero or more transforms, applied in order to d = −∇C, then exactly one
        step size, last.

    Returns
    -------
    Chain
        A pure step rule (``init``, ``update``) whose state checkpoints save
        and restore.

    Examples
    --------
    >>> import gdkit
    >>> rule = gdkit.chain(gdkit.transform("momentum", beta=0.9),
    ...                    gdkit.step_size("fixed", eta=0.01))
    >>> rule
    chain(Momentum(beta=0.9, nesterov=False), Fixed(eta=0.01, schedule=None))
    """
    if not parts:
        raise ConfigError("chain() needs at least a step size, e.g. "
                          "chain(gdkit.step_size('fixed', eta=0.1)).")
    *transforms, size = parts
    if not isinstance(size, StepSize):
        raise ConfigError(f"the last part of a chain must be a step size (init and move), got "
                          f"{size!r}. Put transforms first and one step size last.")
    for i, t in enumerate(transforms):
        if not isinstance(t, Transform):
            kind = "a step size" if isinstance(t, StepSize) else type(t).__name__
            raise ConfigError(f"part {i + 1} of the chain, {t!r}, is {kind}, not a transform "
                              "(init and update): only the last part may be a step size.")
    return Chain(transforms, size)


def _fields(state: PartState) -> dict[str, Any]:
    names = getattr(state, "_fields", None)
    if names is None:
        names = [str(i) for i in range(len(state))]
    return dict(zip(names, state, strict=True))


def _restore(parts: Sequence[Any], states: Sequence[PartState],
             saved: Mapping[str, Any]) -> tuple[PartState, ...]:
    """Overlay the flat ``saved`` state on fresh ``states`` (checked field by field)."""
    out = []
    left = dict(saved)
    for i, (part, fresh) in enumerate(zip(parts, states, strict=True)):
        values = []
        for name, template in _fields(fresh).items():
            key = f"{i}{_SEP}{name}"
            if key not in left:
                raise CheckpointError(f"the saved state of {part!r} has no {name!r}: the "
                                      "checkpoint is from another step rule.")
            values.append(_coerce(part, name, template, left.pop(key)))
        out.append(type(fresh)(*values) if hasattr(fresh, "_fields") else tuple(values))
    if left:
        raise CheckpointError(f"the saved step-rule state has entries {sorted(left)} that "
                              "no part of this chain knows: the checkpoint is from another "
                              "step rule.")
    return tuple(out)


def _coerce(part: Any, name: str, template: Any, value: Any) -> Any:
    if isinstance(template, np.ndarray):
        arr = np.asarray(value)
        if arr.shape != template.shape or arr.dtype.kind not in "fiub":
            raise CheckpointError(f"the saved {name!r} of {part!r} has shape {arr.shape} and "
                                  f"dtype {arr.dtype}, expected {template.shape} "
                                  f"{template.dtype}: the checkpoint is from another run.")
        return np.array(arr, dtype=template.dtype)
    if isinstance(template, (bool, np.bool_)):
        return bool(value)
    if isinstance(template, (int, np.integer)):
        return int(value)
    if isinstance(template, (float, np.floating)):
        return float(value)
    raise CheckpointError(f"{part!r} has state {name!r} of type {type(template).__name__}; "
                          "a part's state may hold only numbers and arrays.")
