""":func:`check_transform` and :func:`check_step_size`: the parts of a chain.

Each checks what is particular to its protocol (``init`` is pure, the state
survives a checkpoint, a step size moves v exactly along d, Armijo along a
transform's direction meets its sufficient-decrease condition), then runs
:func:`check_step_rule` on the chain the part makes: a transform before a
small fixed η, or the step size alone.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ..compose import chain
from ..errors import PluginError, StepError
from ..parts import step_size
from ..protocols import FloatArray, HasGradient, Objective, StepContext, StepSize, Transform
from ..registry import Kind, check_part
from ._common import (
    _F64,
    ALONG,
    CHECKPOINT,
    DEFAULT_MAX_EXAMPLES,
    DTYPES,
    INIT,
    PROTOCOL,
    REPR,
    STEP_SIZE_CHECKS,
    SUFFICIENT,
    TRANSFORM_CHECKS,
    CheckError,
    PartReport,
    part_label,
)
from ._harness import _Checker, _Declined, _on_references, _Point, _ref, _ref_name
from ._numeric import _eps, _first_diff, _is_real, _positive_attr, _same_bits, trial_gradient
from ._references import reference_objectives
from ._step_rule import check_repr, check_step_rule

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

__all__ = ["check_step_size", "check_transform"]


def check_transform(
    transform: Transform | Callable[[], Transform],
    *,
    name: str | None = None,
    objectives: Sequence[Objective] | None = None,
    eta: float = 0.05,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    bound: float = 2.0,
    skip: dict[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that a transform keeps the promises a :func:`gdkit.chain` relies on.

    Parameters
    ----------
    transform : Transform or callable
        The transform as configured, or a factory returning a fresh one.
    eta : float, default 0.05
        The fixed η of the chain ``chain(transform, fixed)`` that is then
        checked as a step rule (small enough to descend on the reference
        objectives, whose curvature is at most 2, once the transform has
        reshaped the direction).
    name, objectives, max_examples, dtypes, bound, skip, database, derandomize
        As for :func:`check_step_rule`.

    Notes
    -----
    The checks (:data:`TRANSFORM_CHECKS`), then every check of
    :func:`check_step_rule` on ``chain(transform, fixed(eta))``:

    - ``protocol``: ``init`` and ``update`` methods.
    - ``repr``: equal for equally configured instances, no address.
    - ``init``: ``init(v)`` leaves v unchanged, returns a tuple (a
      NamedTuple) of numbers and numeric arrays that share no memory with v,
      the same for the same v.
    - ``shapes and dtypes``: in float64 and float32, ``update`` keeps d
      finite and of v's dtype, does not modify v, and returns a state of the
      same fields, shapes and dtypes.
    - ``checkpoint round trip``: after three steps, the chain's state written
      to a checkpoint file and read back into a fresh chain takes the same next
      step, bit for bit.
    - ``armijo along the direction``: in ``chain(transform, armijo)``, after
      two steps (so the transform's state is not fresh), the next step meets
      Armijo's sufficient decrease along the transform's direction d,
      C(v + ηd) ≤ C(v) + c·η·∇C·d, or is refused with
      :class:`~gdkit.errors.StepError` (no step, or d not a descent direction).
    """
    factory, sample = _factory(transform, "check_transform")
    label = name or part_label(sample)
    chk = _Checker(label, "transform", TRANSFORM_CHECKS, max_examples=max_examples,
                   database=database, derandomize=derandomize, skip=skip)
    refs = _references(objectives)
    wanted = [np.dtype(d) for d in dtypes]
    everywhere, f64 = _on_references(refs, wanted, bound), _on_references(refs, [_F64], bound)
    fixed = step_size("fixed", eta=eta)

    def rule() -> Any:
        return chain(factory(), copy.deepcopy(fixed))

    chk.once(PROTOCOL, lambda: _protocol(chk, sample, "transform", Transform))
    _common_checks(chk, factory, refs, everywhere, f64, rule, "transform")
    chk.prop(SUFFICIENT, f64, lambda ex: _armijo_along(chk, factory, refs[_ref(ex)], ex))
    return _merge(chk.report(), check_step_rule(
        rule, name=f"chain({label}, {fixed!r})", objectives=objectives,
        max_examples=max_examples, dtypes=dtypes, bound=bound, database=database,
        derandomize=derandomize))


def check_step_size(
    size: StepSize | Callable[[], StepSize],
    *,
    name: str | None = None,
    objectives: Sequence[Objective] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    bound: float = 2.0,
    skip: dict[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that a step size keeps the promises a :func:`gdkit.chain` relies on.

    Parameters
    ----------
    size : StepSize or callable
        The step size as configured, or a factory returning a fresh one.
    name, objectives, max_examples, dtypes, bound, skip, database, derandomize
        As for :func:`check_step_rule`.

    Notes
    -----
    The checks (:data:`STEP_SIZE_CHECKS`), then every check of
    :func:`check_step_rule` on ``chain(size)``:

    - ``protocol``, ``repr``, ``init``: as for :func:`check_transform`.
    - ``shapes and dtypes``: in float64 and float32, ``move`` returns
      ``(η, state)`` with η a finite real >= 0, leaves v finite and of its
      dtype, leaves d unchanged, and keeps the state's fields, shapes and
      dtypes.
    - ``moves along d``: along a random descent direction d (not only −∇C),
      v moves to v + η·d (to rounding) with the η returned; and where η is
      small enough for the objective's curvature L (η‖d‖² L ≤ 2|∇C·d|) C does
      not rise (eq. 9 along d).
    - ``checkpoint round trip``: as for :func:`check_transform`.
    """
    factory, sample = _factory(size, "check_step_size")
    label = name or part_label(sample)
    chk = _Checker(label, "step size", STEP_SIZE_CHECKS, max_examples=max_examples,
                   database=database, derandomize=derandomize, skip=skip)
    refs = _references(objectives)
    wanted = [np.dtype(d) for d in dtypes]
    everywhere, f64 = _on_references(refs, wanted, bound), _on_references(refs, [_F64], bound)

    def rule() -> Any:
        return chain(factory())

    chk.once(PROTOCOL, lambda: _protocol(chk, sample, "step size", StepSize))
    _common_checks(chk, factory, refs, everywhere, f64, rule, "step size")
    return _merge(chk.report(), check_step_rule(
        rule, name=f"chain({label})", objectives=objectives, max_examples=max_examples,
        dtypes=dtypes, bound=bound, database=database, derandomize=derandomize))


# -- shared ---------------------------------------------------------------------
def _factory(part: Any, fn: str) -> tuple[Callable[[], Any], Any]:
    if isinstance(part, type) or (callable(part) and not hasattr(part, "init")):
        return part, part()
    try:
        pristine = copy.deepcopy(part)
    except Exception as exc:
        raise TypeError(f"{fn} needs fresh copies of {part!r} and could not deep-copy it "
                        f"({type(exc).__name__}: {exc}); pass a factory instead: "
                        f"{fn}(lambda: {type(part).__name__}(...))") from exc
    return (lambda: copy.deepcopy(pristine)), part


def _references(objectives: Sequence[Objective] | None) -> list[Objective]:
    refs = list(reference_objectives() if objectives is None else objectives)
    for ref in refs:
        if not isinstance(ref, HasGradient):
            raise ValueError(f"objectives= must have an analytic gradient; {ref!r} has none.")
    return refs


def _merge(own: PartReport, as_rule: PartReport) -> PartReport:
    return PartReport(own.part, own.kind,
                      own.passed + tuple(f"as a step rule: {c}" for c in as_rule.passed),
                      own.skipped + tuple((f"as a step rule: {c}", why)
                                          for c, why in as_rule.skipped),
                      own.notes + as_rule.notes)


def _protocol(chk: _Checker, part: object, kind: Kind, proto: type) -> None:
    try:
        check_part(kind, part, chk.part, "")
    except PluginError:
        members = "init and update" if kind == "transform" else "init and move"
        chk.fail(PROTOCOL, f"a {type(part).__name__} without {members} is not a {kind} "
                           f"(gdkit.protocols.{proto.__name__})")


def _common_checks(chk: _Checker, factory: Callable[[], Any], refs: list[Objective],
                   everywhere: Any, f64: Any, rule: Callable[[], Any], kind: str) -> None:
    chk.once(REPR, lambda: check_repr(chk, factory))
    chk.prop(INIT, everywhere, lambda ex: _init(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DTYPES, everywhere, lambda ex: _shapes(chk, factory, refs[_ref(ex)], ex, kind))
    if kind == "step size":
        chk.prop(ALONG, f64, lambda ex: _along(chk, factory, refs[_ref(ex)], ex))
    chk.prop(CHECKPOINT, f64, lambda ex: _round_trip(chk, rule, refs[_ref(ex)], ex))


def _grad(ref: Objective, v: FloatArray) -> FloatArray:
    g: FloatArray = ref.gradient(v)  # type: ignore[attr-defined]
    return g


def _ctx(ref: Objective, v: FloatArray, g: FloatArray) -> StepContext:
    ctx = StepContext(ref.cost, v, trial_gradient(ref))
    ctx.grad = g
    return ctx


def _plain_state(state: Any) -> bool:
    if not isinstance(state, tuple):
        return False
    return all((_is_real(x) or isinstance(x, (bool, np.bool_)))
               or (isinstance(x, np.ndarray) and x.dtype.kind in "biuf") for x in state)


def _layout(state: tuple[Any, ...]) -> list[tuple[str, Any]]:
    names = getattr(state, "_fields", [str(i) for i in range(len(state))])
    return [(n, (x.shape, x.dtype) if isinstance(x, np.ndarray) else "number")
            for n, x in zip(names, state, strict=True)]


def _init(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    part = factory()
    v = ex.v.copy()
    state = chk.call(INIT, where, "init(v)", part.init, v)
    if not _same_bits(v, ex.v):
        chk.fail(INIT, f"init(v) modified v{_first_diff(v, ex.v)}", where)
    if not _plain_state(state):
        chk.fail(INIT, f"init(v) returned {state!r}; a state must be a tuple (a NamedTuple) of "
                       "numbers and numeric arrays, so a checkpoint saves it field by field",
                 where)
    shared = [n for n, x in zip(getattr(state, "_fields", range(len(state))), state,
                                strict=True)
              if isinstance(x, np.ndarray) and np.shares_memory(x, v)]
    if shared:
        chk.fail(INIT, f"the state's {shared} share memory with v: init must make fresh arrays "
                       "(np.zeros_like(v), v.copy())", where)
    again = chk.call(INIT, where, "init(v)", factory().init, v)
    if _layout(again) != _layout(state) or not all(
            _same_bits(np.asarray(a), np.asarray(b)) for a, b in zip(state, again, strict=True)):
        chk.fail(INIT, "two calls of init(v) on one v gave different states", where)


def _apply(part: Any, kind: str, v: FloatArray, d: FloatArray, state: Any,
           ctx: StepContext) -> tuple[float, Any]:
    if kind == "transform":
        return math.nan, part.update(d, state, v, ctx)
    eta, new = part.move(v, d, state, ctx)
    return eta, new


def _shapes(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point,
            kind: str) -> None:
    where = _ref_name(ref, ex)
    part = factory()
    v = ex.v.copy()
    g = _grad(ref, v)
    d = -g
    d0 = d.copy()
    state = chk.call(DTYPES, where, "init(v)", part.init, v)
    layout = _layout(state) if isinstance(state, tuple) else None
    method = "update(d, state, v, ctx)" if kind == "transform" else "move(v, d, state, ctx)"
    try:
        out = _apply(part, kind, v, d, state, _ctx(ref, v, g))
    except StepError as exc:
        raise _Declined(str(exc)) from exc
    except Exception as exc:
        raise CheckError(chk.part, DTYPES, f"{method} raised {type(exc).__name__}: {exc}",
                         where) from exc
    eta, new = out
    if not isinstance(new, tuple) or _layout(new) != layout:
        chk.fail(DTYPES, f"{method} returned the state {new!r}, whose fields, shapes or dtypes "
                         f"differ from init's ({layout})", where)
    if kind == "transform":
        if d.dtype != v.dtype or not np.all(np.isfinite(d)):
            chk.fail(DTYPES, f"after update d is {d.dtype} with non-finite entries or of "
                             f"another dtype than v ({v.dtype})", where)
        if not _same_bits(v, ex.v):
            chk.fail(DTYPES, "update modified v: a transform rewrites d only", where)
        return
    if not _is_real(eta) or not math.isfinite(float(eta)) or float(eta) < 0:
        chk.fail(DTYPES, f"move returned η = {eta!r}; it must be a finite real >= 0", where)
    if v.dtype != ex.v.dtype or not np.all(np.isfinite(v)):
        chk.fail(DTYPES, f"after move v is not finite or not {ex.v.dtype}", where)
    if not _same_bits(d, d0):
        chk.fail(DTYPES, f"move modified d{_first_diff(d, d0)}: a step size must leave the "
                         "direction as it is", where)


def _descent_direction(g: FloatArray, rng: np.random.Generator) -> FloatArray:
    """A random direction with ∇C·d < 0 (not parallel to −∇C unless m = 1)."""
    noise = rng.standard_normal(g.shape) * float(np.linalg.norm(g))
    d = -g + noise
    if float(g @ d) >= 0:
        d = -g - 0.1 * noise
    return d.astype(g.dtype)


def _along(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v0 = ex.v
    g = _grad(ref, v0)
    if not np.any(g):
        return
    d = _descent_direction(g, ex.rng())
    slope = float(g @ d)
    if slope >= 0:
        return
    part = factory()
    v = v0.copy()
    try:
        eta, _ = part.move(v, d, part.init(v), _ctx(ref, v, g))
    except StepError as exc:
        raise _Declined(str(exc)) from exc
    except Exception as exc:
        raise CheckError(chk.part, ALONG, f"move raised {type(exc).__name__}: {exc}",
                         where) from exc
    eta = float(eta)
    dv = v - v0
    err = float(np.linalg.norm(dv - eta * d))
    allowed = 16 * _eps(v0.dtype) * (float(np.linalg.norm(v0)) + eta * float(np.linalg.norm(d)))
    if not eta >= 0 or err > allowed:
        chk.fail(ALONG, f"move returned η = {eta:.6g} but moved v by {dv!r}, not η·d = "
                        f"{eta * d!r} (d = {d!r}, a descent direction): v must move to v + η·d",
                 where)
    lip = _positive_attr(ref, "curvature")
    if lip is None or eta * lip * float(d @ d) > 2 * abs(slope):
        return
    c0, c1 = float(ref.cost(v0)), float(ref.cost(v))
    if c1 - c0 > 1e3 * _eps(v0.dtype) * (abs(c0) + abs(c1)) + 1e-300:
        chk.fail(ALONG, f"a step small enough to descend along d (η = {eta:.3g}) raised C from "
                        f"{c0:.10g} to {c1:.10g}", where)


class _Driven:
    """A pure step rule and the state of one run, stepped by hand as the loop does."""

    def __init__(self, rule: Any, v: FloatArray, state: Any = None) -> None:
        self.rule = rule
        self.state = rule.init(v) if state is None else state

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float:
        eta, self.state = self.rule.update(v, grad, self.state, ctx)
        return float(eta)


def _steps(run: _Driven, ref: Objective, v: FloatArray, n: int, start: int = 0) -> None:
    """``n`` steps of ``run`` from ``v`` (in place), counting from step ``start``."""
    for k in range(start, start + n):
        ctx = StepContext(ref.cost, v, trial_gradient(ref))
        ctx.begin(k)
        run.step(v, _grad(ref, v), ctx)


def _round_trip(chk: _Checker, make: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v = ex.v.copy()
    first = _Driven(make(), v)
    try:
        _steps(first, ref, v, 3)
    except StepError as exc:
        raise _Declined(str(exc)) from exc
    state = chk.call(CHECKPOINT, where, "state_dict(state)", first.rule.state_dict, first.state)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.npz"
        ckpt = Checkpoint(v=v.copy(), mode="iteration", epoch=0, iteration=3, position=0,
                          perm=None, rng_state=None, history={}, rule_state=state, config={})
        chk.call(CHECKPOINT, where, "saving the state in a checkpoint", save_checkpoint, path,
                 ckpt)
        loaded = chk.call(CHECKPOINT, where, "reading the checkpoint", load_checkpoint, path)
    w = v.copy()
    rule2 = make()
    second = _Driven(rule2, w, chk.call(CHECKPOINT, where, "load_state(state read from a "
                                        "checkpoint)", rule2.load_state, w, loaded.rule_state))
    try:
        _steps(first, ref, v, 1, start=3)
        _steps(second, ref, w, 1, start=3)
    except StepError as exc:
        raise _Declined(str(exc)) from exc
    except Exception as exc:
        raise CheckError(chk.part, CHECKPOINT, f"the step after restoring raised "
                         f"{type(exc).__name__}: {exc}", where) from exc
    if not _same_bits(v, w):
        chk.fail(CHECKPOINT, f"after a checkpoint round trip of the state the next step "
                             f"differs{_first_diff(w, v)}: every number the next step needs "
                             "must be in the state", where)



def _armijo_along(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                  ex: _Point) -> None:
    where = _ref_name(ref, ex)
    armijo = step_size("armijo")
    c = float(armijo.c)  # type: ignore[attr-defined]
    v = ex.v.copy()
    rule = _Driven(chain(factory(), armijo), v)
    try:
        _steps(rule, ref, v, 2)  # a state that is not fresh (momentum has velocity)
        v0 = v.copy()
        g = _grad(ref, v0)
        ctx = StepContext(ref.cost, v, trial_gradient(ref))
        ctx.begin(2)
        eta = rule.step(v, g, ctx)
    except StepError:
        return  # no step, or a direction that is not a descent direction: refused
    dv = v - v0
    c0, c1 = float(ref.cost(v0)), float(ref.cost(v))
    bound = c0 + c * float(g @ dv)  # C(v) + c·η·∇C·d, with η·d = Δv
    tol = 1e3 * _eps(v.dtype) * (abs(c0) + abs(c1)) + 1e-300
    if eta > 0 and c1 > bound + tol:
        chk.fail(SUFFICIENT, f"armijo along the transform's direction accepted η = {eta:.3g} "
                             f"with C = {c1:.10g} > C(v) + c·η·∇C·d = {bound:.10g}", where)
    if eta == 0 and np.any(dv):
        chk.fail(SUFFICIENT, "armijo returned η = 0 but moved v", where)
