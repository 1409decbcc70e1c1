""":func:`check_objective` and its checks."""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import GdkitError, PluginError
from ..gradcheck import _central, _default_rtol, _directions
from ..gradcheck_report import Comparison as _Compare
from ..gradcheck_report import _worst
from ..protocols import (
    Batch,
    ComplexCost,
    Evaluates,
    FloatArray,
    HasGradient,
    HasInitialPoint,
    Objective,
    Sampled,
)
from ..registry import check_part
from ._common import (
    _F64,
    _TINY,
    COMPLEX_STEP,
    DEFAULT_MAX_EXAMPLES,
    DESCENT,
    DETERMINISM,
    DTYPES,
    EVALUATE,
    FINITE,
    FULL_BATCH_LIMIT,
    GRADIENT,
    INITIAL_POINT,
    MINI_BATCH,
    OBJECTIVE_CHECKS,
    PROTOCOL,
    PURITY,
    SMALL_DIM,
    PartReport,
    part_label,
)
from ._harness import _Checker, _describe, _into_out, _Point, _points, _sample_batch, _vector
from ._numeric import (
    _close,
    _eps,
    _first_diff,
    _is_real,
    _same_bits,
)
from ._objective_calculus import (
    _objective_complex,
    _objective_descent,
)

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase


def check_objective(
    objective: Objective,
    *,
    name: str | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    points: Callable[[np.random.Generator], Any] | None = None,
    bound: float = 2.0,
    rtol: float | None = None,
    fd_coords: int = 16,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that an objective keeps the promises gdkit's loop relies on.

    Parameters
    ----------
    objective : Objective
        The part to check (an instance, built with the configuration you ship).
    name : str, optional
        How failures name it (default: its repr).
    max_examples : int, default 20
        Examples hypothesis tries per check.
    dtypes : sequence of dtype, default ("float64", "float32")
        The dtypes of v to try. An objective may refuse one with a
        :class:`~gdkit.errors.GdkitError` (a float64-only network raising
        :class:`~gdkit.errors.ShapeError`): that is noted, not a failure;
        any other exception is.
    points : callable, optional
        ``points(rng) -> v``: where to evaluate (for a cost defined on part of
        R^m only). Default: for ``dim <= 16`` hypothesis draws each coordinate
        in [−bound, bound]; above, ``initial_point(rng)`` if the objective has
        one, else uniform in [−bound, bound].
    bound : float, default 2.0
    rtol : float, optional
        Relative tolerance of the gradient comparisons, on top of the
        estimated error of central differences (default 1e-5 for float64,
        1e-2 for float32).
    fd_coords : int, default 16
        Coordinates compared with central differences per example (all of
        them when dim is smaller; a random subset otherwise), plus two random
        directions.
    skip : mapping, optional
        Check name → reason, for checks that do not apply (reported).
    database : path or hypothesis ExampleDatabase, optional
        Opt in to hypothesis' example database (default: none, nothing written).
    derandomize : bool, default True
        The same examples on every run.

    Returns
    -------
    PartReport

    Raises
    ------
    CheckError
        An :class:`AssertionError` naming the part, the check and a minimal
        counterexample.

    Notes
    -----
    The checks, in order (:data:`OBJECTIVE_CHECKS`):

    - ``protocol``: ``dim`` is an integer >= 1, ``cost`` exists, ``n_samples``
      (if any) is an integer >= 1.
    - ``initial point``: ``initial_point(rng)`` is a finite float vector of
      shape (dim,), the same for the same seed.
    - ``purity``: neither ``cost`` nor ``gradient`` modifies v (or the batch).
    - ``shapes and dtypes``: for each dtype, ``cost`` returns a real number;
      ``gradient`` returns an array of v's shape and dtype, and with ``out=``
      overwrites every entry of ``out`` and returns it; the same on a batch.
    - ``determinism``: the same values give the same numbers, also when the
      same array is overwritten in place between calls (as the loop does).
    - ``finite outputs``: cost and gradient are finite.
    - ``gradient vs central differences``: the analytic gradient agrees with
      central differences on a subset of coordinates and on two random
      directions, within ``rtol`` plus the differences' own estimated error
      (from a second step 2h), relative error reported.
    - ``mini-batch`` (sampled objectives): the cost of a batch is the mean of
      its inputs' costs, independent of their order; all indices give the
      full cost; the batch gradient agrees with central differences of the
      batch cost and is the mean of the per-input gradients.
    - ``complex step`` (with ``complex_cost``): its real part is the cost and
      Im C(v + ihu)/h is the directional derivative.
    - ``descent (eq. 9)``: along Δv = −η∇C the change ΔC over −η‖∇C‖² tends
      to 1 as η → 0 (ΔC ≈ ∇C·Δv); once it does, no smaller step raises C.
    - ``evaluate`` (with ``evaluate``): a mapping of names to finite floats.
    """
    obj = objective
    chk = _Checker(name or part_label(obj), "objective", OBJECTIVE_CHECKS,
                   max_examples=max_examples, database=database, derandomize=derandomize,
                   skip=skip)
    chk.once(PROTOCOL, lambda: _objective_protocol(chk, obj))
    dim = int(obj.dim)
    make = points
    if make is None and dim > SMALL_DIM and isinstance(obj, HasInitialPoint):
        make = obj.initial_point
    if isinstance(obj, HasInitialPoint):
        chk.once(INITIAL_POINT, lambda: _initial_point(chk, obj))
    else:
        chk.not_applicable(INITIAL_POINT, "no initial_point")
    wanted = [np.dtype(d) for d in dtypes]
    supported = _supported_dtypes(chk, obj, wanted, make, bound)
    best = [_F64] if _F64 in supported else supported[:1]
    everywhere = _points(dim, supported, bound, make)
    preferred = _points(dim, best, bound, make)
    has_grad = isinstance(obj, HasGradient)
    chk.prop(PURITY, everywhere, lambda ex: _objective_purity(chk, obj, ex))
    chk.prop(DTYPES, everywhere, lambda ex: _objective_shapes(chk, obj, ex))
    chk.prop(DETERMINISM, everywhere, lambda ex: _objective_determinism(chk, obj, ex))
    chk.prop(FINITE, everywhere, lambda ex: _objective_finite(chk, obj, ex))
    if has_grad:
        chk.prop(GRADIENT, preferred,
                 lambda ex: _objective_gradient(chk, obj, ex, rtol, fd_coords))
    else:
        chk.not_applicable(GRADIENT, "no analytic gradient")
    if isinstance(obj, Sampled):
        chk.prop(MINI_BATCH, preferred, lambda ex: _objective_batches(chk, obj, ex, rtol))
    else:
        chk.not_applicable(MINI_BATCH, "not sampled (no n_samples)")
    if isinstance(obj, ComplexCost):
        chk.prop(COMPLEX_STEP, preferred, lambda ex: _objective_complex(chk, obj, ex))
    else:
        chk.not_applicable(COMPLEX_STEP, "no complex_cost")
    if has_grad or dim <= 64:
        chk.prop(DESCENT, preferred, lambda ex: _objective_descent(chk, obj, ex))
    else:
        chk.not_applicable(DESCENT, "no analytic gradient and dim > 64")
    if isinstance(obj, Evaluates):
        chk.once(EVALUATE, lambda: _objective_evaluate(chk, obj, best[0], make, bound))
    else:
        chk.not_applicable(EVALUATE, "no evaluate")
    return chk.report()


def _objective_protocol(chk: _Checker, obj: object) -> None:
    try:
        check_part("objective", obj, chk.part, "")
    except PluginError:
        chk.fail(PROTOCOL, f"a {type(obj).__name__} without dim and cost is not an Objective "
                           "(gdkit.protocols.Objective); wrap a plain callable with "
                           "gdkit.as_objective(f, dim, jac=...)")
    dim = getattr(obj, "dim", None)
    try:
        ok = not isinstance(dim, bool) and operator.index(dim) >= 1  # type: ignore[arg-type]
    except TypeError:
        ok = False
    if not ok:
        chk.fail(PROTOCOL, f"dim must be an integer >= 1 (the length of v), got {dim!r}")
    if isinstance(obj, Sampled):
        n = obj.n_samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            chk.fail(PROTOCOL, f"n_samples must be an integer >= 1 (the number of training "
                               f"inputs the cost is a mean over), got {n!r}")


def _initial_point(chk: _Checker, obj: HasInitialPoint) -> None:
    dim = int(obj.dim)  # type: ignore[attr-defined]
    for seed in (0, 1):
        what = f"initial_point(numpy.random.default_rng({seed}))"
        p = chk.call(INITIAL_POINT, None, what, obj.initial_point, np.random.default_rng(seed))
        q = chk.call(INITIAL_POINT, None, what, obj.initial_point, np.random.default_rng(seed))
        arr = np.asarray(p)
        if arr.shape != (dim,) or not np.issubdtype(arr.dtype, np.floating):
            chk.fail(INITIAL_POINT, f"{what} returned shape {arr.shape} and dtype {arr.dtype}; "
                                    f"it must be a float array of shape ({dim},)")
        if not np.all(np.isfinite(arr)):
            chk.fail(INITIAL_POINT, f"{what} contains NaN or infinite values")
        if not _same_bits(arr, np.asarray(q)):
            chk.fail(INITIAL_POINT, f"{what} gave different points for the same seed: draw "
                                    "every random number from rng, never from numpy.random "
                                    "or random")


def _probe(obj: Objective, make: Callable[[np.random.Generator], Any] | None,
           bound: float) -> FloatArray:
    rng = np.random.default_rng(0)
    raw = make(rng) if make is not None else rng.uniform(-bound, bound, int(obj.dim))
    return np.asarray(raw, dtype=np.float64)


def _supported_dtypes(chk: _Checker, obj: Objective, dtypes: list[np.dtype[Any]],
                      make: Callable[[np.random.Generator], Any] | None,
                      bound: float) -> list[np.dtype[Any]]:
    if not dtypes or any(not np.issubdtype(d, np.floating) for d in dtypes):
        raise ValueError(f"dtypes must be floating dtypes such as 'float64', 'float32'; "
                         f"got {dtypes!r}.")
    probe = _probe(obj, make, bound)
    supported: list[np.dtype[Any]] = []
    for dt in dtypes:
        v = probe.astype(dt)
        try:
            obj.cost(v)
            if isinstance(obj, HasGradient):
                obj.gradient(v)
        except GdkitError as exc:
            chk.notes.append(f"refuses {dt} v: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - reported
            chk.fail(DTYPES, f"cost or gradient raised {type(exc).__name__}: {exc} on a {dt} v. "
                             f"Accept {dt}, or refuse it with gdkit.errors.ShapeError saying "
                             "which dtype the objective needs", _describe(v))
        supported.append(dt)
    if not supported:
        chk.fail(DTYPES, f"refused v of every dtype tried ({', '.join(map(str, dtypes))}); "
                         + "; ".join(chk.notes))
    return supported


def _objective_shapes(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v
    c = chk.call(DTYPES, ex, "cost(v)", obj.cost, v)
    if not _is_real(c):
        chk.fail(DTYPES, f"cost(v) returned {type(c).__name__} {c!r}; it must return a real "
                         "number (a Python float)", ex)
    batch = _sample_batch(obj, ex.rng(), 5) if isinstance(obj, Sampled) else None
    if batch is not None:
        cb = chk.call(DTYPES, ex, "cost(v, batch)", obj.cost, v, batch)
        if not _is_real(cb):
            chk.fail(DTYPES, f"cost(v, batch) returned {type(cb).__name__} {cb!r}; it must "
                             "return a real number", ex)
    if not isinstance(obj, HasGradient):
        return
    for b in (None, batch) if batch is not None else (None,):
        label = "" if b is None else ", batch"
        g = _vector(chk, DTYPES, f"gradient(v{label})",
                    chk.call(DTYPES, ex, f"gradient(v{label})", obj.gradient, v, b), v, ex)
        _into_out(chk, DTYPES, f"gradient(v{label}, out=out)", _with_out(obj, v, b), g, v,
                  ex)


def _with_out(obj: HasGradient, v: FloatArray,
              batch: Batch | None) -> Callable[[FloatArray], object]:
    def call(out: FloatArray) -> object:
        return obj.gradient(v, batch, out)

    return call


def _objective_calls(obj: Objective, v: FloatArray,
                     batch: Batch | None) -> list[tuple[str, Callable[[], object]]]:
    calls: list[tuple[str, Callable[[], object]]] = [("cost(v)", lambda: obj.cost(v))]
    if batch is not None:
        calls.append(("cost(v, batch)", lambda: obj.cost(v, batch)))
    if isinstance(obj, HasGradient):
        calls.append(("gradient(v)", lambda: obj.gradient(v)))
        calls.append(("gradient(v, out=out)",
                      lambda: obj.gradient(v, None, np.empty_like(v))))
        if batch is not None:
            calls.append(("gradient(v, batch)", lambda: obj.gradient(v, batch)))
    return calls


def _objective_purity(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v
    before = v.copy()
    batch = _sample_batch(obj, ex.rng(), 5) if isinstance(obj, Sampled) else None
    batch_before = None if batch is None else batch.copy()
    for what, fn in _objective_calls(obj, v, batch):
        chk.call(PURITY, ex, what, fn)
        if not _same_bits(v, before):
            chk.fail(PURITY, f"{what} modified v{_first_diff(v, before)}: a cost or gradient "
                             "must never write to v (the loop's parameters); work on a copy",
                     _describe(before) + f", aux seed {ex.aux}")
        if batch is not None and batch_before is not None and not _same_bits(batch,
                                                                             batch_before):
            chk.fail(PURITY, f"{what} modified the batch index array", ex)


def _objective_determinism(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v
    rng = ex.rng()
    c1 = chk.call(DETERMINISM, ex, "cost(v)", obj.cost, v)
    c2 = chk.call(DETERMINISM, ex, "cost(v)", obj.cost, v)
    if not (c1 == c2 or (math.isnan(c1) and math.isnan(c2))):
        chk.fail(DETERMINISM, f"cost(v) returned {c1!r} then {c2!r} for the same v: same "
                              "input, same numbers (seed any randomness at construction)", ex)
    scale = max(1.0, float(np.max(np.abs(v))) if v.size else 1.0)
    w = (v + 0.1 * scale * rng.standard_normal(v.size)).astype(v.dtype)
    rtol = 1e3 * _eps(v.dtype)
    buf = v.copy()
    chk.call(DETERMINISM, ex, "cost(buf)", obj.cost, buf)
    buf[...] = w
    c_buf = chk.call(DETERMINISM, ex, "cost(buf)", obj.cost, buf)
    c_w = chk.call(DETERMINISM, ex, "cost(w)", obj.cost, w.copy())
    if not _close(c_buf, c_w, rtol):
        chk.fail(DETERMINISM, f"after the array passed to cost was overwritten in place with "
                              f"new values w, cost returned {c_buf!r}, but {c_w!r} for a fresh "
                              "copy of w: the cost must depend on v's values only (a cache "
                              "keyed on the array's identity?)", ex)
    if not isinstance(obj, HasGradient):
        return
    g1 = chk.call(DETERMINISM, ex, "gradient(v)", obj.gradient, v)
    g2 = chk.call(DETERMINISM, ex, "gradient(v)", obj.gradient, v)
    if isinstance(g1, np.ndarray) and isinstance(g2, np.ndarray) and not _same_bits(g1, g2):
        chk.fail(DETERMINISM, f"gradient(v) differs between two calls with the same v"
                              f"{_first_diff(g2, g1)}", ex)
    out = np.empty_like(v)
    buf = v.copy()
    chk.call(DETERMINISM, ex, "gradient(buf, out=out)", obj.gradient, buf, None, out)
    buf[...] = w
    g_buf = np.array(chk.call(DETERMINISM, ex, "gradient(buf, out=out)", obj.gradient, buf,
                              None, out))
    g_w = np.asarray(chk.call(DETERMINISM, ex, "gradient(w)", obj.gradient, w.copy()))
    gscale = float(np.max(np.abs(g_w))) if g_w.size else 0.0
    if g_buf.shape == g_w.shape and not np.allclose(g_buf, g_w, rtol=rtol, atol=rtol * gscale,
                                                    equal_nan=True):
        chk.fail(DETERMINISM, "after the array passed to gradient was overwritten in place "
                              "with new values w, gradient returned a different result than "
                              "for a fresh copy of w (a cache keyed on the array's identity?)",
                 ex)


def _objective_finite(chk: _Checker, obj: Objective, ex: _Point) -> None:
    batch = _sample_batch(obj, ex.rng(), 5) if isinstance(obj, Sampled) else None
    for what, fn in _objective_calls(obj, ex.v, batch):
        value = np.asarray(chk.call(FINITE, ex, what, fn), dtype=float)
        if not np.all(np.isfinite(value)):
            shown = value if value.ndim == 0 else "NaN or inf entries"
            chk.fail(FINITE, f"{what} is not finite ({shown}) at this v; if the objective is "
                             "defined on part of R^m only, pass points= to check it there", ex)


def _indices(batch: Batch) -> str:
    return str(batch.tolist()) if batch.size <= 8 else f"<{batch.size} indices>"


def _fd_batch(obj: Objective, rng: np.random.Generator) -> Batch | None:
    if isinstance(obj, Sampled) and int(obj.n_samples) > FULL_BATCH_LIMIT:
        return _sample_batch(obj, rng, 64)
    return None


def _comparison_problem(c: _Compare, what: str) -> str:
    rel = c.error / max(abs(c.reference), abs(c.analytic), _TINY)
    return (f"{c.label}: {what} {c.analytic:.10g}, central differences {c.reference:.10g} "
            f"(h = {c.h:.3g}): relative error {rel:.3g}, an error of {c.error:.3g} where "
            f"{c.tolerance:.3g} is allowed")


def _objective_gradient(chk: _Checker, obj: Objective, ex: _Point, rtol: float | None,
                        fd_coords: int) -> None:
    v = ex.v
    rng = ex.rng()
    batch = _fd_batch(obj, rng)
    what = "gradient(v)" if batch is None else "gradient(v, batch)"
    g = _vector(chk, GRADIENT, what,
                chk.call(GRADIENT, ex, what, obj.gradient, v, batch), v, ex)  # type: ignore[attr-defined]
    if not np.all(np.isfinite(g)):
        chk.fail(GRADIENT, f"{what} is not finite", ex)
    tol = _default_rtol(v.dtype) if rtol is None else rtol

    def cost(w: FloatArray) -> float:
        return float(chk.call(GRADIENT, ex, "cost", obj.cost, w, batch))

    comps = [_central(cost, g, v, u, h, tol, label, i) for label, i, u, h in
             _directions(v, rng, fd_coords)]
    worst = _worst(comps)
    if worst is not None:
        where = "" if batch is None else f" on a mini-batch of {batch.size} inputs"
        chk.fail(GRADIENT, _comparison_problem(worst, "analytic gradient") + where, ex)


def _objective_batches(chk: _Checker, obj: Sampled, ex: _Point, rtol: float | None) -> None:
    o: Any = obj
    v = ex.v
    rng = ex.rng()
    n = int(obj.n_samples)
    eq = 1e3 * _eps(v.dtype)

    def cost(b: Batch) -> float:
        return float(chk.call(MINI_BATCH, ex, f"cost(v, batch={_indices(b)})", o.cost, v, b))

    if n >= 2:
        i, j = (int(k) for k in rng.choice(n, 2, replace=False))
        ci, cj = cost(np.array([i], np.intp)), cost(np.array([j], np.intp))
        cij, cji = cost(np.array([i, j], np.intp)), cost(np.array([j, i], np.intp))
        scale = max(abs(ci), abs(cj))
        if not _close(cij, (ci + cj) / 2, eq, scale):
            chk.fail(MINI_BATCH, f"cost(v, [{i}, {j}]) = {cij!r} is not the mean of cost(v, "
                                 f"[{i}]) = {ci!r} and cost(v, [{j}]) = {cj!r}: a sampled "
                                 "cost must be the mean over the batch's inputs (eq. 6), not "
                                 "a sum", ex)
        if not _close(cij, cji, eq, scale):
            chk.fail(MINI_BATCH, f"cost(v, [{i}, {j}]) = {cij!r} but cost(v, [{j}, {i}]) = "
                                 f"{cji!r}: the order of a batch must not matter", ex)
    if n <= FULL_BATCH_LIMIT:
        full = float(chk.call(MINI_BATCH, ex, "cost(v)", o.cost, v))
        every = cost(np.arange(n, dtype=np.intp))
        if not _close(full, every, eq):
            chk.fail(MINI_BATCH, f"cost(v) = {full!r} but cost(v, batch=arange(n_samples)) = "
                                 f"{every!r}: the full cost must be the mean over all "
                                 "n_samples inputs", ex)
    if not isinstance(obj, HasGradient):
        return
    batch = _sample_batch(obj, rng, 8)
    g = _vector(chk, MINI_BATCH, "gradient(v, batch)",
                chk.call(MINI_BATCH, ex, "gradient(v, batch)", obj.gradient, v, batch), v, ex)
    u = rng.standard_normal(v.size)
    u /= np.linalg.norm(u)
    h = _eps(v.dtype) ** (1 / 3) * max(1.0, float(np.max(np.abs(v))))
    comp = _central(lambda w: float(chk.call(MINI_BATCH, ex, "cost(w, batch)", o.cost, w,
                                             batch)), g, v, u, h,
                    _default_rtol(v.dtype) if rtol is None else rtol,
                    "∇C_batch·u (random unit direction)")
    if not comp.error <= comp.tolerance:
        chk.fail(MINI_BATCH, _comparison_problem(comp, "gradient(v, batch)")
                 + f", batch = {batch.tolist()}", ex)
    if n >= 2:
        i, j = (int(k) for k in batch[:2]) if batch.size >= 2 else (0, 1)
        def grad(b: list[int]) -> npt.NDArray[np.float64]:
            return np.asarray(chk.call(MINI_BATCH, ex, f"gradient(v, batch={b})", o.gradient,
                                       v, np.array(b, np.intp)), dtype=float)

        gi, gj, gij = grad([i]), grad([j]), grad([i, j])
        allowed = eq * (float(np.abs(gi).sum() + np.abs(gj).sum())) + _TINY
        if float(np.abs(gij - (gi + gj) / 2).max()) > allowed:
            chk.fail(MINI_BATCH, f"gradient(v, [{i}, {j}]) is not the mean of the gradients "
                                 f"of the inputs {i} and {j} (eq. 18)", ex)


def _objective_evaluate(chk: _Checker, obj: Evaluates, dtype: np.dtype[Any],
                        make: Callable[[np.random.Generator], Any] | None, bound: float) -> None:
    v = _probe(obj, make, bound).astype(dtype)  # type: ignore[arg-type]
    res = chk.call(EVALUATE, _describe(v), "evaluate(v)", obj.evaluate, v)
    if not isinstance(res, Mapping):
        chk.fail(EVALUATE, f"evaluate(v) returned {type(res).__name__}; it must return a "
                           "mapping name -> float")
    for k, val in res.items():
        if not isinstance(k, str) or not _is_real(val) or not math.isfinite(float(val)):
            chk.fail(EVALUATE, f"evaluate(v) returned {k!r}: {val!r}; every entry must be "
                               "a str name and a finite float")
