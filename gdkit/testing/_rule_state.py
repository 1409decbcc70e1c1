"""The step-rule kit's state checks, and a pure rule driven as one run."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from ..protocols import (
    FloatArray,
    StepContext,
)
from ._numeric import (
    _same_bits,
)

_STATEFUL: Final = ("reset", "get_state", "set_state")


class _OneRun:
    """A pure step rule (``init``/``update``) with one run's state, seen as a
    monolithic rule: ``reset`` starts a new run, ``get_state``/``set_state``
    go through ``state_dict``/``load_state`` (applied at the next step)."""

    def __init__(self, rule: Any) -> None:
        self.rule = rule
        self.state: Any = None
        self.pending: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return repr(self.rule)

    def reset(self) -> None:
        self.state = self.pending = None

    def get_state(self) -> dict[str, Any]:
        if self.state is None:
            return dict(self.pending or {})
        return dict(self.rule.state_dict(self.state))

    def set_state(self, state: dict[str, Any]) -> None:
        self.state, self.pending = None, dict(state)

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        if self.state is None:
            self.state = (self.rule.init(v) if self.pending is None
                          else self.rule.load_state(v, self.pending))
            self.pending = None
        eta, self.state = self.rule.update(v, grad, self.state, ctx)
        return float(eta)


def _plain(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, np.number, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if isinstance(value, (list, tuple)):
        return all(_plain(x) for x in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in value.items())
    return False


def _saved(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as a checkpoint gives it back: fresh arrays, Python scalars."""
    def conv(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return np.array(x, copy=True)
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, (list, tuple)):
            return type(x)(conv(y) for y in x)
        if isinstance(x, dict):
            return {k: conv(y) for k, y in x.items()}
        return x

    return {k: conv(x) for k, x in state.items()}


def _state_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and _same_bits(a, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_state_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_state_equal(a[k], b[k]) for k in a)
    return bool(a == b) or (isinstance(a, float) and isinstance(b, float)
                            and math.isnan(a) and math.isnan(b))


def _eta_equal(a: object, b: object) -> bool:
    try:
        x, y = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return x == y or (math.isnan(x) and math.isnan(y))
