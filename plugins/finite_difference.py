"""Finite-difference gradient sources: forward, central and complex step.

The step sizes follow scipy's rules (``scipy.optimize._numdiff``): for
coordinate i, h_i = r · max(1, |v_i|) · sign(v_i) with r = EPS^½ (forward,
truncation error O(h)) or EPS^⅓ (central, O(h²)), EPS the machine epsilon of
v's dtype, then h_i = (v_i + h_i) − v_i so the step is exactly representable.
The complex step (Squire & Trapp 1998) has no subtractive cancellation, so a
tiny h = 1e-20 gives ∇C to machine precision, but needs a cost that is
analytic in v: an opt-in capability (``complex_cost``).

Each source perturbs one private copy of v in place, one coordinate at a
time, and writes into the caller's buffer: m (forward, complex) or 2m
(central) cost evaluations and no allocation per coordinate.
:func:`scipy.optimize.approx_fprime` computes the same forward differences
(the tests check they agree) but allocates its result and has no central
variant.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

import gdkit
from gdkit.errors import ConfigError, DivergenceError
from gdkit.protocols import Batch, ComplexCost, FloatArray, Objective
from gdkit.validate import number

__all__ = ["Central", "ComplexStep", "Forward", "fd_steps"]


def fd_steps(v: FloatArray, order: int, rel_step: float | None = None,
             cost_dtype: Any = None) -> FloatArray:
    """The finite-difference step h for each coordinate of v.

    Parameters
    ----------
    v : ndarray
        The point.
    order : {1, 2}
        1 for forward differences (r = EPS^½), 2 for central (r = EPS^⅓).
    rel_step : float, optional
        Override r.
    cost_dtype : dtype, optional
        The dtype of the cost's values. EPS is the coarser of v's and the
        cost's, as in :func:`scipy.optimize.approx_derivative`: a float32 cost
        of float64 parameters needs float32's steps.
    """
    eps = max(np.finfo(v.dtype).eps,
              np.finfo(cost_dtype).eps if cost_dtype is not None else 0.0)
    r = rel_step if rel_step is not None else float(eps) ** (1.0 / (order + 1))
    sign = np.where(v >= 0, 1.0, -1.0).astype(v.dtype)
    h = (r * sign * np.maximum(1.0, np.abs(v))).astype(v.dtype)
    exact = (v + h) - v
    return np.where(exact == 0, h, exact)


class _FiniteDifference:
    order: int = 1

    def __init__(self, rel_step: float | None = None) -> None:
        self.nfev = 0  # cost evaluations made, for Result.nfev
        self.rel_step = None if rel_step is None else number(
            type(self).__name__.lower(), "rel_step", rel_step, low=0.0)

    def __repr__(self) -> str:
        arg = "" if self.rel_step is None else f"rel_step={self.rel_step!r}"
        return f"{type(self).__name__}({arg})"

    def gradient(self, objective: Objective, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        if out is None:
            out = np.empty_like(v)
        cost = objective.cost
        f0 = cost(v, batch)  # as scipy does: its dtype sets the step, and C(v) is finite
        self.nfev += 1 + self.order * v.size
        h = fd_steps(v, self.order, self.rel_step, _dtype_of(f0))
        w = v.copy()
        isfinite = math.isfinite
        for i in range(v.size):
            vi, hi = w[i], h[i]
            w[i] = vi + hi
            fp = cost(w, batch)
            if self.order == 1:
                out[i] = (fp - f0) / hi
            else:
                w[i] = vi - hi
                fm = cost(w, batch)
                out[i] = (fp - fm) / (2 * hi)
                fp = fp if not isfinite(fp) else fm
            if not isfinite(fp):
                raise _probe_failed(objective, fp, f0, i, hi, self.order)
            w[i] = vi
        return out


def _dtype_of(value: Any) -> Any:
    """The dtype of a cost's value when it is a numpy scalar (a float32 cost),
    else None (a Python float: float64)."""
    return value.dtype if isinstance(value, (np.floating, np.ndarray)) else None


def _probe_failed(objective: Objective, value: float, f0: float, i: int, h: float,
                  order: int) -> DivergenceError:
    where = f"v + h·e_{i}" if order == 1 else f"v ± h·e_{i}"
    return DivergenceError(
        f"the cost of {objective!r} is {value} at the finite-difference probe {where} "
        f"(coordinate {i}, h = {h:.3g}) although C(v) = {f0:.6g} is finite: C is not defined "
        "or not finite right next to v (a log or a square root at the edge of its domain?). "
        "Start farther from the edge, or give the objective an analytic gradient.",
        iteration=-1, last_finite_cost=float(f0))


class Forward(_FiniteDifference):
    """Forward differences ∂C/∂v_i ≈ (C(v + h e_i) − C(v)) / h, h ∝ EPS^½.

    Parameters
    ----------
    rel_step : float, optional
        The relative step r (default: square root of the dtype's epsilon).
    """

    order = 1


class Central(_FiniteDifference):
    """Central differences ∂C/∂v_i ≈ (C(v + h e_i) − C(v − h e_i)) / 2h, h ∝ EPS^⅓.

    Parameters
    ----------
    rel_step : float, optional
        The relative step r (default: cube root of the dtype's epsilon).
    """

    order = 2


class ComplexStep:
    """Complex-step differences ∂C/∂v_i ≈ Im C(v + i h e_i) / h with h = 1e-20.

    Exact to machine precision, but the objective must opt in by providing
    ``complex_cost(v, batch)`` (:class:`gdkit.protocols.ComplexCost`).
    """

    H: Final = 1e-20

    def __init__(self) -> None:
        self.nfev = 0  # cost evaluations made, for Result.nfev

    def __repr__(self) -> str:
        return "ComplexStep()"

    def validate(self, objective: Objective) -> None:
        """Refuse an objective that has not declared a complex-safe cost."""
        if not isinstance(objective, ComplexCost):
            raise ConfigError(
                f"{objective!r} does not support complex-step differences: it needs a "
                "complex_cost(v, batch) method evaluating C holomorphically on complex v "
                "(gdkit.as_objective(f, dim, complex_safe=True) for a callable). "
                "Use gradient='central' instead."
            )

    def gradient(self, objective: Objective, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        complex_cost: Any = getattr(objective, "complex_cost", None)
        if complex_cost is None:
            self.validate(objective)
        if out is None:
            out = np.empty_like(v)
        w = v.astype(np.complex128)
        h = self.H
        self.nfev += v.size
        for i in range(v.size):
            vi = w[i]
            w[i] = vi + 1j * h
            value = complex_cost(w, batch)
            if i == 0 and not np.iscomplexobj(value):
                what = (f"the complex_cost of {objective!r} returned {type(value).__name__} "
                        f"{value!r} for a complex v: it drops the imaginary part (abs, real, "
                        "float() or a comparison on v), which would make every complex-step "
                        "derivative 0.")
                raise ConfigError(f"{what} Make it holomorphic in v, or use "
                                  "gradient='central'.", setting="gradient", what=what)
            out[i] = complex(value).imag / h
            w[i] = vi
        return out


@gdkit.hookimpl
def gdkit_gradient_sources() -> dict[str, Any]:
    return {"forward": Forward, "central": Central, "complex-step": ComplexStep}
