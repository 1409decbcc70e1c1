"""The one loop: full-batch gradient descent and mini-batch SGD (eq. 10-20).

:func:`minimize` resolves the parts, chooses the mode (full batch or
mini-batches), applies a resume, and runs one of the two loops below.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from .adapters import FunctionObjective
from .checkpoint import Checkpoint, load_checkpoint
from .compiled import compiled_steps
from .errors import CheckpointError, ConfigError, ShapeError
from .files import check_target, claim
from .loop import FullBatch, MiniBatch, Parts, run
from .observers import Notifier, finishing, starting, step_of, watchers
from .parts import resolve
from .protocols import (
    ComputesCost,
    FloatArray,
    GradientSource,
    HasInitialPoint,
    Objective,
    ReusesPass,
    Sampled,
    StepContext,
    StepRule,
    ValidatesObjective,
)
from .registry import check_part, get_registry
from .result import Result
from .resume import RunControl, check_config, check_probe, identities, probe_of, trap_signals
from .settings import DEFAULT_EVERY, Checkpointing, RunOptions, checkpointing, moved
from .state import RunState, driver
from .threads import decide, limit
from .validate import float_dtype, integer, memory, number

__all__ = ["minimize"]

DEFAULT_MAX_ITER: Final = 1000
DEFAULT_GTOL: Final = 1e-5
HISTORY_ROW_BYTES: Final = 3 * 32
"""A full-batch step's history row in memory: three Python floats in lists."""


@moved
def minimize(
    objective: Objective | Callable[[FloatArray], float] | str,
    v0: Any = None,
    *,
    gradient: GradientSource | Callable[[FloatArray], Any] | str = "auto",
    step: StepRule | str = "auto",
    batch_size: int | None = None,
    epochs: int | None = None,
    max_iter: int | None = None,
    gtol: float = DEFAULT_GTOL,
    seed: int | np.random.SeedSequence | None = None,
    observers: Any = (),
    checkpoint: str | os.PathLike[str] | Checkpointing | None = None,
    options: RunOptions | None = None,
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
    gradient : GradientSource, str or callable, default "auto"
        Where ∇C comes from: ``"auto"`` (the objective's own gradient when it
        has one; else central differences, as scipy does for a function given
        without a gradient), ``"analytic"``, ``"forward"``, ``"central"``,
        ``"complex-step"``, or an object. For a callable ``objective``, a
        function ``jac(v) -> ∇C`` (scipy's ``jac``). The result's
        ``gradient_source`` is the one used.
    step : StepRule, StepSize or str, default "auto"
        How v moves: ``"auto"`` (``"lbfgs,wolfe"``, limited-memory BFGS with
        a strong Wolfe line search, in full-batch mode, where it converges
        where scipy's default BFGS does; ``"fixed"``, the book's SGD with
        η = 0.1, in mini-batch mode), a registered step rule or step size
        name, a chain in the step-rule grammar such as
        ``"momentum(beta=0.9),armijo"`` (:func:`gdkit.parse_step`), or an
        object such as ``gdkit.step_rule("fixed", eta=3.0)`` or
        ``gdkit.chain(...)``. The result's ``step_rule`` is the one used.
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
    observers : sequence, optional
        What watches the run (:mod:`gdkit.observers`): objects whose
        ``on_start(event)``, ``on_epoch(event)`` (after every epoch, every step
        in full-batch mode; True stops the run), ``on_progress(epoch, done,
        total)`` (mini-batch mode, about 100 times an epoch: a progress bar)
        and ``on_finish(result)`` are called if they have them; and scipy-style
        callbacks, plain functions called after every epoch with a copy of v
        (or, if the first parameter is named ``intermediate_result``, a
        :class:`Result` with ``x``, ``fun``, ``nit`` and ``grad_norm`` in full
        batch, ``epoch`` and the epoch's ``record`` in mini-batch mode), which
        stop the run by returning True or raising :class:`StopIteration`.
        Every epoch is observed exactly once, before it is saved and before a
        signal stops the run.
    checkpoint : path or Checkpointing, optional
        A path: save the whole state of the run there (atomically, ``.npz``)
        after every epoch (mini-batch) or every 100 iterations (full batch).
        A :class:`~gdkit.settings.Checkpointing` says how often, whether to
        resume a saved run (bit for bit), and what else to keep.
    options : RunOptions, optional
        How the run executes (:class:`~gdkit.settings.RunOptions`): the
        floating dtype of v (float64 by default, v0's when it is floating),
        BLAS threads (``"auto"``), and whether SIGINT/SIGTERM stop the run
        cleanly, saving its checkpoint (yes).

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
        A part could not be found, was broken, or was misconfigured; or a
        keyword ``minimize`` no longer takes was given (the one-line message
        names its new spelling, :data:`gdkit.settings.MOVED`).
    CheckpointError
        The checkpoint to resume is unreadable or of another configuration.
    Interrupted
        SIGINT or SIGTERM arrived (and the checkpoint, if any, was saved).

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
    ck, opts, watch = _settings(checkpoint, options, observers, seed)
    saved = None if ck is None or ck.source is None else _load(ck)
    parts, v, rng = _parts(objective, v0, gradient, step, opts.dtype, seed, saved, batch_size)
    obj, src, rule = parts.obj, parts.src, parts.rule
    config = _config(parts, v, batch_size)
    probe = probe_of(obj, parts.cost)
    state = _state(parts, v, rng, saved, ck, config, probe)
    hook = get_registry().pm.hook
    notify = Notifier(config["mode"], watch, hook)
    mode = _mode(parts, state, batch_size, epochs, max_iter, gtol, notify.progress,
                 saved is not None)
    control = RunControl(None if ck is None else ck.target, DEFAULT_EVERY if ck is None
                         else ck.every, config, {} if ck is None else dict(ck.run_info or {}),
                         rule, probe)
    hook.gdkit_run_start(run={**config, "objective": obj, "gradient": src, "step": step_of(rule),
                              "dim": v.size, "epochs": epochs, "seed": seed,
                              "resumed_from": None if ck is None else ck.source})
    result = _execute(parts, mode, state, control, notify, watch, opts, saved is not None)
    finishing(watch, result)  # the run's own observers first: a plugin's hook may fail
    hook.gdkit_run_finish(result=result)
    return result


def _settings(checkpoint: Any, options: Any, observers: Any, seed: Any
              ) -> tuple[Checkpointing | None, RunOptions, list[Any]]:
    """The run's settings, checked before any work: checkpointing (its file
    writable), options, observers, seed."""
    ck, watch = checkpointing(checkpoint), watchers(observers)
    if options is not None and not isinstance(options, RunOptions):
        raise ConfigError(f"minimize: options must be a gdkit.RunOptions, got "
                          f"{type(options).__name__} {options!r}"[:160] + ".")
    if not (seed is None or isinstance(seed, np.random.SeedSequence)):
        integer("minimize", "seed", seed, minimum=0)
    if ck is not None and ck.target is not None:
        check_target(ck.target, "checkpoint")
    return ck, options or RunOptions(), watch


def _load(ck: Checkpointing) -> Checkpoint:
    """The checkpoint ``ck`` resumes."""
    return load_checkpoint(ck.source or "")


def _config(parts: Parts, v: FloatArray, batch_size: Any) -> dict[str, Any]:
    """The run's configuration as a checkpoint records it (and a resume compares it)."""
    return {"mode": "iteration" if batch_size is None else "epoch",
            **identities(parts.obj, parts.src, step_of(parts.rule)), "dim": int(parts.obj.dim),
            "dtype": str(v.dtype), "batch_size": batch_size}


def _execute(parts: Parts, mode: FullBatch | MiniBatch, state: RunState, control: RunControl,
             notify: Notifier, watch: list[Any], opts: RunOptions, resumed: bool) -> Result:
    """Run ``mode`` holding the checkpoint's lock, with signals trapped and BLAS
    threads decided; count a finite-difference source's evaluations."""
    obj, src = parts.obj, parts.src
    probes = getattr(src, "nfev", None)  # a finite-difference source counts its evaluations
    rows = mode.bs if isinstance(mode, MiniBatch) else int(getattr(obj, "n_samples", 1))
    blas = decide(opts.threads, rows, int(obj.dim))
    with (claim(control.path) if control.path is not None else contextlib.nullcontext()), \
            trap_signals(control, enabled=opts.handle_signals), limit(blas):
        starting(watch, mode.name, state, resumed)
        result = run(mode, state, control, notify)
    if isinstance(probes, int):
        result.nfev += src.nfev - probes  # type: ignore[attr-defined]
    return result


def _parts(objective: Any, v0: Any, gradient: Any, step: Any, dtype: Any, seed: Any,
           saved: Checkpoint | None, batch_size: Any
           ) -> tuple[Parts, FloatArray, np.random.Generator]:
    """The run's parts, resolved and checked once; its start v; its shuffling generator.
    A plain function as ``gradient`` is a callable objective's ∇C (scipy's ``jac``)."""
    jac = gradient if _is_function(gradient) else None
    obj = _objective(objective, v0, jac, saved)
    src: GradientSource = resolve("gradient source", "analytic" if jac else gradient,
                                  objective=obj)
    rule = driver(resolve("step rule", step, mini_batch=batch_size is not None))
    if isinstance(src, ValidatesObjective):
        src.validate(obj)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    init_rng, shuffle_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    v = _starting_point(obj, v0, init_rng, dtype) if saved is None else _saved_point(
        saved, v0, dtype)
    cost_fn = _cost_function(obj, src)
    reuse = obj if isinstance(obj, ReusesPass) and not isinstance(src, ComputesCost) else None
    ctx = StepContext(cost_fn, v, lambda w, b, out: src.gradient(obj, w, b, out), reuse=reuse)
    return Parts(obj, src, rule, cost_fn, ctx, np.empty_like(v)), v, shuffle_rng


def _is_function(gradient: Any) -> bool:
    """A gradient given as a function v -> ∇C, not a source, a name or a class."""
    return (callable(gradient) and not isinstance(gradient, (str, type))
            and not isinstance(gradient, GradientSource))


def _state(parts: Parts, v: FloatArray, rng: np.random.Generator, saved: Checkpoint | None,
           ck: Checkpointing | None, config: dict[str, Any],
           probe: Callable[[FloatArray], float]) -> RunState:
    """A fresh run's state, or the checkpoint's (its configuration checked first)."""
    if saved is None or ck is None:
        return RunState(v=v, rule_state=parts.rule.init(v), rng=rng)
    source, allow = ck.source, ck.allow_config_change
    check_config(source, saved, config, allow)
    if not allow:
        check_probe(source, saved, probe(v))
    return RunState.resumed(saved, v, parts.rule, rng, os.fspath(source or ""))


def _objective(objective: Any, v0: Any, jac: Any, saved: Checkpoint | None) -> Objective:
    """The objective given by name, as an object, or as a callable f(v)."""
    if callable(objective) and not isinstance(objective, (Objective, str)):
        if v0 is None and saved is None:
            raise ConfigError("a callable objective needs a starting point: pass v0.")
        return FunctionObjective(objective, np.size(v0) if saved is None else saved.v.size, jac)
    if jac is not None:
        raise ConfigError("a gradient function (scipy's jac) is for a callable objective; "
                          f"{objective!r}"[:100] + " has its own gradient: leave "
                          "gradient='auto', or pass a gradient source.")
    if isinstance(objective, str):
        obj: Objective = get_registry().create("objective", objective)
        return obj
    check_part("objective", objective, "the objective you passed",
               "Pass an Objective, a registered objective name, or a callable f(v).")
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


def _mode(parts: Parts, state: RunState, batch_size: Any, epochs: Any, max_iter: Any,
          gtol: Any, progress: Any, resumed: bool) -> FullBatch | MiniBatch:
    """What an epoch is (one full-batch step, or a pass in mini-batches), checked."""
    obj, src = parts.obj, parts.src
    if batch_size is None:
        if epochs is not None:
            raise ConfigError("epochs= needs batch_size= (mini-batch SGD); for full-batch "
                              "gradient descent bound the run with max_iter=.")
        n_iter = DEFAULT_MAX_ITER if max_iter is None else _nonneg_int("max_iter", max_iter)
        memory("minimize", f"max_iter = {n_iter:,} (a history row of three numbers a step)",
               n_iter * HISTORY_ROW_BYTES)
        vg = src.value_and_gradient if isinstance(src, ComputesCost) else None
        return FullBatch(parts, max_iter=n_iter, value_and_gradient=vg,
                         gtol=number("minimize", "gtol", gtol, low=0.0, low_closed=True))
    if not isinstance(obj, Sampled):
        raise ConfigError(
            f"batch_size= needs a sampled objective (one with n_samples, a mean over "
            f"training inputs); {obj!r} has none. Leave batch_size=None for full-batch "
            "gradient descent.")
    b = _positive_int("batch_size", batch_size)
    n = int(obj.n_samples)
    if resumed:
        _check_position(state, n)
    return MiniBatch(parts, n=n, batch_size=b,
                     epochs=1 if epochs is None else _nonneg_int("epochs", epochs),
                     max_iter=math.inf if max_iter is None else _nonneg_int("max_iter", max_iter),
                     progress=progress, resumed=resumed,
                     compiled=compiled_steps(obj, src, parts.rule, b, state.v, parts.g,
                                             state.rule_state))


def _check_position(state: RunState, n: int) -> None:
    """A resumed mini-batch run's place in its epoch is one of this objective's."""
    perm, position = state.perm, state.position
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


def _saved_point(saved: Checkpoint, v0: Any, dtype: Any) -> FloatArray:
    if v0 is not None:
        raise ConfigError("pass either v0 or a checkpoint to resume, not both: a resumed run "
                          "continues from the checkpoint's parameters.")
    dt = saved.v.dtype if dtype is None else float_dtype("minimize", "dtype", dtype, options=None)
    return np.array(saved.v, dtype=dt, order="C")


def _positive_int(name: str, value: Any) -> int:
    return integer("minimize", name, value, minimum=1)


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
