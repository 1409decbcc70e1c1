"""The one loop: full-batch gradient descent and mini-batch SGD (eq. 10-20)."""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, final

import numpy as np
from scipy.optimize import OptimizeResult

from .adapters import FunctionObjective
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .errors import (
    CheckpointError,
    ConfigError,
    DivergenceError,
    Interrupted,
    ShapeError,
    StepError,
)
from .protocols import (
    Evaluates,
    FloatArray,
    GradientSource,
    HasGradient,
    HasInitialPoint,
    Objective,
    Sampled,
    Stateful,
    StepContext,
    StepRule,
    ValidatesObjective,
)
from .registry import Kind, check_part, get_registry

__all__ = ["History", "Result", "gradient_source", "minimize", "objective", "step_rule"]

DEFAULT_MAX_ITER: Final = 1000
DEFAULT_GTOL: Final = 1e-5

# Result.status values, as in scipy.optimize.
CONVERGED, MAX_ITER, STOPPED, STEP_FAILED, EPOCHS_DONE = 0, 1, 2, 3, 4


class Result(OptimizeResult):  # type: ignore[misc]
    """The outcome of :func:`minimize`, with scipy's ``OptimizeResult`` fields.

    Attributes
    ----------
    x : ndarray
        The final parameters v.
    fun : float
        C(x) (in mini-batch mode: the full training cost after the last epoch).
    jac : ndarray
        The last gradient computed (of a mini-batch, in mini-batch mode).
    grad_norm : float
        ‖jac‖.
    nit : int
        Steps taken.
    nfev, ngev : int
        Cost evaluations (by the loop and the step rule) and gradient evaluations.
    epochs : int
        Epochs completed (0 in full-batch mode).
    success : bool
        Whether the run met its goal: ‖∇C‖ ≤ gtol (full batch) or all its
        epochs (mini-batch).
    status : int
        0 converged, 1 max_iter reached, 2 stopped by the callback, 3 the step
        rule failed, 4 all epochs done.
    message : str
        Why the run stopped, in words.
    history : History
        The cost (and more) per iteration, or per epoch in mini-batch mode.
    """


@final
class History(Mapping[str, FloatArray]):
    """Records of a run: named columns of equal length, one row per iteration
    (full batch) or per epoch (mini-batch). ``history["cost"]`` or
    ``history.cost``.

    Full batch: row k holds ``cost`` C(v_k), ``grad_norm`` ‖∇C(v_k)‖ and
    ``eta``, the η of the step from v_k (NaN on the last row). Mini-batch: row
    e holds the training ``cost`` after epoch e, ``eta`` (the last η of the
    epoch), ``seconds`` (the epoch's training time) and every metric the
    objective's ``evaluate`` returns (for example ``accuracy``).
    """

    __slots__ = ("_columns", "per")

    def __init__(self, per: str, columns: Mapping[str, Any]) -> None:
        self.per = per
        self._columns = {k: np.asarray(v, dtype=float) for k, v in columns.items()}

    def __getitem__(self, key: str) -> FloatArray:
        return self._columns[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __getattr__(self, key: str) -> FloatArray:
        try:
            return self._columns[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def rows(self) -> int:
        """The number of records (iterations or epochs)."""
        return len(next(iter(self._columns.values()), ()))

    def __repr__(self) -> str:
        return f"History(per={self.per!r}, rows={self.rows}, columns={list(self._columns)})"


# -- building parts by name ------------------------------------------------
def objective(name: str, /, **config: Any) -> Objective:
    """Build the registered objective ``name`` with keyword configuration.

    >>> import gdkit
    >>> gdkit.objective("rosenbrock", dim=3).dim
    3
    """
    obj: Objective = get_registry().create("objective", name, **config)
    return obj


def gradient_source(name: str, /, **config: Any) -> GradientSource:
    """Build the registered gradient source ``name`` (``"analytic"``,
    ``"forward"``, ``"central"``, ``"complex-step"``, ...)."""
    src: GradientSource = get_registry().create("gradient source", name, **config)
    return src


def step_rule(name: str, /, **config: Any) -> StepRule:
    """Build the registered step rule ``name``: ``step_rule("fixed", eta=3.0)``."""
    rule: StepRule = get_registry().create("step rule", name, **config)
    return rule


def _resolve(kind: Kind, spec: Any) -> Any:
    if isinstance(spec, str):
        return get_registry().create(kind, spec)
    check_part(kind, spec, f"the {kind} you passed",
               f"Pass a registered {kind} name or an object with those members.")
    return spec


def _wants_result(callback: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        return False
    return params[:1] == ["intermediate_result"]


# -- the loop --------------------------------------------------------------
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
    step : StepRule or str, default "fixed"
        How v moves: a registered rule name (built with default options; the
        ``"fixed"`` rule's default is η = 0.1) or an object such as
        ``gdkit.step_rule("fixed", eta=3.0)``.
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
    registry = get_registry()
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    init_rng, shuffle_rng = (np.random.default_rng(s) for s in ss.spawn(2))

    saved = None if resume is None else load_checkpoint(resume)
    # Resolve the three parts once.
    if isinstance(objective, str):
        obj: Objective = registry.create("objective", objective)
    elif callable(objective) and not isinstance(objective, Objective):
        if v0 is None and saved is None:
            raise ConfigError("a callable objective needs a starting point: pass v0.")
        obj = FunctionObjective(objective, np.size(v0) if saved is None else saved.v.size, jac)
    else:
        check_part("objective", objective, "the objective you passed",
                   "Pass an Objective, a registered objective name, or a callable f(v).")
        obj = objective
        if jac is not None:
            raise ConfigError("jac= is for a callable objective; this objective has its own "
                              "gradient method (or use a gradient source).")
    src: GradientSource = _resolve("gradient source", gradient)
    rule: StepRule = _resolve("step rule", step)
    if isinstance(src, ValidatesObjective):
        src.validate(obj)
    elif gradient == "analytic" and not isinstance(obj, HasGradient):
        raise ConfigError(f"{obj!r} has no analytic gradient; pass gradient='central'.")

    if saved is None:
        v = _starting_point(obj, v0, init_rng, dtype)
    else:
        if v0 is not None:
            raise ConfigError("pass either v0 or resume=, not both: a resumed run continues "
                              "from the checkpoint's parameters.")
        v = np.array(saved.v, dtype=saved.v.dtype if dtype is None else dtype, order="C")
    if isinstance(rule, Stateful):
        rule.reset()
    g_buf = np.empty_like(v)
    ctx = StepContext(obj.cost, v)

    if batch_size is None:
        if epochs is not None:
            raise ConfigError("epochs= needs batch_size= (mini-batch SGD); for full-batch "
                              "gradient descent bound the run with max_iter=.")
        n_iter = DEFAULT_MAX_ITER if max_iter is None else _nonneg_int("max_iter", max_iter)
        if not gtol >= 0:
            raise ConfigError(f"gtol must be a number >= 0, got {gtol!r}.")
        loop: Callable[..., Result] = _full_batch
        config: dict[str, Any] = {"max_iter": n_iter, "gtol": float(gtol)}
    else:
        if not isinstance(obj, Sampled):
            raise ConfigError(
                f"batch_size= needs a sampled objective (one with n_samples, a mean over "
                f"training inputs); {obj!r} has none. Leave batch_size=None for full-batch "
                "gradient descent.")
        b = _nonneg_int("batch_size", batch_size)
        if b == 0:
            raise ConfigError("batch_size must be >= 1.")
        n_epochs = 1 if epochs is None else _nonneg_int("epochs", epochs)
        limit = math.inf if max_iter is None else _nonneg_int("max_iter", max_iter)
        loop = _mini_batch
        config = {"batch_size": b, "epochs": n_epochs, "max_iter": limit,
                  "shuffle_rng": shuffle_rng, "progress": progress}

    run_config = {"mode": "iteration" if batch_size is None else "epoch", "objective": repr(obj),
                  "gradient": repr(src), "step": repr(rule), "dim": int(obj.dim),
                  "dtype": str(v.dtype), "batch_size": batch_size}
    probe = _probe(obj)
    if saved is not None:
        _check_resume(resume, saved, run_config, allow_config_change)
        if not allow_config_change:
            _check_probe(resume, saved, probe(v))
        if isinstance(rule, Stateful):
            rule.set_state(saved.rule_state)
        if saved.rng_state is not None:
            shuffle_rng.bit_generator.state = saved.rng_state
    control = _Control(checkpoint, _positive_int("checkpoint_every", checkpoint_every),
                       run_config, dict(run_info or {}), rule, shuffle_rng, probe)

    hook = registry.pm.hook
    hook.gdkit_run_start(run={
        "objective": obj, "gradient": src, "step": rule, "dim": v.size, "dtype": str(v.dtype),
        "batch_size": batch_size, "epochs": epochs, "seed": seed,
        "resumed_from": None if resume is None else os.fspath(resume),
    })
    notify = None if callback is None else _callback_caller(callback)
    with _trap_signals(control, enabled=handle_signals and checkpoint is not None):
        result: Result = loop(obj, src, rule, v, g_buf, ctx, notify, hook, control=control,
                              start=saved, **config)
    hook.gdkit_run_finish(result=result)
    return result


def _positive_int(name: str, value: Any) -> int:
    n = _nonneg_int(name, value)
    if n == 0:
        raise ConfigError(f"{name} must be >= 1.")
    return n


def _check_resume(path: Any, saved: Checkpoint, now: dict[str, Any], allow: bool) -> None:
    diffs = [f"{k}: saved {saved.config.get(k)!r}, now {now[k]!r}"
             for k in now if saved.config.get(k) != now[k]]
    if saved.v.shape != (now["dim"],):
        raise CheckpointError(f"checkpoint {os.fspath(path)!r} holds {saved.v.size} parameters "
                              f"but the objective has dim {now['dim']}: it is from another run.")
    if diffs and not allow:
        raise CheckpointError(
            f"cannot resume from {os.fspath(path)!r}: the run's configuration differs from the "
            f"saved one ({'; '.join(diffs)}). Resume with the same parts, or pass "
            "allow_config_change=True (--allow-config-change) to continue anyway.")


_PROBE_KEY: Final = "probe_cost"
_PROBE_ROWS: Final = 64


def _probe(obj: Objective) -> Callable[[FloatArray], float]:
    """A fingerprint of the objective as a function, saved with each checkpoint:
    its cost at v on the first 64 training inputs (a sampled objective), or
    C(v). A resume recomputes it at the saved v, which catches other data or
    settings that the parts' reprs do not show."""
    if isinstance(obj, Sampled):
        batch = np.arange(min(int(obj.n_samples), _PROBE_ROWS))
        return lambda v: float(obj.cost(v, batch))
    return lambda v: float(obj.cost(v))


def _check_probe(path: Any, saved: Checkpoint, now: float) -> None:
    was = saved.config.get(_PROBE_KEY)
    if not isinstance(was, float) or not (math.isfinite(was) and math.isfinite(now)):
        return  # an older checkpoint, or nothing to compare
    # Bit-identical on one machine; the tolerance allows another BLAS's rounding.
    rtol = 1e4 * float(np.finfo(saved.v.dtype).eps)
    if abs(now - was) > rtol * max(abs(now), abs(was)):
        raise CheckpointError(
            f"cannot resume from {os.fspath(path)!r}: the objective is not the one the run "
            f"was saved with. At the saved parameters its cost on a probe batch (the first "
            f"{_PROBE_ROWS} training inputs, or the full cost) is now {now!r}, but was {was!r}: "
            "other data or settings than the checkpointed run. Resume with the same "
            "objective, or pass allow_config_change=True (--allow-config-change) to continue "
            "anyway.")


@final
class _Control:
    """Checkpointing and the cooperative stop flag of one run."""

    __slots__ = ("config", "every", "extra", "path", "probe", "requested", "rng", "rule")

    def __init__(self, path: str | os.PathLike[str] | None, every: int, config: dict[str, Any],
                 extra: dict[str, Any], rule: StepRule, rng: np.random.Generator,
                 probe: Callable[[FloatArray], float]) -> None:
        self.path = None if path is None else os.fspath(path)
        self.probe = probe
        self.every = every
        self.config = config
        self.extra = extra
        self.rule = rule
        self.rng = rng
        self.requested = 0  # the signal number once SIGINT/SIGTERM arrived

    def save(self, v: FloatArray, mode: str, *, epoch: int, iteration: int, position: int = 0,
             perm: Any = None, history: Mapping[str, list[float]],
             epoch_seconds: float = 0.0) -> None:
        if self.path is None:
            return
        rule_state = self.rule.get_state() if isinstance(self.rule, Stateful) else {}
        save_checkpoint(self.path, Checkpoint(
            v=v, mode=mode, epoch=epoch, iteration=iteration, position=position, perm=perm,
            rng_state=dict(self.rng.bit_generator.state), history=dict(history),
            rule_state=rule_state, config={**self.config, _PROBE_KEY: self.probe(v)},
            extra=self.extra,
            epoch_seconds=epoch_seconds))

    def interrupted(self, *, epoch: int, iteration: int, where: str) -> Interrupted:
        name = signal.Signals(self.requested).name
        return Interrupted(
            f"interrupted by {name} {where} (iteration {iteration}); the run's state is saved "
            f"in {self.path!r}: continue it with resume={self.path!r} "
            "(gdkit train --resume PATH on the command line).",
            signum=self.requested, checkpoint=self.path or "", epoch=epoch, iteration=iteration)


@contextlib.contextmanager
def _trap_signals(control: _Control, *, enabled: bool) -> Iterator[None]:
    """First SIGINT/SIGTERM: ask the loop to stop after the current step.
    Second: stop at once (KeyboardInterrupt); the atomic write keeps the last
    complete checkpoint intact."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if control.requested:
            raise KeyboardInterrupt
        control.requested = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _nonneg_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be an integer >= 0, got {value!r}.")
    return int(value)


def _starting_point(obj: Objective, v0: Any, rng: np.random.Generator, dtype: Any) -> FloatArray:
    if v0 is None:
        if not isinstance(obj, HasInitialPoint):
            raise ConfigError(f"{obj!r} has no initial_point: pass v0.")
        v0 = obj.initial_point(rng)
    arr = np.asarray(v0)
    if dtype is None:
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ConfigError(f"dtype must be a floating dtype (float32 or float64), got {dtype!r}.")
    v = np.array(arr, dtype=dtype, order="C", copy=True)
    if v.shape != (obj.dim,):
        raise ShapeError(f"v0 has shape {arr.shape}, but {obj!r} has dim {obj.dim}: "
                         f"pass a 1-D array of length {obj.dim}.")
    if not np.all(np.isfinite(v)):
        raise ConfigError("v0 contains NaN or infinite values.")
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


def _diverged(what: str, value: float, it: int, last: float | None) -> DivergenceError:
    last_txt = "none" if last is None else f"{last:.6g}"
    return DivergenceError(
        f"the {what} became {value} at iteration {it} (last finite cost: {last_txt}). "
        "The steps are too large for this objective: try a smaller η "
        "(gdkit.step_rule('fixed', eta=...)) or an adaptive rule such as 'armijo'.",
        iteration=it, last_finite_cost=last)


def _full_batch(obj: Objective, src: GradientSource, rule: StepRule, v: FloatArray,
                g_buf: FloatArray, ctx: StepContext, notify: Callable[..., bool] | None,
                hook: Any, *, max_iter: int, gtol: float, control: _Control,
                start: Checkpoint | None) -> Result:
    history = start.history if start is not None else {}
    costs: list[float] = list(history.get("cost", []))
    norms: list[float] = list(history.get("grad_norm", []))
    etas: list[float] = list(history.get("eta", []))
    it = 0 if start is None else start.iteration
    cost, gradient, step, dot, isfinite, sqrt = (
        obj.cost, src.gradient, rule.step, np.dot, math.isfinite, math.sqrt)
    every = control.every if control.path is not None else 0
    nfev, last = 1, None
    f = cost(v)
    status, message, g, gnorm = MAX_ITER, "", g_buf, math.nan
    while True:
        if not isfinite(f):
            raise _diverged("cost", f, it, last)
        last = f
        g = gradient(obj, v, None, g_buf)
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
        ctx._reset(it, None, f)
        try:
            eta = step(v, g, ctx)
        except StepError as exc:
            status, message = STEP_FAILED, f"step rule failed at iteration {it}: {exc}"
            break
        etas.append(eta)
        it += 1
        f = cost(v)
        nfev += 1
        if every and (it % every == 0 or control.requested):
            # The state after step `it`: the rows of v_0 .. v_{it-1}; v_it's
            # row is recomputed on resume.
            control.save(v, "iteration", epoch=0, iteration=it,
                         history={"cost": costs, "grad_norm": norms, "eta": etas})
            if control.requested:
                raise control.interrupted(epoch=0, iteration=it, where=f"after step {it}")
    etas.extend([math.nan] * (len(costs) - len(etas)))
    history_out = History("iteration", {"cost": costs, "grad_norm": norms, "eta": etas})
    return Result(x=v, fun=f, jac=g.copy(), grad_norm=gnorm, nit=it, nfev=nfev + ctx.nfev,
                  ngev=len(costs), epochs=0, success=status == CONVERGED, status=status,
                  message=message, history=history_out)


def _mini_batch(obj: Any, src: GradientSource, rule: StepRule, v: FloatArray,
                g_buf: FloatArray, ctx: StepContext, notify: Callable[..., bool] | None,
                hook: Any, *, batch_size: int, epochs: int, max_iter: float,
                shuffle_rng: np.random.Generator,
                progress: Callable[[int, int, int], None] | None, control: _Control,
                start: Checkpoint | None) -> Result:
    n = int(obj.n_samples)
    gradient, step, isfinite = src.gradient, rule.step, math.isfinite
    evaluate = obj.evaluate if isinstance(obj, Evaluates) else None
    records: dict[str, list[float]] = {"cost": [], "eta": [], "seconds": []}
    it, epoch, position, perm, spent = 0, 0, 0, None, 0.0
    if start is not None:
        records = {k: list(col) for k, col in start.history.items()} or records
        it, epoch, position, perm = start.iteration, start.epoch, start.position, start.perm
        spent = start.epoch_seconds
        if perm is not None and perm.shape != (n,):
            raise CheckpointError(f"the checkpoint's permutation covers {perm.size} samples but "
                                  f"the objective has {n}: it is from another run.")
    eta, nfev = math.nan, 0
    g, f = g_buf, math.nan
    last: float | None = records["cost"][-1] if records.get("cost") else None
    status, message = EPOCHS_DONE, f"done: {epochs} epochs"
    total = len(range(0, n, batch_size))
    # Chunks of ~1% of the epoch: progress is reported between chunks, so the
    # per-step loop stays free of it.
    chunk = max(1, total // 100) if progress is not None else total
    stopped = False
    while epoch < epochs:
        if perm is None:
            perm = shuffle_rng.permutation(n)
            position, spent = 0, 0.0
        starts = range(position, n, batch_size)
        done0 = total - len(starts)
        t0 = time.perf_counter()
        for c0 in range(0, len(starts), chunk):
            for start_i in starts[c0:c0 + chunk]:
                batch = perm[start_i:start_i + batch_size]
                ctx._reset(it, batch, None)
                g = gradient(obj, v, batch, g_buf)
                if g is not g_buf:
                    g = _check_gradient(g, v, src)
                # Finiteness only (NaN and inf propagate through a sum); a
                # plain sum, not BLAS dot, which wakes threads above ~10k
                # elements on every step.
                gsum = g.sum()
                if not isfinite(gsum):
                    raise _diverged("gradient", gsum, it, last)
                try:
                    eta = step(v, g, ctx)
                except StepError as exc:
                    status, message = STEP_FAILED, f"step rule failed at iteration {it}: {exc}"
                    stopped = True
                    break
                it += 1
                if control.requested:
                    position = start_i + batch_size
                    if position < n:  # mid-epoch: save where we are and leave
                        spent += time.perf_counter() - t0
                        control.save(v, "epoch", epoch=epoch, iteration=it, position=position,
                                     perm=perm, history=records, epoch_seconds=spent)
                        raise control.interrupted(
                            epoch=epoch, iteration=it,
                            where=f"in epoch {epoch + 1}, mini-batch {done0 + c0 + 1}")
                    break  # the epoch is complete: finish it normally below
                if it >= max_iter:
                    status, message = MAX_ITER, f"stopped: max_iter = {max_iter} steps taken"
                    stopped = True
                    break
            if stopped or control.requested:
                break
            if progress is not None:
                progress(epoch + 1, min(done0 + c0 + chunk, total), total)
        seconds = spent + time.perf_counter() - t0
        epoch += 1
        perm = None
        f = obj.cost(v)
        nfev += 1
        if not isfinite(f):
            raise _diverged("cost", f, it, last)
        last = f
        record = {"cost": f, "eta": float(eta), "seconds": seconds}
        if evaluate is not None:
            record.update(evaluate(v))
        for k, val in record.items():
            records.setdefault(k, [math.nan] * (epoch - 1)).append(float(val))
        control.save(v, "epoch", epoch=epoch, iteration=it, history=records)
        hook.gdkit_epoch_end(epoch=epoch, record=record)
        if control.requested:
            raise control.interrupted(epoch=epoch, iteration=it,
                                      where=f"at the end of epoch {epoch}")
        if status != EPOCHS_DONE:
            break
        if notify is not None and notify(v, fun=f, nit=it, epoch=epoch, record=record):
            status, message = STOPPED, f"stopped by the callback after epoch {epoch}"
            break
    gnorm = math.sqrt(float(np.dot(g, g))) if it else math.nan
    return Result(x=v, fun=f, jac=g.copy(), grad_norm=gnorm, nit=it, nfev=nfev + ctx.nfev,
                  ngev=it, epochs=epoch, success=status == EPOCHS_DONE, status=status,
                  message=message, history=History("epoch", records))
