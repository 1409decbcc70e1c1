"""The one loop: full-batch gradient descent and mini-batch SGD (eq. 10-20).

:func:`minimize` resolves the parts, chooses the mode (full batch or
mini-batches), applies a resume, and runs one of the two loops below.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np

from .adapters import FunctionObjective
from .checkpoint import Checkpoint, load_checkpoint
from .compiled import compiled_steps
from .compose import Chain
from .errors import (
    CheckpointError,
    ConfigError,
    DivergenceError,
    PluginError,
    ShapeError,
    StepError,
)
from .files import check_target, claim
from .parts import resolve
from .protocols import (
    CompiledSteps,
    ComputesCost,
    Evaluates,
    FloatArray,
    GradientSource,
    HasInitialPoint,
    Objective,
    Sampled,
    Stateful,
    StepContext,
    StepRule,
    ValidatesObjective,
)
from .registry import check_part, get_registry
from .result import (
    CONVERGED,
    EPOCHS_DONE,
    MAX_ITER,
    STEP_FAILED,
    STOPPED,
    History,
    Result,
    honest,
)
from .resume import RunControl, check_config, check_probe, probe_of, trap_signals
from .threads import Threads, decide, limit
from .validate import float_dtype, integer, number

__all__ = ["minimize"]

DEFAULT_MAX_ITER: Final = 1000
DEFAULT_GTOL: Final = 1e-5


def minimize(
    objective: Objective | Callable[[FloatArray], float] | str,
    v0: Any = None,
    *,
    gradient: GradientSource | str = "analytic",
    step: StepRule | str = "fixed",
    batch_size: int | None = None,
    epochs: int | None = None,
    max_iter: int | None = None,
    gtol: float = DEFAULT_GTOL,
    seed: int | np.random.SeedSequence | None = None,
    callback: Callable[..., Any] | None = None,
    jac: Callable[[FloatArray], Any] | None = None,
    dtype: Any = None,
    progress: Callable[[int, int, int], None] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 100,
    resume: str | os.PathLike[str] | None = None,
    allow_config_change: bool = False,
    handle_signals: bool = True,
    run_info: Mapping[str, Any] | None = None,
    threads: Threads = "auto",
) -> Result:
    """Minimize C(v) by gradient descent: v → v − η∇C (eq. 10, 15).

    Parameters
    ----------
    objective : Objective, callable or str
        What to minimize: an :class:`~gdkit.protocols.Objective`, a registered
        objective name (built with default options), or a plain callable
        ``f(v) -> float`` as in scipy (then ``v0`` is required).
    v0 : array_like, optional
        The starting point, 1-D of length ``objective.dim``. Default: the
        objective's ``initial_point`` drawn with ``seed``.
    gradient : GradientSource or str, default "analytic"
        Where ∇C comes from: ``"analytic"`` (the objective's own gradient, or
        ``jac``), ``"forward"``, ``"central"``, ``"complex-step"``, or an object.
    step : StepRule, StepSize or str, default "fixed"
        How v moves: a registered step rule or step size name, or a chain
        spelled ``"momentum,fixed"`` (built with default options; the
        ``"fixed"`` step size's default is η = 0.1), or an object such as
        ``gdkit.step_rule("fixed", eta=3.0)`` or ``gdkit.chain(...)``.
    batch_size : int, optional
        None (default): full-batch gradient descent. An int: mini-batch SGD
        (eq. 18-20) on a sampled objective (one with ``n_samples``), a fresh
        random permutation of the training inputs each epoch.
    epochs : int, optional
        Epochs of mini-batch SGD (default 1 when ``batch_size`` is given;
        giving ``epochs`` without ``batch_size`` is an error).
    max_iter : int, optional
        The most steps to take. Default: 1000 in full-batch mode, no limit
        but ``epochs`` in mini-batch mode.
    gtol : float, default 1e-5
        Full batch only: stop successfully once ‖∇C(v)‖ ≤ gtol (Euclidean
        norm). ``gtol=0`` stops only at an exactly zero gradient.
    seed : int or SeedSequence, optional
        Seeds the initial point and the mini-batch shuffles (separate streams
        spawned from one ``numpy.random.SeedSequence``). Same seed, same
        numbers.
    callback : callable, optional
        Called after every iteration (full batch) or every epoch
        (mini-batch). If its first parameter is named ``intermediate_result``
        it receives a :class:`Result` with ``x``, ``fun``, ``nit`` and
        ``grad_norm`` (full batch) or ``epoch`` and the epoch's ``record``
        (mini-batch); otherwise it receives a copy of v. Raising
        :class:`StopIteration` or returning True stops the run cleanly.
    jac : callable, optional
        ∇C for a callable ``objective`` (as scipy's ``jac``).
    dtype : dtype, optional
        Floating dtype of v: float64 by default (v0's when it is floating).
    progress : callable, optional
        Mini-batch mode: ``progress(epoch, done, total)`` is called about 100
        times per epoch with the mini-batches done so far (for a progress
        bar); it costs nothing per step.
    checkpoint : path, optional
        Save the whole state of the run to this ``.npz`` (atomically) after
        every epoch (mini-batch) or every ``checkpoint_every`` iterations
        (full batch): parameters, step-rule state, generator state, position,
        history and configuration. With a checkpoint, SIGINT and SIGTERM
        finish the current step, save, and raise
        :class:`~gdkit.errors.Interrupted` (a second signal stops at once;
        the last complete checkpoint stays intact).
    checkpoint_every : int, default 100
        Full-batch iterations between checkpoints.
    resume : path, optional
        Continue the run saved in this checkpoint: same parameters, rule
        state, shuffles and history, so the result is bit for bit that of an
        uninterrupted run. ``v0`` must be None; the objective, gradient
        source, step rule, dtype and batch size must match the saved ones
        (compared by ``repr``) unless ``allow_config_change=True``. ``epochs``
        and ``max_iter`` may grow. Each checkpoint also stores the cost at
        its parameters on a probe batch (the first 64 training inputs of a
        sampled objective, else the full cost: one more cost evaluation per
        checkpoint); a resume recomputes it and refuses an objective whose
        data or settings differ although its ``repr`` is the same.
    allow_config_change : bool, default False
        Resume even though the configuration differs.
    handle_signals : bool, default True
        With ``checkpoint``, trap SIGINT/SIGTERM as described (main thread only).
    run_info : mapping, optional
        JSON-able data stored in each checkpoint's ``extra`` (the CLI keeps its
        command line there).
    threads : int, "auto" or None, default "auto"
        BLAS threads during the run (restored afterwards): ``"auto"`` runs
        steps on one thread when their work (rows × parameters) is small,
        where more threads cost time and change the rounding
        (:func:`gdkit.threads.decide`); an int fixes the count; None leaves
        the BLAS library's setting alone.

    Returns
    -------
    Result
        ``x``, ``fun``, ``nit``, ``success``, ``message``, ``history``, ...

    Raises
    ------
    DivergenceError
        C or ∇C became NaN or infinite (η too large).
    ShapeError
        A gradient of the wrong shape or dtype, or a v0 of the wrong length.
    UnknownPluginError, PluginError, ConfigError
        A part could not be found, was broken, or was misconfigured.
    CheckpointError
        ``resume`` names an unreadable checkpoint or one of another configuration.
    Interrupted
        SIGINT or SIGTERM arrived during a run with a ``checkpoint``.

    Notes
    -----
    For small η the step Δv = −η∇C changes the cost by ΔC ≈ ∇C·Δv =
    −η‖∇C‖² ≤ 0 (eq. 9), which is why gradient descent descends. The loop
    resolves parts, validates and dispatches hooks once per run (and once per
    epoch), never per step: a step is a gradient call into a preallocated
    buffer, a norm, and the step rule.

    References
    ----------
    M. Nielsen, *Neural Networks and Deep Learning*, ch. 1, "Learning with
    gradient descent".
    """
    if checkpoint is not None:
        check_target(checkpoint, "checkpoint")
    saved = None if resume is None else load_checkpoint(resume)
    obj = _objective(objective, v0, jac, saved)
    src: GradientSource = resolve("gradient source", gradient)
    rule: StepRule = resolve("step rule", step)
    if isinstance(src, ValidatesObjective):
        src.validate(obj)
    rows = batch_size if batch_size is not None else int(getattr(obj, "n_samples", 1))
    blas = decide(threads, rows, int(obj.dim))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    init_rng, shuffle_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    v = _starting_point(obj, v0, init_rng, dtype) if saved is None else _saved_point(
        saved, v0, dtype)
    loop, config = _mode(obj, batch_size, epochs, max_iter, gtol)
    cost_fn = _cost_function(obj, src)
    config["cost"] = cost_fn
    if loop is _full_batch and isinstance(src, ComputesCost):
        config["value_and_gradient"] = src.value_and_gradient
    if loop is _mini_batch:
        config.update(shuffle_rng=shuffle_rng, progress=progress)
    run_config = {"mode": "iteration" if batch_size is None else "epoch", "objective": repr(obj),
                  "gradient": repr(src), "step": _step_config(rule), "dim": int(obj.dim),
                  "dtype": str(v.dtype), "batch_size": batch_size}
    if isinstance(rule, Stateful):
        rule.reset()
    probe = probe_of(obj, cost_fn)
    if saved is not None:
        check_config(resume, saved, run_config, allow_config_change)
        if not allow_config_change:
            check_probe(resume, saved, probe(v))
        if isinstance(rule, Stateful):
            rule.set_state(saved.rule_state)
        if saved.rng_state is not None:
            _restore_rng(shuffle_rng, saved.rng_state, resume)
    control = RunControl(checkpoint, _positive_int("checkpoint_every", checkpoint_every),
                         run_config, dict(run_info or {}), rule, shuffle_rng, probe)
    hook = get_registry().pm.hook
    hook.gdkit_run_start(run={
        "objective": obj, "gradient": src, "step": rule, "dim": v.size, "dtype": str(v.dtype),
        "batch_size": batch_size, "epochs": epochs, "seed": seed,
        "resumed_from": None if resume is None else os.fspath(resume),
    })
    notify = None if callback is None else _callback_caller(callback)
    ctx = StepContext(cost_fn, v, lambda w, b, out: src.gradient(obj, w, b, out))
    probes = getattr(src, "nfev", None)  # a finite-difference source counts its evaluations
    with (claim(checkpoint) if checkpoint is not None else contextlib.nullcontext()), \
            trap_signals(control, enabled=handle_signals and checkpoint is not None), \
            limit(blas):
        result: Result = loop(obj, src, rule, v, np.empty_like(v), ctx, notify, hook,
                              control=control, start=saved, **config)
    if isinstance(probes, int):
        result.nfev += src.nfev - probes  # type: ignore[attr-defined]
    hook.gdkit_run_finish(result=result)
    return result


def _objective(objective: Any, v0: Any, jac: Any, saved: Checkpoint | None) -> Objective:
    """The objective given by name, as an object, or as a callable f(v)."""
    if isinstance(objective, str):
        obj: Objective = get_registry().create("objective", objective)
        return obj
    if callable(objective) and not isinstance(objective, Objective):
        if v0 is None and saved is None:
            raise ConfigError("a callable objective needs a starting point: pass v0.")
        return FunctionObjective(objective, np.size(v0) if saved is None else saved.v.size, jac)
    check_part("objective", objective, "the objective you passed",
               "Pass an Objective, a registered objective name, or a callable f(v).")
    if jac is not None:
        raise ConfigError("jac= is for a callable objective; this objective has its own "
                          "gradient method (or use a gradient source).")
    return objective  # type: ignore[no-any-return]


def _cost_function(obj: Objective, src: GradientSource
                   ) -> Callable[[FloatArray, Any], float]:
    """Where the run's every C comes from: a gradient source that computes C
    (one that holds the data on a cluster), else the objective."""
    if isinstance(src, ComputesCost):
        cost = src.cost

        def source_cost(v: FloatArray, batch: Any = None) -> float:
            return cost(obj, v, batch)

        return source_cost
    return obj.cost


def _mode(obj: Objective, batch_size: Any, epochs: Any, max_iter: Any,
          gtol: Any) -> tuple[Callable[..., Result], dict[str, Any]]:
    """The loop to run (full batch or mini-batches) and its settings, checked."""
    if batch_size is None:
        if epochs is not None:
            raise ConfigError("epochs= needs batch_size= (mini-batch SGD); for full-batch "
                              "gradient descent bound the run with max_iter=.")
        n_iter = DEFAULT_MAX_ITER if max_iter is None else _nonneg_int("max_iter", max_iter)
        return _full_batch, {"max_iter": n_iter,
                             "gtol": number("minimize", "gtol", gtol, low=0.0, low_closed=True)}
    if not isinstance(obj, Sampled):
        raise ConfigError(
            f"batch_size= needs a sampled objective (one with n_samples, a mean over "
            f"training inputs); {obj!r} has none. Leave batch_size=None for full-batch "
            "gradient descent.")
    b = _positive_int("batch_size", batch_size)
    n_epochs = 1 if epochs is None else _nonneg_int("epochs", epochs)
    limit = math.inf if max_iter is None else _nonneg_int("max_iter", max_iter)
    return _mini_batch, {"batch_size": b, "epochs": n_epochs, "max_iter": limit}


def _step_config(rule: StepRule) -> Any:
    """How a resume compares step rules: a chain part by part, others by repr."""
    return [repr(p) for p in rule.parts] if isinstance(rule, Chain) else repr(rule)


def _saved_point(saved: Checkpoint, v0: Any, dtype: Any) -> FloatArray:
    if v0 is not None:
        raise ConfigError("pass either v0 or resume=, not both: a resumed run continues "
                          "from the checkpoint's parameters.")
    dt = saved.v.dtype if dtype is None else float_dtype("minimize", "dtype", dtype, options=None)
    return np.array(saved.v, dtype=dt, order="C")


def _restore_rng(rng: np.random.Generator, state: Any, path: Any) -> None:
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise CheckpointError(
            f"checkpoint {os.fspath(path)!r}: the shuffling generator's state (rng_state) is "
            f"damaged ({type(exc).__name__}: {exc}); the run cannot continue as it was. Use an "
            "earlier copy, or start afresh.") from None


def _positive_int(name: str, value: Any) -> int:
    return integer("minimize", name, value, minimum=1)


def _wants_result(callback: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        return False
    return params[:1] == ["intermediate_result"]


def _nonneg_int(name: str, value: Any) -> int:
    return integer("minimize", name, value, minimum=0)


def _starting_point(obj: Objective, v0: Any, rng: np.random.Generator, dtype: Any,
                    name: str = "v0") -> FloatArray:
    given = v0 is not None
    if v0 is None:
        if not isinstance(obj, HasInitialPoint):
            raise ConfigError(f"{obj!r} has no initial_point: pass {name}.")
        v0 = obj.initial_point(rng)
    arr = np.asarray(v0)
    if arr.dtype.kind not in "biuf":
        who = name if given else f"the initial_point of {obj!r}"
        raise ShapeError(f"{who} is an array of {arr.dtype} ({arr!r}"[:200] + "), not numbers: "
                         f"give {obj.dim} floats.")
    if dtype is None:
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    dtype = float_dtype("minimize", "dtype", dtype, options=None)
    v = np.array(arr, dtype=dtype, order="C", copy=True)
    if v.shape != (obj.dim,):
        raise ShapeError(f"{name} has shape {arr.shape}, but {obj!r} has dim {obj.dim}: "
                         f"pass a 1-D array of length {obj.dim}.")
    if not np.all(np.isfinite(v)):
        raise ConfigError(f"{name} contains NaN or infinite values.")
    return v


def _callback_caller(callback: Callable[..., Any]) -> Callable[..., bool]:
    wants_result = _wants_result(callback)

    def notify(v: FloatArray, **info: Any) -> bool:
        arg = Result(x=v.copy(), **info) if wants_result else v.copy()
        try:
            return bool(callback(arg))
        except StopIteration:
            return True

    return notify


def _check_gradient(g: Any, v: FloatArray, src: GradientSource) -> FloatArray:
    if not isinstance(g, np.ndarray) or g.shape != v.shape or g.dtype != v.dtype:
        shape = getattr(g, "shape", None)
        gdt = getattr(g, "dtype", type(g).__name__)
        raise ShapeError(
            f"the gradient source {src!r} returned {type(g).__name__} of shape {shape} and "
            f"dtype {gdt}, but v has shape {v.shape} and dtype {v.dtype}. A gradient must "
            "have v's shape and dtype: fix the plugin (or the objective's gradient).")
    return g


def _as_eta(value: Any, rule: StepRule) -> float:
    """The η a step rule returned, as a float, or an error naming the rule."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)):
        return float(value)
    raise PluginError(f"the step rule {rule!r} returned η = {value!r}"[:200] + ", not a number: "
                      "step(v, g, ctx) must return the step size it used. Fix the step rule.")


def _first_cost(obj: Objective, v: FloatArray,
                cost: Callable[[FloatArray], Any] | None = None) -> float:
    """C(v) at a run's start, checked once: one real number, and v left as it
    was (gdkit passes v to the cost without copying; later calls are trusted,
    so the hot path stays a call and a float()). ``cost`` is where the run's
    costs come from (default: the objective)."""
    w = v.copy()
    value: Any = (obj.cost if cost is None else cost)(w)
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


def _diverged(what: str, value: float, it: int, last: float | None) -> DivergenceError:
    last_txt = "none" if last is None else f"{last:.6g}"
    head = (f"the {what} became {value} at iteration {it} (last finite cost: {last_txt}). "
            "The steps are too large for this objective: try a smaller η ")
    return DivergenceError(
        head + "(gdkit.step_rule('fixed', eta=...)) or an adaptive rule such as 'armijo'.",
        iteration=it, last_finite_cost=last,
        cli=head + "(--step-option eta=..., or --eta with gdkit train) or an adaptive rule "
                   "such as --step armijo.")


def _full_batch(obj: Objective, src: GradientSource, rule: StepRule, v: FloatArray,
                g_buf: FloatArray, ctx: StepContext, notify: Callable[..., bool] | None,
                hook: Any, *, max_iter: int, gtol: float, control: RunControl,
                start: Checkpoint | None, cost: Callable[..., float],
                value_and_gradient: Callable[..., tuple[float, FloatArray]] | None = None
                ) -> Result:
    history = start.history if start is not None else {}
    costs: list[float] = list(history.get("cost", []))
    norms: list[float] = list(history.get("grad_norm", []))
    etas: list[float] = list(history.get("eta", []))
    it = 0 if start is None else start.iteration
    gradient, step, dot, isfinite, sqrt = (
        src.gradient, rule.step, np.dot, math.isfinite, math.sqrt)
    every = control.every if control.saving else 0
    nfev, last = 1, None
    # A source holding the data gives C and ∇C of a point in one pass: `ahead`
    # is the gradient it gave with f, used at the top of the next iteration.
    ahead: FloatArray | None = None
    if value_and_gradient is None:
        f = _first_cost(obj, v, cost)
    else:
        f, ahead = value_and_gradient(obj, v, None, g_buf)
    status, message, g, gnorm = MAX_ITER, "", g_buf, math.nan
    while True:
        if not isfinite(f):
            raise _diverged("cost", f, it, last)
        last = f
        g = gradient(obj, v, None, g_buf) if ahead is None else ahead
        if g is not g_buf:
            g = _check_gradient(g, v, src)
        gnorm = sqrt(dot(g, g))
        if not isfinite(gnorm):
            raise _diverged("gradient norm", gnorm, it, last)
        costs.append(f)
        norms.append(gnorm)
        if it and notify is not None and notify(v, fun=f, grad_norm=gnorm, nit=it):
            status, message = STOPPED, f"stopped by the callback after {it} steps"
            break
        if gnorm <= gtol:
            status, message = CONVERGED, f"converged: ‖∇C‖ = {gnorm:.3g} <= gtol = {gtol:g}"
            break
        if it >= max_iter:
            message = f"stopped: max_iter = {max_iter} steps taken (‖∇C‖ = {gnorm:.3g})"
            break
        ctx.begin(it, None, f)
        try:
            eta = step(v, g, ctx)
        except StepError as exc:
            status, message = STEP_FAILED, f"step rule failed at iteration {it}: {exc}"
            break
        etas.append(eta if type(eta) is float else _as_eta(eta, rule))
        it += 1
        if value_and_gradient is None:
            f = cost(v)
        else:
            f, ahead = value_and_gradient(obj, v, None, g_buf)
        nfev += 1
        if every and (it % every == 0 or control.requested):
            # The state after step `it`: the rows of v_0 .. v_{it-1}; v_it's
            # row is recomputed on resume.
            control.save(v, "iteration", epoch=0, iteration=it,
                         history={"cost": costs, "grad_norm": norms, "eta": etas})
            if control.requested:
                raise control.interrupted(epoch=0, iteration=it, where=f"after step {it}")
    if every and (it % every or it == 0):  # the final state too
        control.save(v, "iteration", epoch=0, iteration=it,
                     history={"cost": costs[:it], "grad_norm": norms[:it], "eta": etas[:it]})
    etas.extend([math.nan] * (len(costs) - len(etas)))
    history_out = History("iteration", {"cost": costs, "grad_norm": norms, "eta": etas})
    status, message = honest(status, message, costs[0], f)
    return Result(x=v, fun=f, jac=g.copy(), grad_norm=gnorm, nit=it, nfev=nfev + ctx.nfev,
                  ngev=len(costs), epochs=0, success=status == CONVERGED, status=status,
                  message=message, history=history_out)


def _mini_batch(obj: Any, src: GradientSource, rule: StepRule, v: FloatArray,
                g_buf: FloatArray, ctx: StepContext, notify: Callable[..., bool] | None,
                hook: Any, *, batch_size: int, epochs: int, max_iter: float,
                shuffle_rng: np.random.Generator,
                progress: Callable[[int, int, int], None] | None, control: RunControl,
                start: Checkpoint | None, cost: Callable[..., float]) -> Result:
    n = int(obj.n_samples)
    evaluate = obj.evaluate if isinstance(obj, Evaluates) else None
    run = _Epochs(obj, src, rule, v, g_buf, ctx, control, n=n, batch_size=batch_size,
                  max_iter=max_iter, progress=progress,
                  compiled=compiled_steps(obj, src, rule, batch_size, v, g_buf))
    records: dict[str, list[float]] = {"cost": [], "eta": [], "seconds": []}
    epoch, position, perm, spent = 0, 0, None, 0.0
    if start is not None:
        records = {k: list(col) for k, col in start.history.items()} or records
        run.it, epoch, position, perm = start.iteration, start.epoch, start.position, start.perm
        spent = start.epoch_seconds
        if perm is not None and perm.shape != (n,):
            raise CheckpointError(f"the checkpoint's permutation covers {perm.size} samples but "
                                  f"the objective has {n}: it is from another run.")
        if perm is not None and not (np.bincount(perm.clip(0, n), minlength=n + 1)[:n] == 1).all():
            raise CheckpointError("the checkpoint's permutation of the training samples is "
                                  f"damaged (not each of 0..{n - 1} exactly once); use an "
                                  "earlier copy, or start afresh.")
        if not 0 <= position <= n:
            raise CheckpointError(f"the checkpoint's position {position} in its epoch is "
                                  f"outside 0..{n}: it is damaged.")
    run.last = records["cost"][-1] if records.get("cost") else None
    if start is None:  # the cost at the start, which success must not exceed
        control.config["start_cost"] = _first_cost(obj, v, cost)
        run.nfev += 1
    else:  # kept in every checkpoint of the run
        control.config["start_cost"] = float(start.config.get("start_cost", math.inf))
    start_cost = control.config["start_cost"]
    status, message, f = EPOCHS_DONE, f"done: {epochs} epochs", math.nan
    while epoch < epochs:
        if perm is None:
            perm = shuffle_rng.permutation(n)
            position, spent = 0, 0.0
        stop, seconds = run.epoch(epoch, perm, position, spent, records)
        epoch += 1
        perm = None
        f = cost(v)
        run.nfev += 1
        if not math.isfinite(f):
            raise _diverged("cost", f, run.it, run.last)
        run.last = f
        record = {"cost": f, "eta": _as_eta(run.eta, rule), "seconds": seconds}
        if evaluate is not None:
            record.update(evaluate(v))
        for k, val in record.items():
            records.setdefault(k, [math.nan] * (epoch - 1)).append(float(val))
        control.save(v, "epoch", epoch=epoch, iteration=run.it, history=records)
        hook.gdkit_epoch_end(epoch=epoch, record=record)
        if control.requested:
            raise control.interrupted(epoch=epoch, iteration=run.it,
                                      where=f"at the end of epoch {epoch}")
        if stop is not None:
            status, message = stop
            break
        if notify is not None and notify(v, fun=f, nit=run.it, epoch=epoch, record=record):
            status, message = STOPPED, f"stopped by the callback after epoch {epoch}"
            break
    g = run.g
    gnorm = math.sqrt(float(np.dot(g, g))) if run.it else math.nan
    status, message = honest(status, message, start_cost, f)
    return Result(x=v, fun=f, jac=g.copy(), grad_norm=gnorm, nit=run.it,
                  nfev=run.nfev + ctx.nfev, ngev=run.it, epochs=epoch,
                  success=status == EPOCHS_DONE, status=status, message=message,
                  history=History("epoch", records), compiled=run.compiled is not None)


class _Epochs:
    """The mini-batch steps of a run, one epoch at a time."""

    def __init__(self, obj: Any, src: GradientSource, rule: StepRule, v: FloatArray,
                 g_buf: FloatArray, ctx: StepContext, control: RunControl, *, n: int,
                 batch_size: int, max_iter: float,
                 progress: Callable[[int, int, int], None] | None,
                 compiled: CompiledSteps | None = None) -> None:
        self.obj, self.src, self.rule, self.v, self.g_buf = obj, src, rule, v, g_buf
        self.compiled = compiled
        self.ctx, self.control = ctx, control
        self.n, self.batch_size, self.max_iter, self.progress = n, batch_size, max_iter, progress
        self.total = len(range(0, n, batch_size))
        # Chunks of ~1% of the epoch: progress is reported between chunks, so
        # the per-step loop stays free of it.
        self.chunk = max(1, self.total // 100) if progress is not None else self.total
        self.it, self.nfev, self.eta = 0, 0, math.nan
        self.g: FloatArray = g_buf
        self.last: float | None = None

    def epoch(self, epoch: int, perm: Any, position: int, spent: float,
              records: Mapping[str, list[float]]) -> tuple[tuple[int, str] | None, float]:
        """Run epoch ``epoch`` from ``position`` of ``perm``; return why it
        stopped early (status, message), or None if it completed, and its
        training seconds. A signal mid-epoch saves the run and raises."""
        if self.compiled is not None:
            return self._compiled_epoch(epoch, perm, position, spent, records)
        obj, src, v, g_buf, ctx, control = (
            self.obj, self.src, self.v, self.g_buf, self.ctx, self.control)
        gradient, step, isfinite, bs, n = (
            src.gradient, self.rule.step, math.isfinite, self.batch_size, self.n)
        starts = range(position, n, bs)
        done0 = self.total - len(starts)
        t0 = time.perf_counter()
        it, g = self.it, self.g
        try:
            for c0 in range(0, len(starts), self.chunk):
                for start_i in starts[c0:c0 + self.chunk]:
                    batch = perm[start_i:start_i + bs]
                    ctx.begin(it, batch, None, epoch=epoch)
                    g = gradient(obj, v, batch, g_buf)
                    if g is not g_buf:
                        g = _check_gradient(g, v, src)
                    # Finiteness only (NaN and inf propagate through a sum); a
                    # plain sum, not BLAS dot, which wakes threads above ~10k
                    # elements on every step.
                    gsum = g.sum()
                    if not isfinite(gsum):
                        raise _diverged("gradient", gsum, it, self.last)
                    try:
                        self.eta = step(v, g, ctx)
                    except StepError as exc:
                        return (STEP_FAILED, f"step rule failed at iteration {it}: {exc}"), \
                            spent + time.perf_counter() - t0
                    it += 1
                    if control.requested:
                        self.it = it
                        return self._interrupted(epoch, perm, start_i + bs, position, done0,
                                                 spent + time.perf_counter() - t0, records)
                    if it >= self.max_iter:
                        return (MAX_ITER, f"stopped: max_iter = {self.max_iter} steps taken"), \
                            spent + time.perf_counter() - t0
                if self.progress is not None:
                    self.progress(epoch + 1, min(done0 + c0 + self.chunk, self.total),
                                  self.total)
            return None, spent + time.perf_counter() - t0
        finally:
            self.it, self.g = it, g

    def _interrupted(self, epoch: int, perm: Any, reached: int, position: int, done0: int,
                     spent: float, records: Mapping[str, list[float]]
                     ) -> tuple[tuple[int, str] | None, float]:
        """A signal arrived with the mini-batches up to ``reached`` done: at the
        end of the epoch, finish it; mid-epoch, save where the run is and raise."""
        if reached >= self.n:
            return None, spent
        self.control.save(self.v, "epoch", epoch=epoch, iteration=self.it, position=reached,
                          perm=perm, history=records, epoch_seconds=spent)
        raise self.control.interrupted(
            epoch=epoch, iteration=self.it,
            where=f"in epoch {epoch + 1}, after mini-batch "
                  f"{done0 + (reached - position - 1) // self.batch_size + 1:,}")

    def _compiled_epoch(self, epoch: int, perm: Any, position: int, spent: float,
                        records: Mapping[str, list[float]]
                        ) -> tuple[tuple[int, str] | None, float]:
        """:meth:`epoch` with the steps run by the compiled path, in spans of
        about 1% of the epoch: signals, max_iter and progress are seen between
        spans, divergence at the step it happens."""
        run = self.compiled
        assert run is not None
        bs, n = self.batch_size, self.n
        starts = range(position, n, bs)
        done0 = self.total - len(starts)
        span = max(1, self.total // 100)
        t0 = time.perf_counter()
        for c0 in range(0, len(starts), span):
            todo = starts[c0:c0 + span]
            if len(todo) > self.max_iter - self.it:  # at least one, as the numpy loop takes
                todo = todo[:max(1, int(self.max_iter - self.it))]
            stop = min(todo[-1] + bs, n)
            taken, eta, gsum = run.steps(perm, todo[0], stop, self.it, epoch)
            self.it += taken
            if taken:
                self.eta = eta
            if taken < len(todo):
                raise _diverged("gradient", gsum, self.it, self.last)
            if self.control.requested:
                return self._interrupted(epoch, perm, stop, position, done0,
                                         spent + time.perf_counter() - t0, records)
            if self.it >= self.max_iter:
                return (MAX_ITER, f"stopped: max_iter = {self.max_iter} steps taken"), \
                    spent + time.perf_counter() - t0
            if self.progress is not None:
                self.progress(epoch + 1, done0 + c0 + len(todo), self.total)
        return None, spent + time.perf_counter() - t0
