"""What a run's parts hand back, checked where the loop receives it: a
gradient in its own array, the η a step rule returned, an objective's
evaluation, and the cost at the start (the hot path then trusts them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import PluginError, ShapeError
from .protocols import FloatArray, GradientSource, Objective

__all__ = ["as_eta", "checked_gradient", "first_cost", "measured"]


def checked_gradient(g: Any, v: FloatArray, src: GradientSource) -> FloatArray:
    """A gradient a source returned in its own array: v's shape and dtype, or an error."""
    if not isinstance(g, np.ndarray) or g.shape != v.shape or g.dtype != v.dtype:
        shape = getattr(g, "shape", None)
        gdt = getattr(g, "dtype", type(g).__name__)
        raise ShapeError(
            f"the gradient source {src!r} returned {type(g).__name__} of shape {shape} and "
            f"dtype {gdt}, but v has shape {v.shape} and dtype {v.dtype}. A gradient must "
            "have v's shape and dtype: fix the plugin (or the objective's gradient).")
    return g


def as_eta(value: Any, rule: Any) -> float:
    """The η a step rule returned, as a float, or an error naming the rule."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)):
        return float(value)
    raise PluginError(f"the step rule {rule!r} returned η = {value!r}"[:200] + ", not a number: "
                      "a step must return the step size it used. Fix the step rule.")


def measured(obj: Objective, values: Any) -> dict[str, float]:
    """An objective's ``evaluate`` result as numbers, or an error naming the objective."""
    out: dict[str, float] = {}
    try:
        for key, value in dict(values).items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{key!r} is {type(value).__name__} {value!r}"[:120])
            out[str(key)] = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PluginError(f"the evaluation of {obj!r} gave {exc}, not a number: evaluate(v) "
                          "must return a mapping of names to floats. Fix the objective."
                          ) from None
    return out


def first_cost(obj: Objective, v: FloatArray, cost: Callable[..., Any]) -> float:
    """C(v) at a run's start, checked once: one real number, and v left as it
    was (gdkit passes v to the cost without copying; later calls are trusted,
    so the hot path stays a call and a float())."""
    w = v.copy()
    value: Any = cost(w)
    if not np.array_equal(w, v, equal_nan=True):
        raise PluginError(f"the cost of {obj!r} modified v, its argument: gdkit passes v "
                          "without copying, so a cost must only read it. Fix the objective "
                          "(work on v.copy() inside it).")
    real = isinstance(value, (int, float, np.integer, np.floating)) or (
        isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf")
    if not real or isinstance(value, (bool, np.bool_)):
        shown = (f"an array of shape {value.shape}" if isinstance(value, np.ndarray)
                 else f"{type(value).__name__} {value!r}"[:120])
        raise ShapeError(f"the cost of {obj!r} returned {shown}, not a number: cost(v, batch) "
                         "must return C(v) as one float. Fix the objective.")
    return float(value)
