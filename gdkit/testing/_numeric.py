"""Small numerical helpers of the checks: bitwise and tolerant comparisons, and
an analytic directional derivative against central differences."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

import numpy as np
import numpy.typing as npt

from ..protocols import FloatArray
from ._common import _F64, _TINY


def _eps(dtype: np.dtype[Any]) -> float:
    return float(np.finfo(dtype).eps)


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


def _exact_steps(v: FloatArray, u: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """v ± h·u in v's dtype."""
    step = (h * u).astype(v.dtype)
    return v + step, v - step


@final
@dataclass(frozen=True)
class _Compare:
    """One analytic directional derivative against central differences."""

    label: str
    analytic: float
    fd: float
    error: float
    tolerance: float
    h: float

    @property
    def badness(self) -> float:
        return self.error / self.tolerance if self.tolerance > 0 else math.inf


def _central(cost: Callable[[FloatArray], float], grad: FloatArray, v: FloatArray,
             u: FloatArray, h: float, rtol: float, label: str) -> _Compare:
    """Compare grad·u with (C(v + h u) − C(v − h u)) / 2h.

    The truncation error is estimated from the same difference with step 2h
    (it is four times larger there), the rounding error from the cost's
    magnitude, so the tolerance is rtol plus what central differences
    themselves can be trusted to.
    """
    eps = _eps(v.dtype)
    g64 = grad.astype(np.float64)
    v64 = v.astype(np.float64)
    errors: list[float] = []
    values: list[tuple[float, float, float]] = []
    for hk in (h, 2 * h):
        wp, wm = _exact_steps(v, u, hk)
        d = (wp.astype(np.float64) - v64) + (v64 - wm.astype(np.float64))  # ≈ 2 hk u
        cp, cm = float(cost(wp)), float(cost(wm))
        an = float(g64 @ d) / (2 * hk)
        fd = (cp - cm) / (2 * hk)
        errors.append(fd - an)
        values.append((an, fd, 64 * eps * (abs(cp) + abs(cm)) / (2 * hk)))
    (an, fd, rounding), _ = values
    tol = rtol * max(abs(an), abs(fd)) + 2 * abs(errors[1] - errors[0]) + rounding + _TINY
    return _Compare(label, an, fd, abs(errors[0]), tol, h)


def _default_rtol(dtype: np.dtype[Any]) -> float:
    return 1e-5 if dtype == _F64 else 1e-2


def _positive_attr(obj: object, name: str) -> float | None:
    """``obj.name`` if it is a finite number > 0."""
    value = getattr(obj, name, None)
    if not _is_real(value):
        return None
    x = float(value)  # type: ignore[arg-type]
    return x if math.isfinite(x) and x > 0 else None
