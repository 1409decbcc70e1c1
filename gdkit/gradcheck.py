"""Check a gradient against the cost it claims to differentiate.

:func:`check_gradient` compares ∇C with the derivatives the cost itself
gives: central differences (C(v + hu) − C(v − hu)) / 2h, or the complex step
Im C(v + ihu) / h where the objective evaluates C on complex vectors
(:class:`~gdkit.protocols.ComplexCost`), along coordinate directions (every
coordinate, or a random sample of them when m is large) and along random unit
directions u, where ∇C·u is the directional derivative that eq. (9) relies
on. Tolerances come from v's dtype and from the errors of the differences
themselves, estimated at the point. The plugin author's kit
(:mod:`gdkit.testing`) runs the same comparisons at points hypothesis
chooses.

>>> import numpy as np, gdkit
>>> report = gdkit.check_gradient("rosenbrock", np.array([-1.2, 1.0]))
>>> report.passed, report.method
(True, 'complex-step')
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from .errors import ConfigError, ShapeError
from .gradcheck_report import Comparison, GradientCheck
from .protocols import (
    Batch,
    ComplexCost,
    FloatArray,
    GradientSource,
    HasGradient,
    HasInitialPoint,
    Objective,
    Sampled,
    ValidatesObjective,
)
from .validate import choice, integer, number

__all__ = ["FULL_BATCH_LIMIT", "MAX_DIRECTIONS", "Comparison", "GradientCheck", "check_gradient"]

FULL_BATCH_LIMIT: Final = 2000
MAX_DIRECTIONS: Final = 10_000
"""The most random directions :func:`check_gradient` checks (``--directions``)."""
"""Sampled objectives with more training inputs are checked on a random
mini-batch (of :data:`CHECK_BATCH` inputs) rather than on the full cost."""
CHECK_BATCH: Final = 100
"""Size of that mini-batch."""
COMPLEX_H: Final = 1e-20
"""The complex step: small enough that h² terms vanish, with no cancellation."""
_TINY: Final = 1e-300
_F64: Final = np.dtype(np.float64)

Method = Literal["auto", "central", "complex-step"]


def _eps(dtype: np.dtype[Any]) -> float:
    return float(np.finfo(dtype).eps)


def _default_rtol(dtype: np.dtype[Any]) -> float:
    """Relative tolerance against central differences: about 2 ε^⅓, the
    accuracy central differences reach in the dtype (1e-5 in float64, 1e-2 in
    float32), on top of the error estimated at the point."""
    return 1e-5 if dtype == _F64 else 1e-2


def _complex_rtol(dtype: np.dtype[Any]) -> float:
    """Relative tolerance against the complex step, which is exact to
    rounding: √ε of v's dtype (1.5e-8 in float64, 3.5e-4 in float32)."""
    return math.sqrt(_eps(dtype))


def _exact_steps(v: FloatArray, u: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """v ± h·u in v's dtype."""
    step = (h * u).astype(v.dtype)
    return v + step, v - step


def _central(cost: Callable[[FloatArray], float], grad: FloatArray, v: FloatArray,
             u: FloatArray, h: float, rtol: float, label: str,
             index: int | None = None) -> Comparison:
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
    return Comparison(label, an, fd, abs(errors[0]), tol, h, index)


def _complex(complex_cost: Callable[[Any], Any], c: float, grad: FloatArray, v: FloatArray,
             u: FloatArray, rtol: float, label: str, index: int | None = None) -> Comparison:
    """Compare grad·u with Im C(v + i h u) / h, exact to rounding.

    The tolerance is rtol relative, plus the rounding of ∇C·u and of C in v's
    dtype (``1e3·ε·(Σ|gᵢuᵢ| + |C|)``).
    """
    w = v.astype(np.complex128) + 1j * COMPLEX_H * u
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)  # float() of complex
        try:
            value = complex_cost(w)
        except np.exceptions.ComplexWarning:
            value = 0.0
    if not np.iscomplexobj(value):
        raise ConfigError(f"complex_cost returned {type(value).__name__}, not a complex number "
                          "(a float() or abs() inside the cost drops the imaginary part the "
                          "complex step needs): use method='central'.")
    ref = complex(value).imag / COMPLEX_H
    g64 = grad.astype(np.float64)
    an = float(g64 @ u)
    tol = (rtol * max(abs(an), abs(ref))
           + 1e3 * _eps(v.dtype) * (float(np.abs(g64 * u).sum()) + abs(c)) + _TINY)
    return Comparison(label, an, ref, abs(an - ref), tol, COMPLEX_H, index)


def _directions(v: FloatArray, rng: np.random.Generator, coordinates: int, random: int = 2,
                ) -> Iterator[tuple[str, int | None, FloatArray, float]]:
    """Unit vectors to differentiate along, with their labels, coordinate index
    and central-difference step: the coordinates (a sorted random sample of
    ``coordinates`` of them when m is larger), then ``random`` random unit
    directions."""
    dim = v.size
    eps = _eps(v.dtype)
    coords = range(dim) if dim <= coordinates else np.sort(rng.choice(dim, coordinates,
                                                                       replace=False))
    for i in coords:
        e = np.zeros(dim)
        e[int(i)] = 1.0
        yield f"∂C/∂v[{int(i)}]", int(i), e, eps ** (1 / 3) * max(1.0, abs(float(v[int(i)])))
    scale = max(1.0, float(np.max(np.abs(v)))) if dim else 1.0
    for k in range(random):
        u = rng.standard_normal(dim)
        u /= np.linalg.norm(u)
        yield f"∇C·u (random unit direction #{k + 1})", None, u, eps ** (1 / 3) * scale


def check_gradient(objective: Objective | str | Callable[[FloatArray], float],
                   v: npt.ArrayLike | None = None, *,
                   gradient: GradientSource | str | None = None,
                   jac: Callable[[FloatArray], Any] | None = None, method: Method = "auto",
                   batch: Batch | int | None = None, coordinates: int = 100,
                   directions: int = 3, rtol: float | None = None, dtype: Any = None,
                   seed: int = 0) -> GradientCheck:
    """Compare a gradient with the derivatives of the cost at one point.

    Each comparison is one directional derivative ∇C·u (eq. 9): along a
    coordinate (u = eᵢ, giving ∂C/∂vᵢ) or along a random unit vector, which
    tests every coordinate at once and is what descent relies on.

    Parameters
    ----------
    objective : Objective, str or callable
        An objective, a registered objective's name (built with its defaults;
        ``gdkit.objective(name, **options)`` for others), or a callable
        ``f(v) -> float`` with its gradient in ``jac``.
    v : array_like, optional
        The point. Default: the objective's ``initial_point`` drawn with
        ``seed``, else a standard normal vector.
    gradient : GradientSource or str, optional
        The gradient to check. Default: the objective's own (analytic)
        ``gradient`` method, or ``jac``.
    jac : callable, optional
        ∇C of a callable ``objective``.
    method : {"auto", "central", "complex-step"}
        What to compare with: central differences, or the complex step
        Im C(v + ihu)/h (exact to rounding; needs ``complex_cost``).
        ``"auto"`` takes the complex step where the objective offers it
        (to check the ``complex-step`` gradient source itself, ask for
        ``"central"``).
    batch : array of int or int, optional
        Check the mini-batch cost and gradient on these training inputs (an
        int: that many drawn with ``seed``). Default: the full cost, or
        :data:`CHECK_BATCH` random inputs when there are more than
        :data:`FULL_BATCH_LIMIT`.
    coordinates : int, default 100
        Check every coordinate when m is at most this, else a random sample of this many.
    directions : int, default 3
        Random unit directions to check, at most :data:`MAX_DIRECTIONS`.
    rtol : float, optional
        Relative tolerance, on top of the error of the differences estimated
        at v (truncation from the steps h and 2h, rounding from ``|C|``). Default
        from v's dtype: 1e-5 in float64 and 1e-2 in float32 against central
        differences, √ε against the complex step.
    dtype : dtype, optional
        Cast v to this float dtype (default: v's, or float64).
    seed : int, default 0
        Seeds the default point, the sampled coordinates, directions and batch.

    Returns
    -------
    GradientCheck
        ``passed``, the errors, the worst coordinate and every comparison;
        ``str()`` of it is a report.

    Raises
    ------
    gdkit.errors.ConfigError
        No gradient to check, a method the objective cannot support, or a
        bad option.
    gdkit.errors.ShapeError
        v or the gradient has the wrong shape or dtype.

    Examples
    --------
    >>> import numpy as np, gdkit
    >>> f = lambda v: float(np.sum(v ** 4))
    >>> wrong = lambda v: 3 * v ** 3          # should be 4 v³
    >>> check = gdkit.check_gradient(f, np.array([1.0, -2.0]), jac=wrong)
    >>> check.passed, check.worst_coordinate.index
    (False, 1)
    """
    opts = _options(method, coordinates, directions, rtol, seed)
    obj, point, rng = _at_point(objective, v, jac, dtype, opts.seed)
    label, chosen, use_complex, g = _gradient_at(obj, point, gradient, batch, rng, opts.method)
    return _compare(obj, point, g, chosen, label, use_complex, rng, opts)


class _Options(NamedTuple):
    """check_gradient's options, checked."""

    method: str
    coordinates: int
    directions: int
    rtol: float | None
    seed: int


def _options(method: str, coordinates: int, directions: int, rtol: float | None,
             seed: int) -> _Options:
    method = choice("check_gradient", "method", method, ("auto", "central", "complex-step"))
    coordinates = integer("check_gradient", "coordinates", coordinates, minimum=0)
    directions = integer("check_gradient", "directions", directions, minimum=0)
    if directions > MAX_DIRECTIONS:
        what = (f"{directions:,}: at most {MAX_DIRECTIONS:,} random directions are checked "
                "(each costs two evaluations of C and is kept in the report). Ask for fewer.")
        raise ConfigError(f"check_gradient: directions = {what}", setting="directions",
                          what=what)
    if coordinates == 0 and directions == 0:
        raise ConfigError("check_gradient: coordinates=0 and directions=0 check nothing; "
                          "ask for at least one.")
    if rtol is not None:
        rtol = number("check_gradient", "rtol", rtol, low=0.0)
    seed = integer("check_gradient", "seed", seed, minimum=0)
    return _Options(method, coordinates, directions, rtol, seed)


def _at_point(objective: Any, v: npt.ArrayLike | None, jac: Callable[[FloatArray], Any] | None,
              dtype: Any, seed: int) -> tuple[Objective, FloatArray, np.random.Generator]:
    """The objective, the point checked and the generator (seeded) that drew it."""
    from .descent import _objective, _starting_point  # the loop's own rules for both

    if v is None and callable(objective) and not isinstance(objective, Objective):
        raise ConfigError("check_gradient: a callable objective needs the point v.")
    obj = _objective(objective, v, jac, None)
    rng = np.random.default_rng(seed)
    if v is None and not isinstance(obj, HasInitialPoint):
        v = rng.standard_normal(int(obj.dim))
    point = _starting_point(obj, v, rng, dtype, name="v")
    return obj, point, rng


def _gradient_at(obj: Objective, point: FloatArray, gradient: GradientSource | str | None,
                 batch: Batch | int | None, rng: np.random.Generator, method: str,
                 ) -> tuple[str, Batch | None, bool, FloatArray]:
    """The gradient checked (its label), the batch, whether the complex step is
    the reference, and the gradient at ``point``."""
    from .parts import gradient_source

    if isinstance(gradient, str):
        gradient = gradient_source(gradient)
    grad_fn, label = _gradient(obj, gradient)
    chosen = _batch(obj, batch, rng)
    use_complex = _use_complex(obj, method)
    g = grad_fn(point, chosen)
    if not isinstance(g, np.ndarray) or g.shape != point.shape:
        raise ShapeError(f"the {label} gradient of {obj!r} returned "
                         f"{type(g).__name__} of shape {getattr(g, 'shape', None)}; v has "
                         f"shape {point.shape}.")
    return label, chosen, use_complex, g


def _compare(obj: Objective, point: FloatArray, g: FloatArray, chosen: Batch | None, label: str,
             use_complex: bool, rng: np.random.Generator, opts: _Options) -> GradientCheck:
    """Every comparison, against the complex step or central differences."""
    rtol, coordinates, directions = opts.rtol, opts.coordinates, opts.directions
    o: Any = obj

    def cost(w: FloatArray) -> float:
        return float(o.cost(w, chosen))

    comps: list[Comparison] = []
    if use_complex:
        c = cost(point)
        tol = _complex_rtol(point.dtype) if rtol is None else rtol
        for text, i, u, _ in _directions(point, rng, coordinates, directions):
            comps.append(_complex(lambda w: o.complex_cost(w, chosen), c, g, point, u, tol,
                                  text, i))
    else:
        tol = _default_rtol(point.dtype) if rtol is None else rtol
        for text, i, u, h in _directions(point, rng, coordinates, directions):
            comps.append(_central(cost, g, point, u, h, tol, text, i))
    return GradientCheck(repr(obj), label, "complex-step" if use_complex else "central",
                         point.dtype.name, int(obj.dim),
                         None if chosen is None else int(np.size(chosen)), tuple(comps), tol)


def _gradient(obj: Objective, source: GradientSource | None,
              ) -> tuple[Callable[[FloatArray, Batch | None], Any], str]:
    """The gradient to check, as a function of (v, batch), and its name."""
    if source is None:
        if not isinstance(obj, HasGradient):
            raise ConfigError(f"{obj!r} has no analytic gradient to check: pass gradient= "
                              "a gradient source (or jac= for a callable).")
        return obj.gradient, "analytic"
    if isinstance(source, ValidatesObjective):
        source.validate(obj)
    return (lambda w, b: source.gradient(obj, w, b)), repr(source)


def _batch(obj: Objective, batch: Batch | int | None, rng: np.random.Generator) -> Batch | None:
    """The mini-batch to check on, or None for the full cost."""
    if batch is None:
        if isinstance(obj, Sampled) and int(obj.n_samples) > FULL_BATCH_LIMIT:
            return np.sort(rng.choice(int(obj.n_samples), CHECK_BATCH,
                                      replace=False)).astype(np.intp)
        return None
    if not isinstance(obj, Sampled):
        raise ConfigError(f"batch= needs a sampled objective (with n_samples); {obj!r} is "
                          "not one.")
    n = int(obj.n_samples)
    if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool):
        size = integer("check_gradient", "batch", batch, minimum=1)
        if size > n:
            raise ConfigError(f"batch={size} is more than the {n} training inputs of {obj!r}.")
        return np.sort(rng.choice(n, size, replace=False)).astype(np.intp)
    arr = np.asarray(batch)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ShapeError("batch= must be an int or a non-empty 1-D array of input indices.")
    if int(arr.min()) < 0 or int(arr.max()) >= n:
        raise ShapeError(f"batch= holds indices outside 0..{n - 1}.")
    return arr.astype(np.intp)


def _use_complex(obj: Objective, method: str) -> bool:
    """Whether to compare with the complex step."""
    offers = isinstance(obj, ComplexCost)
    if method == "complex-step" and not offers:
        raise ConfigError(f"method='complex-step' needs an objective with complex_cost; "
                          f"{obj!r} has none: use method='central'.")
    return method == "complex-step" or (method == "auto" and offers)
