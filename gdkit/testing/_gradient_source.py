""":func:`check_gradient_source` and its checks."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GdkitError, PluginError
from ..protocols import (
    Batch,
    FloatArray,
    GradientSource,
    HasGradient,
    Objective,
    Sampled,
    ValidatesObjective,
)
from ..registry import check_part
from ._common import (
    _F64,
    _TINY,
    ACCURACY,
    DEFAULT_MAX_EXAMPLES,
    DESCENT,
    DETERMINISM,
    DTYPES,
    FINITE,
    GRADIENT_SOURCE_CHECKS,
    MINI_BATCH,
    PROTOCOL,
    PURITY,
    PartReport,
    part_label,
)
from ._harness import (
    _Checker,
    _describe,
    _into_out,
    _on_references,
    _Point,
    _ref,
    _ref_name,
    _sample_batch,
    _vector,
)
from ._numeric import _eps, _first_diff, _positive_attr, _same_bits
from ._references import reference_objectives

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase


def check_gradient_source(
    source: GradientSource,
    *,
    name: str | None = None,
    objectives: Sequence[Objective] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    bound: float = 2.0,
    rtol: float = 1e-4,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that a gradient source gives ∇C, within the accuracy its dtype allows.

    Parameters
    ----------
    source : GradientSource
    name : str, optional
        How failures name it (default: its repr).
    objectives : sequence of Objective, optional
        Objectives with an analytic gradient to compare against (default:
        :func:`reference_objectives`). One the source's ``validate`` refuses
        with a :class:`~gdkit.errors.GdkitError` is noted and left out.
    max_examples, dtypes, bound, skip, database, derandomize
        As for :func:`check_objective`.
    rtol : float, default 1e-4
        Relative tolerance, on top of the error forward differences are
        allowed in v's dtype (``10·√m·(½ h L + 4 ε |C| / h)`` with
        ``h = √ε·max(1, |vᵢ|)``, L the objective's curvature).

    Returns
    -------
    PartReport

    Notes
    -----
    The checks (:data:`GRADIENT_SOURCE_CHECKS`): ``protocol`` (a ``gradient``
    method; ``validate``, if any, accepts some reference); ``purity`` (v and
    the batch unchanged); ``shapes and dtypes`` (v's shape and dtype, ``out``
    overwritten and returned); ``determinism``; ``finite
    outputs``; ``accuracy vs analytic gradient``; ``mini-batch`` (the batch is
    passed on: on a sampled objective the result is the batch's gradient);
    ``descent (eq. 9)`` (with η = 1/(2L) the step −η·gradient does not raise
    C).
    """
    src = source
    chk = _Checker(name or part_label(src), "gradient source", GRADIENT_SOURCE_CHECKS,
                   max_examples=max_examples, database=database, derandomize=derandomize,
                   skip=skip)
    candidates = list(reference_objectives() if objectives is None else objectives)
    for ref in candidates:
        if not isinstance(ref, HasGradient):
            raise ValueError(f"objectives= must have an analytic gradient to compare "
                             f"against; {ref!r} has none.")
    refs: list[Objective] = []

    def protocol() -> None:
        try:
            check_part("gradient source", src, chk.part, "")
        except PluginError:
            chk.fail(PROTOCOL, f"a {type(src).__name__} without a gradient method is not a "
                               "GradientSource (gdkit.protocols.GradientSource)")
        for ref in candidates:
            if isinstance(src, ValidatesObjective):
                try:
                    src.validate(ref)
                except GdkitError as exc:
                    chk.notes.append(f"refuses {ref!r}: {exc}")
                    continue
                except Exception as exc:  # noqa: BLE001 - reported
                    chk.fail(PROTOCOL, f"validate({ref!r}) raised {type(exc).__name__}: {exc}; "
                                       "refuse an objective with a gdkit.errors.GdkitError")
            refs.append(ref)
        if not refs:
            chk.fail(PROTOCOL, "validate() refused every reference objective: "
                               + "; ".join(chk.notes) + ". Pass objectives= it accepts.")

    chk.once(PROTOCOL, protocol)
    if not refs:  # protocol skipped on request
        refs = candidates
    supported = _source_dtypes(chk, src, refs[0], [np.dtype(d) for d in dtypes], bound)
    everywhere = _on_references(refs, supported, bound)
    preferred = _on_references(refs, [_F64] if _F64 in supported else supported[:1], bound)
    chk.prop(PURITY, everywhere, lambda ex: _source_purity(chk, src, refs[_ref(ex)], ex))
    chk.prop(DTYPES, everywhere, lambda ex: _source_shapes(chk, src, refs[_ref(ex)], ex))
    chk.prop(DETERMINISM, everywhere,
             lambda ex: _source_determinism(chk, src, refs[_ref(ex)], ex))
    chk.prop(FINITE, everywhere, lambda ex: _source_finite(chk, src, refs[_ref(ex)], ex))
    chk.prop(ACCURACY, everywhere,
             lambda ex: _source_accuracy(chk, src, refs[_ref(ex)], ex, None, rtol))
    sampled = [i for i, r in enumerate(refs) if isinstance(r, Sampled)]
    if sampled:
        sub = [refs[i] for i in sampled]
        chk.prop(MINI_BATCH, _on_references(sub, supported, bound),
                 lambda ex: _source_accuracy(chk, src, sub[_ref(ex)], ex,
                                             _sample_batch(sub[_ref(ex)],  # type: ignore[arg-type]
                                                           ex.rng(), 6), rtol))
    else:
        chk.not_applicable(MINI_BATCH, "no sampled reference objective")
    chk.prop(DESCENT, preferred, lambda ex: _source_descent(chk, src, refs[_ref(ex)], ex))
    return chk.report()


def _source_dtypes(chk: _Checker, src: GradientSource, ref: Objective,
                   dtypes: list[np.dtype[Any]], bound: float) -> list[np.dtype[Any]]:
    probe = np.random.default_rng(0).uniform(-bound, bound, int(ref.dim))
    supported: list[np.dtype[Any]] = []
    for dt in dtypes:
        try:
            src.gradient(ref, probe.astype(dt))
        except GdkitError as exc:
            chk.notes.append(f"refuses {dt} v: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - reported
            chk.fail(DTYPES, f"gradient({ref!r}, v) raised {type(exc).__name__}: {exc} on a "
                             f"{dt} v. Accept {dt}, or refuse it with gdkit.errors.ShapeError",
                     _describe(probe.astype(dt)))
        supported.append(dt)
    if not supported:
        chk.fail(DTYPES, "refused v of every dtype tried: " + "; ".join(chk.notes))
    return supported


def _source_shapes(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    v = ex.v
    where = _ref_name(ref, ex)
    g = _vector(chk, DTYPES, "gradient(objective, v)",
                chk.call(DTYPES, where, "gradient(objective, v)", src.gradient, ref, v), v,
                where)
    _into_out(chk, DTYPES, "gradient(objective, v, out=out)",
              lambda out: src.gradient(ref, v, None, out), g, v, where)


def _source_purity(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    v = ex.v
    before = v.copy()
    batch = _sample_batch(ref, ex.rng(), 5) if isinstance(ref, Sampled) else None
    batch_before = None if batch is None else batch.copy()
    where = _ref_name(ref, ex)
    chk.call(PURITY, where, "gradient(objective, v, batch)", src.gradient, ref, v, batch)
    if not _same_bits(v, before):
        chk.fail(PURITY, f"gradient(objective, v) modified v{_first_diff(v, before)}: perturb "
                         "a private copy of v", _ref_name(ref, _Point(before, ex.aux)))
    if batch is not None and batch_before is not None and not _same_bits(batch, batch_before):
        chk.fail(PURITY, "gradient(objective, v, batch) modified the batch index array", where)


def _source_determinism(chk: _Checker, src: GradientSource, ref: Objective,
                        ex: _Point) -> None:
    v = ex.v
    where = _ref_name(ref, ex)
    g1 = np.array(chk.call(DETERMINISM, where, "gradient(objective, v)", src.gradient, ref, v))
    g2 = np.array(chk.call(DETERMINISM, where, "gradient(objective, v)", src.gradient, ref, v))
    if not _same_bits(g1, g2):
        chk.fail(DETERMINISM, f"two calls with the same objective and v gave different "
                              f"gradients{_first_diff(g2, g1)}", where)


def _source_finite(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    g = np.asarray(chk.call(FINITE, where, "gradient(objective, v)", src.gradient, ref, ex.v),
                   dtype=float)
    if not np.all(np.isfinite(g)):
        chk.fail(FINITE, "gradient(objective, v) has NaN or infinite entries", where)


def _curvature(ref: Objective, v: FloatArray) -> float:
    known = _positive_attr(ref, "curvature")
    if known is not None:
        return known
    g: Any = ref
    v64 = v.astype(np.float64)
    d = 1e-4 * max(1.0, float(np.max(np.abs(v64))))
    u = np.random.default_rng(0).standard_normal(v.size)
    u /= np.linalg.norm(u)
    diff = np.asarray(g.gradient(v64 + d * u), float) - np.asarray(g.gradient(v64), float)
    return 4.0 * max(float(np.linalg.norm(diff)) / d, 1e-12)


def _source_accuracy(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point,
                     batch: Batch | None, rtol: float) -> None:
    check = ACCURACY if batch is None else MINI_BATCH
    v = ex.v
    where = _ref_name(ref, ex) + ("" if batch is None else f", batch = {batch.tolist()}")
    got = np.asarray(chk.call(check, where, "gradient(objective, v, batch)", src.gradient, ref,
                              v, batch), dtype=np.float64)
    true = np.asarray(ref.gradient(v, batch), dtype=np.float64)  # type: ignore[attr-defined]
    if got.shape != true.shape:
        chk.fail(check, f"returned shape {got.shape}, expected {true.shape}", where)
    eps = _eps(v.dtype)
    va = np.abs(v.astype(np.float64))
    h = math.sqrt(eps) * np.maximum(1.0, va)
    c = abs(float(ref.cost(v, batch)))
    lip = _curvature(ref, v)
    per = 0.5 * h * lip + 4 * eps * c / h
    allowed = rtol * float(np.linalg.norm(true)) + 10 * float(np.linalg.norm(per)) + _TINY
    err = float(np.linalg.norm(got - true))
    if not err <= allowed:
        i = int(np.argmax(np.abs(got - true)))
        what = ("the batch's gradient: is the batch passed on to the objective?"
                if batch is not None else "the gradient")
        chk.fail(check, f"‖gradient − ∇C‖ = {err:.3g} > {allowed:.3g} allowed (relative error "
                        f"{err / max(float(np.linalg.norm(true)), _TINY):.3g}); coordinate {i}: "
                        f"got {got[i]:.10g}, exact {true[i]:.10g}. It should give {what}",
                 where)


def _source_descent(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    v = ex.v
    where = _ref_name(ref, ex)
    g = np.asarray(chk.call(DESCENT, where, "gradient(objective, v)", src.gradient, ref, v),
                   dtype=np.float64)
    true = np.asarray(ref.gradient(v), dtype=np.float64)  # type: ignore[attr-defined]
    eta = 1.0 / (2.0 * _curvature(ref, v))
    v64 = v.astype(np.float64)
    w = (v64 - eta * g).astype(v.dtype)
    predicted = float(true @ (w.astype(np.float64) - v64))
    c0, c1 = float(ref.cost(v)), float(ref.cost(w))
    rounding = 64 * _eps(v.dtype) * (abs(c0) + abs(c1)) + _TINY
    if -predicted <= 16 * rounding:
        return  # the predicted decrease is lost in the cost's rounding
    if c1 - c0 > rounding:
        chk.fail(DESCENT, f"the step −η·gradient with η = 1/(2L) = {eta:.3g} (small enough for "
                          f"this objective, whose curvature is at most L) raised C from "
                          f"{c0:.10g} to {c1:.10g}: the gradient does not point uphill", where)
