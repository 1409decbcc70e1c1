""":func:`check_step_rule` and its checks."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

import numpy as np

from ..errors import PluginError, StepError
from ..protocols import (
    FloatArray,
    HasGradient,
    Objective,
    PureStepRule,
    Stateful,
    StepContext,
    StepRule,
)
from ..registry import check_part
from ._common import (
    _F64,
    _TINY,
    DEFAULT_MAX_EXAMPLES,
    DESCENT,
    DETERMINISM,
    DTYPES,
    IN_PLACE,
    PROGRESS,
    PROTOCOL,
    PURITY,
    REPEAT,
    REPR,
    STATE,
    STEP_RULE_CHECKS,
    ZERO_GRADIENT,
    CheckError,
    PartReport,
    has_default_repr,
    part_label,
)
from ._harness import _Checker, _Declined, _fmt, _on_references, _Point, _ref, _ref_name
from ._numeric import (
    _close,
    _eps,
    _first_diff,
    _is_real,
    _positive_attr,
    _same_bits,
    trial_gradient,
)
from ._references import reference_objectives
from ._rule_state import _STATEFUL, _eta_equal, _OneRun, _plain, _saved, _state_equal

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase


def check_step_rule(
    rule: StepRule | Callable[[], StepRule],
    *,
    name: str | None = None,
    objectives: Sequence[Objective] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    bound: float = 2.0,
    n_steps: int = 50,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that a step rule moves v as gdkit's loop expects, and descends.

    Parameters
    ----------
    rule : StepRule or callable
        The rule as configured (its η is the one checked), or a factory
        returning a fresh rule with no arguments. Every example starts from a
        fresh rule: a deep copy of ``rule``, or a new one from the factory.
    name : str, optional
    objectives : sequence of Objective, optional
        Objectives with an analytic gradient to step on (default:
        :func:`reference_objectives`, whose curvature is at most 2: a rule
        configured for a well-scaled problem must descend on them). A
        ``curvature`` attribute (an upper bound of ‖∇²C‖) and a
        ``minimizer`` enable the parts of the checks that need them.
    n_steps : int, default 50
        Steps of the ``progress`` check.
    max_examples, dtypes, bound, skip, database, derandomize
        As for :func:`check_objective`.

    Returns
    -------
    PartReport

    Notes
    -----
    The checks (:data:`STEP_RULE_CHECKS`):

    - ``protocol``: a ``step`` method; ``reset``, ``get_state`` and
      ``set_state`` all or none (:class:`~gdkit.protocols.Stateful`).
    - ``repr``: two equally configured rules have the same ``repr``, which
      is not the default ``<... object at 0x...>``: a resume compares parts by
      ``repr``, and the command line prints it.
    - ``purity``: the gradient is not modified.
    - ``shapes and dtypes``: a step on a float64 or float32 v returns the η
      used as a finite real number >= 0 and leaves v finite; in float32 it
      moves v as in float64 (when it chose the same η).
    - ``in place``: v is moved in place (η > 0 with v unchanged means it
      rebound a local name), and η = 0 (a rejected step) leaves v unchanged.
    - ``determinism``: two fresh rules take the same steps, bit for bit.
    - ``zero gradient``: ∇C = 0 does not produce NaN (a division by ‖∇C‖).
    - ``descent (eq. 9)``: the first step from a fresh rule is a descent
      step, ∇C·Δv <= 0, and when it is small enough for the objective's
      curvature L (L‖Δv‖ <= ‖∇C‖) it does not raise C.
    - ``progress``: ``n_steps`` steps from a point away from the minimizer
      end with a lower C, every iterate finite (a
      :class:`~gdkit.errors.StepError` ends the run early, as in the loop).
    - ``repeated runs``: one rule object used for two runs from the same
      start (``reset()`` first, as the loop does, when it is stateful) takes
      the same steps both times: no state hidden from ``reset``.
    - ``state`` (stateful rules): ``get_state()`` is a dict of plain numbers,
      strings and arrays, a snapshot (later steps do not change it); a fresh
      rule given it by ``set_state`` takes the same next step bit for bit;
      after ``reset()`` the rule steps like a fresh one.
    """
    if isinstance(rule, type) or (callable(rule) and not hasattr(rule, "step")):
        factory: Callable[[], Any] = rule
        sample = factory()
    else:
        sample = rule
        try:
            pristine = copy.deepcopy(rule)
        except Exception as exc:
            raise TypeError(f"check_step_rule needs fresh copies of {rule!r} and could not "
                            f"deep-copy it ({type(exc).__name__}: {exc}); pass a factory "
                            f"instead: check_step_rule(lambda: {type(rule).__name__}(...))"
                            ) from exc

        def factory() -> Any:
            return copy.deepcopy(pristine)

    chk = _Checker(name or part_label(sample), "step rule", STEP_RULE_CHECKS,
                   max_examples=max_examples, database=database, derandomize=derandomize,
                   skip=skip)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}.")
    refs = list(reference_objectives() if objectives is None else objectives)
    for ref in refs:
        if not isinstance(ref, HasGradient):
            raise ValueError(f"objectives= must have an analytic gradient; {ref!r} has none.")
    chk.once(PROTOCOL, lambda: _rule_protocol(chk, sample))
    chk.once(REPR, lambda: check_repr(chk, factory))
    if isinstance(sample, PureStepRule) and not hasattr(sample, "step"):
        pure = factory

        def factory() -> Any:  # every check below drives one run of the pure rule
            return _OneRun(pure())

        sample = factory()
    wanted = [np.dtype(d) for d in dtypes]
    everywhere = _on_references(refs, wanted, bound)
    f64 = _on_references(refs, [_F64], bound)
    chk.prop(PURITY, everywhere, lambda ex: _rule_purity(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DTYPES, everywhere, lambda ex: _rule_shapes(chk, factory, refs[_ref(ex)], ex))
    chk.prop(IN_PLACE, f64, lambda ex: _rule_in_place(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DETERMINISM, f64,
             lambda ex: _rule_determinism(chk, factory, refs[_ref(ex)], ex))
    chk.prop(ZERO_GRADIENT, everywhere, lambda ex: _rule_zero(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DESCENT, f64, lambda ex: _rule_descent(chk, factory, refs[_ref(ex)], ex))
    chk.prop(PROGRESS, f64,
             lambda ex: _rule_progress(chk, factory, refs[_ref(ex)], ex, n_steps))
    chk.prop(REPEAT, f64, lambda ex: _rule_repeat(chk, factory, refs[_ref(ex)], ex))
    if isinstance(sample, Stateful):
        chk.prop(STATE, f64, lambda ex: _rule_state(chk, factory, refs[_ref(ex)], ex))
    else:
        chk.not_applicable(STATE, "not stateful (no get_state/set_state/reset)")
    return chk.report()


def check_repr(chk: _Checker, factory: Callable[[], Any]) -> None:
    """Two fresh parts from ``factory`` have one ``repr``, and not object.__repr__'s."""
    # Both instances stay alive, so that Python does not give the second the first's address.
    first, second = (chk.call(REPR, None, "building the part", factory) for _ in range(2))
    a, b = repr(first), repr(second)
    why = ("the repr must show every setting and nothing else (no address): a resume "
           "compares parts by repr, and the command line prints it. Define __repr__, or use "
           "a dataclass")
    if has_default_repr(a):
        chk.fail(REPR, f"its repr is Python's default, {a!r}: a memory address, which differs "
                       f"from one instance to the next, and none of its settings; {why}")
    if a != b:
        chk.fail(REPR, f"two equally configured instances have different reprs, {a!r} and "
                       f"{b!r}; {why}")


def _rule_repeat(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                 ex: _Point) -> None:
    where = _ref_name(ref, ex)
    rule = _fresh(chk, REPEAT, factory)
    first = _trajectory(chk, REPEAT, rule, ref, ex.v.copy(), 3, where)
    if isinstance(rule, Stateful):
        chk.call(REPEAT, where, "reset()", rule.reset)
    second = _trajectory(chk, REPEAT, rule, ref, ex.v.copy(), 3, where)
    for k, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            chk.fail(REPEAT, f"a second run with the same rule object took another step {k} "
                             f"than the first (η {b[1]!r} vs {a[1]!r}, v "
                             f"{np.frombuffer(b[0], dtype=ex.v.dtype)} vs "
                             f"{np.frombuffer(a[0], dtype=ex.v.dtype)}): the rule keeps state "
                             "across runs that reset() does not clear. Keep no state, or "
                             "implement reset/get_state/set_state (gdkit.protocols.Stateful), "
                             "or build it as a gdkit.chain of a transform and a step size", where)


def _rule_protocol(chk: _Checker, rule: object) -> None:
    try:
        check_part("step rule", rule, chk.part, "")
    except PluginError:
        chk.fail(PROTOCOL, f"a {type(rule).__name__} without a step method (or init, update, "
                           "state_dict and load_state) is not a step rule "
                           "(gdkit.protocols.StepRule, PureStepRule)")
    has = [m for m in _STATEFUL if callable(getattr(rule, m, None))]
    if has and len(has) < len(_STATEFUL):
        missing = [m for m in _STATEFUL if m not in has]
        chk.fail(PROTOCOL, f"has {', '.join(has)} but not {', '.join(missing)}: a rule with "
                           "state needs all three (gdkit.protocols.Stateful), or the loop "
                           "and checkpoints ignore its state")


@final
@dataclass
class _Stepped:
    v: FloatArray
    eta: object
    grad: FloatArray


def _take_step(chk: _Checker, check: str, rule: Any, ref: Objective, v: FloatArray,
               grad: FloatArray, where: str, iteration: int = 0) -> _Stepped:
    ctx = StepContext(ref.cost, v, trial_gradient(ref))
    ctx.iteration = iteration
    try:
        eta = rule.step(v, grad, ctx)
    except StepError as exc:
        raise _Declined(str(exc)) from exc
    except Exception as exc:
        raise CheckError(chk.part, check, f"step(v, grad, ctx) raised {type(exc).__name__}: "
                                          f"{exc}", where) from exc
    return _Stepped(v, eta, grad)


def _fresh(chk: _Checker, check: str, factory: Callable[[], Any]) -> Any:
    rule = chk.call(check, None, "building a fresh rule", factory)
    if isinstance(rule, Stateful):
        chk.call(check, None, "reset()", rule.reset)
    return rule


def _gradient_at(ref: Objective, v: FloatArray) -> FloatArray:
    g: FloatArray = ref.gradient(v)  # type: ignore[attr-defined]
    return g


def _rule_shapes(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                 ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v0 = ex.v
    g = _gradient_at(ref, v0)
    s = _take_step(chk, DTYPES, _fresh(chk, DTYPES, factory), ref, v0.copy(), g, where)
    if not _is_real(s.eta) or not math.isfinite(float(s.eta)) or float(s.eta) < 0:  # type: ignore[arg-type]
        chk.fail(DTYPES, f"step returned {type(s.eta).__name__} {s.eta!r}; it must return the "
                         "η it used as a finite float >= 0 (0.0 for a rejected step)", where)
    if not np.all(np.isfinite(s.v)):
        chk.fail(DTYPES, f"after one step v has NaN or infinite entries (v is {v0.dtype})",
                 where)
    if v0.dtype == _F64:
        return
    v64 = v0.astype(np.float64)
    s64 = _take_step(chk, DTYPES, _fresh(chk, DTYPES, factory), ref, v64.copy(),
                     _gradient_at(ref, v64), where)
    eta32, eta64 = float(s.eta), float(s64.eta)  # type: ignore[arg-type]
    if not _close(eta32, eta64, 1e-3):
        return  # a cost-driven rule may choose another η in another precision
    d32 = s.v.astype(np.float64) - v64
    d64 = s64.v - v64
    allowed = 1e-3 * float(np.linalg.norm(d64)) + 10 * _eps(v0.dtype) * (
        1 + float(np.linalg.norm(v64)))
    if float(np.linalg.norm(d32 - d64)) > allowed:
        chk.fail(DTYPES, f"in {v0.dtype} the step moved v by {_fmt(d32)} but in float64 by "
                         f"{_fmt(d64)} (same η = {eta64:.6g})", where)


def _rule_purity(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                 ex: _Point) -> None:
    where = _ref_name(ref, ex)
    g = _gradient_at(ref, ex.v)
    before = g.copy()
    _take_step(chk, PURITY, _fresh(chk, PURITY, factory), ref, ex.v.copy(), g, where)
    if not _same_bits(g, before):
        chk.fail(PURITY, f"step modified the gradient it was given{_first_diff(g, before)}: "
                         "the loop reuses that buffer; compute into a buffer of your own",
                 where)


def _rule_in_place(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                   ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v = ex.v.copy()
    g = _gradient_at(ref, v)
    s = _take_step(chk, IN_PLACE, _fresh(chk, IN_PLACE, factory), ref, v, g, where)
    moved = not _same_bits(v, ex.v)
    eta = float(s.eta) if _is_real(s.eta) else math.nan  # type: ignore[arg-type]
    if eta == 0.0 and moved:
        chk.fail(IN_PLACE, "step returned η = 0 (a rejected step) but moved v: a rejected step "
                           "must leave v unchanged", where)
    scale = max(1.0, float(np.max(np.abs(ex.v))))
    if eta > 0 and not moved and float(np.linalg.norm(g)) > 1e-3 * scale:
        chk.fail(IN_PLACE, f"step returned η = {eta:.6g} > 0 but v is unchanged: move v in "
                           "place (v -= ..., v[...] = ..., numpy ufuncs with out=v), never "
                           "v = v - ... (that rebinds a local name)", where)


def _trajectory(chk: _Checker, check: str, rule: Any, ref: Objective, v: FloatArray,
                steps: int, where: str) -> list[tuple[bytes, object]]:
    out: list[tuple[bytes, object]] = []
    for k in range(steps):
        g = _gradient_at(ref, v)
        try:
            s = _take_step(chk, check, rule, ref, v, g, where, iteration=k)
        except _Declined:
            out.append((v.tobytes(), "StepError"))
            break
        out.append((v.tobytes(), s.eta))
    return out


def _rule_determinism(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                      ex: _Point) -> None:
    where = _ref_name(ref, ex)
    a = _trajectory(chk, DETERMINISM, _fresh(chk, DETERMINISM, factory), ref, ex.v.copy(), 3,
                    where)
    b = _trajectory(chk, DETERMINISM, _fresh(chk, DETERMINISM, factory), ref, ex.v.copy(), 3,
                    where)
    for k, (sa, sb) in enumerate(zip(a, b, strict=False)):
        if sa != sb:
            chk.fail(DETERMINISM, f"two fresh rules took different steps at step {k} from the "
                                  "same v and gradients (η "
                                  f"{sa[1]!r} vs {sb[1]!r}): same input, same numbers", where)


def _rule_zero(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex) + ", ∇C = 0"
    v = ex.v.copy()
    s = _take_step(chk, ZERO_GRADIENT, _fresh(chk, ZERO_GRADIENT, factory), ref, v,
                   np.zeros_like(v), where)
    eta = float(s.eta) if _is_real(s.eta) else math.nan  # type: ignore[arg-type]
    if not math.isfinite(eta) or not np.all(np.isfinite(v)):
        chk.fail(ZERO_GRADIENT, f"a step with a zero gradient returned η = {s.eta!r} and left "
                                f"v = {_fmt(v)}: guard divisions by ‖∇C‖ (return 0.0, v "
                                "unchanged)", where)


def _rule_descent(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                  ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v0 = ex.v
    v = v0.copy()
    g = _gradient_at(ref, v0)
    _take_step(chk, DESCENT, _fresh(chk, DESCENT, factory), ref, v, g, where)
    dv = v - v0
    slope = float(g @ dv)
    gnorm, dnorm = float(np.linalg.norm(g)), float(np.linalg.norm(dv))
    if slope > 1e3 * _eps(v0.dtype) * gnorm * dnorm + _TINY:
        chk.fail(DESCENT, f"the first step moved v uphill: ∇C·Δv = {slope:.3g} > 0 (Δv = "
                          f"{_fmt(dv)}, ∇C = {_fmt(g)}); a step must go against the "
                          "gradient, Δv = −η∇C (eq. 10)", where)
    lip = _positive_attr(ref, "curvature")
    if lip is None or lip * dnorm > gnorm:
        return  # not small enough for eq. (9) to promise a decrease
    c0, c1 = float(ref.cost(v0)), float(ref.cost(v))
    if c1 - c0 > 1e3 * _eps(v0.dtype) * (abs(c0) + abs(c1)) + _TINY:
        chk.fail(DESCENT, f"a step small enough to descend (‖Δv‖ = {dnorm:.3g} <= ‖∇C‖/L = "
                          f"{gnorm / lip:.3g}) raised C from {c0:.10g} to {c1:.10g}", where)


def _rule_progress(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point,
                   n_steps: int) -> None:
    where = _ref_name(ref, ex)
    v = ex.v.copy()
    star = getattr(ref, "minimizer", None)
    if star is not None and float(np.linalg.norm(v - star)) < 0.25:
        return  # too close to the minimum to judge progress
    c0 = float(ref.cost(v))
    rule = _fresh(chk, PROGRESS, factory)
    stopped = ""
    for k in range(n_steps):
        g = _gradient_at(ref, v)
        try:
            s = _take_step(chk, PROGRESS, rule, ref, v, g, where, iteration=k)
        except _Declined as exc:
            stopped = f" (it raised StepError at step {k}: {exc})"
            break
        if not np.all(np.isfinite(v)) or not (_is_real(s.eta)
                                              and math.isfinite(float(s.eta))):  # type: ignore[arg-type]
            chk.fail(PROGRESS, f"after {k + 1} steps v or η is not finite (η = {s.eta!r}): "
                               "the rule diverged on a well-scaled objective", where)
    c1 = float(ref.cost(v))
    if not c1 < c0:
        chk.fail(PROGRESS, f"{n_steps} steps did not lower C: {c0:.10g} at the start, "
                           f"{c1:.10g} at the end{stopped}. Is η too large for an objective of "
                           "curvature up to 2, or too small to move?", where)


def _rule_state(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    rule = _fresh(chk, STATE, factory)
    v = ex.v.copy()
    _trajectory(chk, STATE, rule, ref, v, 3, where)
    state = chk.call(STATE, where, "get_state()", rule.get_state)
    if not isinstance(state, dict) or not _plain(state):
        chk.fail(STATE, f"get_state() returned {state!r}; it must be a dict with str keys and "
                        "plain values (numbers, strings, numpy arrays, lists of them) so a "
                        "checkpoint can store it without pickle", where)
    snapshot = {k: (x.copy() if isinstance(x, np.ndarray) else copy.deepcopy(x))
                for k, x in state.items()}
    g = _gradient_at(ref, v)
    resumed_from = v.copy()
    a = _take_step(chk, STATE, rule, ref, v, g.copy(), where, iteration=3)
    if not all(_state_equal(state[k], snapshot[k]) for k in snapshot):
        chk.fail(STATE, "the dict get_state() returned changed when the rule took another step: "
                        "return copies of arrays, not the rule's own buffers", where)
    other = _fresh(chk, STATE, factory)
    chk.call(STATE, where, "set_state(get_state())", other.set_state, _saved(state))
    w = resumed_from.copy()
    b = _take_step(chk, STATE, other, ref, w, g.copy(), where, iteration=3)
    if not (_same_bits(a.v, w) and _eta_equal(a.eta, b.eta)):
        chk.fail(STATE, f"a fresh rule given the state by set_state took another step than the "
                        f"rule it came from (η {b.eta!r} vs {a.eta!r}; v{_first_diff(w, a.v)}): "
                        "the state must hold everything the next step depends on", where)
    chk.call(STATE, where, "reset()", rule.reset)
    v1, v2 = ex.v.copy(), ex.v.copy()
    g0 = _gradient_at(ref, ex.v)
    r = _take_step(chk, STATE, rule, ref, v1, g0.copy(), where)
    f = _take_step(chk, STATE, _fresh(chk, STATE, factory), ref, v2, g0.copy(), where)
    if not (_same_bits(v1, v2) and _eta_equal(r.eta, f.eta)):
        chk.fail(STATE, f"after reset() the rule stepped differently from a fresh one (η "
                        f"{r.eta!r} vs {f.eta!r}): reset() must forget the previous run", where)
