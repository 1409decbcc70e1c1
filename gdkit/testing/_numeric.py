"""Small numerical helpers of the checks: bitwise and tolerant comparisons; the
comparison with central differences is :mod:`gdkit.gradcheck`'s."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from ..gradcheck import _eps as _eps
from ._common import _TINY


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _same_bits(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _first_diff(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> str:
    if a.shape != b.shape or a.dtype != b.dtype:
        return ""
    bits = np.dtype(f"u{a.dtype.itemsize}")
    diff = np.flatnonzero(a.reshape(-1).view(bits) != b.reshape(-1).view(bits))
    if diff.size == 0:
        return ""
    i = int(diff[0])
    return f" (coordinate {i}: {b[i]!r} became {a[i]!r})"


def _close(a: float, b: float, rtol: float, scale: float = 0.0) -> bool:
    """Equal within rtol (NaN equals NaN here: finiteness is another check)."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    return abs(a - b) <= rtol * max(abs(a), abs(b), scale) + _TINY


def _positive_attr(obj: object, name: str) -> float | None:
    """``obj.name`` if it is a finite number > 0."""
    value = getattr(obj, name, None)
    if not _is_real(value):
        return None
    x = float(value)  # type: ignore[arg-type]
    return x if math.isfinite(x) and x > 0 else None


def trial_gradient(ref: Any) -> Any:
    """The ``gradient`` callable of a :class:`~gdkit.protocols.StepContext` on a
    reference objective (its analytic ∇C), or None when it has none."""
    grad = getattr(ref, "gradient", None)
    if grad is None:
        return None

    def gradient(w: Any, batch: Any, out: Any) -> Any:
        return grad(w, batch, out)

    return gradient
