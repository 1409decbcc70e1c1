"""``chain(*transforms, step_size)``: a step rule made of a direction and a step size.

The seed's update Δv = −η∇C (eq. 10) is two ideas: a *direction* d, which
starts as −∇C and may be reshaped by :class:`~gdkit.protocols.Transform`\\ s
(momentum, clipping, weight decay), and a *step size* η along it, picked by a
:class:`~gdkit.protocols.StepSize` (fixed, a schedule, a line search), which
moves v → v + η·d. A chain composes them into a
:class:`~gdkit.protocols.StepRule`, so the loop (and any third-party step
rule) is unchanged.

The chain owns the run's state: one :data:`~gdkit.protocols.PartState` per
part, created by ``init`` on the first step of a run. ``get_state`` and
``set_state`` exchange it field by field (``"<part>.<field>"`` → number or
array), so a checkpoint saves any chain without code written per part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, final

import numpy as np

from .errors import CheckpointError, ConfigError
from .protocols import FloatArray, PartState, SteepestMove, StepContext, StepSize, Transform

__all__ = ["Chain", "chain"]

_SEP: Final = "."


@final
class Chain:
    """Transforms, then one step size: a :class:`~gdkit.protocols.StepRule`.

    Build it with :func:`chain`. ``step(v, grad, ctx)`` sets d = −∇C, lets
    each transform rewrite d in order, and lets the step size move v along d;
    it returns the η used.

    Attributes
    ----------
    transforms : tuple of Transform
    step_size : StepSize
    """

    __slots__ = ("_d", "_fast", "_pending", "_states", "step_size", "transforms")

    def __init__(self, transforms: Sequence[Transform], step_size: StepSize) -> None:
        self.transforms = tuple(transforms)
        self.step_size = step_size
        self._fast = not self.transforms and isinstance(step_size, SteepestMove)
        self._states: list[PartState] | None = None
        self._pending: dict[str, Any] | None = None
        self._d: FloatArray | None = None

    @property
    def parts(self) -> tuple[Any, ...]:
        """The transforms and the step size, in order."""
        return (*self.transforms, self.step_size)

    def __repr__(self) -> str:
        return f"chain({', '.join(repr(p) for p in self.parts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chain) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    # -- the run's state (gdkit.protocols.Stateful) --------------------------
    def reset(self) -> None:
        """Forget the state: the next step starts a fresh run with ``init``."""
        self._states = None
        self._pending = None

    def init(self, v: FloatArray) -> list[PartState]:
        """The state of every part for a run starting at ``v``."""
        states = [p.init(v) for p in self.parts]
        for part, state in zip(self.parts, states, strict=True):
            if not isinstance(state, tuple):
                raise ConfigError(f"{part!r}.init() returned {type(state).__name__}; a part's "
                                  "state must be a NamedTuple of numbers and arrays, or ().")
        return states

    def get_state(self) -> dict[str, Any]:
        """The state as ``{"<i>.<field>": number or array}`` (a snapshot)."""
        if self._states is None:
            return dict(self._pending or {})
        flat: dict[str, Any] = {}
        for i, state in enumerate(self._states):
            for name, value in _fields(state).items():
                flat[f"{i}{_SEP}{name}"] = np.array(value) if isinstance(
                    value, np.ndarray) else value
        return flat

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from a state saved by :meth:`get_state`; applied at the
        next step, on top of ``init`` (shapes and dtypes are checked then)."""
        self._states = None
        self._pending = dict(state)

    def _start(self, v: FloatArray) -> list[PartState]:
        states = self.init(v)
        if self._pending is not None:
            states = _restore(self.parts, states, self._pending)
            self._pending = None
        self._states = states
        self._d = np.empty_like(v)
        return states

    def states(self, v: FloatArray) -> list[PartState]:
        """The parts' states for a run at ``v``, as the next step would use
        them (started, or restored from a checkpoint): the same objects, so
        compiled code that updates their arrays in place continues the chain."""
        states = self._states
        d = self._d
        if states is None or d is None or d.shape != v.shape or d.dtype != v.dtype:
            states = self._start(v)
        return states

    # -- the step --------------------------------------------------------------
    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        """Move ``v`` in place along the chain's direction; return η."""
        states = self.states(v)
        d = self._d
        assert d is not None
        ctx.grad = grad
        if self._fast:  # no transforms: d = −∇C is never materialized
            eta, states[-1] = self.step_size.move_steepest(  # type: ignore[attr-defined]
                v, grad, states[-1], ctx)
            return float(eta)
        np.negative(grad, out=d)
        for i, t in enumerate(self.transforms):
            states[i] = t.update(d, states[i], v, ctx)
        eta, states[-1] = self.step_size.move(v, d, states[-1], ctx)
        return float(eta)


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
        A :class:`~gdkit.protocols.StepRule` whose state is saved and restored
        by checkpoints.

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


def _restore(parts: Sequence[Any], states: list[PartState],
             saved: Mapping[str, Any]) -> list[PartState]:
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
    return out


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
