"""The protocols gdkit composes: Objective, GradientSource, StepRule, and the
two parts of a chained step rule, Transform and StepSize.

All parameters are one flat, contiguous ``numpy.ndarray`` v of shape ``(m,)``
(the seed's v = (v1, ..., vm)). A structured model keeps its arrays as views
into that one vector, so a step rule moves every parameter with one vectorized
operation.

The protocols are :func:`typing.runtime_checkable` :class:`typing.Protocol`
classes: a plugin satisfies them structurally, no inheritance required.
Optional capabilities are separate small protocols checked with
``isinstance``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "Batch",
    "CompiledSteps",
    "CompilesSpans",
    "ComplexCost",
    "ComputesCost",
    "Cost",
    "Evaluates",
    "FloatArray",
    "GradientSource",
    "HasGradient",
    "HasInitialPoint",
    "Objective",
    "PartState",
    "PureStepRule",
    "ReusesPass",
    "Sampled",
    "Shardable",
    "Span",
    "Stateful",
    "SteepestMove",
    "StepContext",
    "StepRule",
    "StepSize",
    "Traceable",
    "TracesData",
    "Transform",
    "ValidatesObjective",
]

PartState = tuple[Any, ...]
"""The state of a transform or step size: a :func:`~typing.NamedTuple` of
plain numbers and arrays (or the empty tuple ``()``), so a checkpoint saves it
field by field without pickle."""

FloatArray = npt.NDArray[np.floating[Any]]
"""A float32 or float64 array; parameters and gradients are 1-D ones."""

Batch = npt.NDArray[np.intp]
"""An index array selecting training inputs of a sampled objective."""

from .context import StepContext  # noqa: E402  (it uses the aliases above)


@runtime_checkable
class Objective(Protocol):
    """A cost C(v) over parameters v in R^m (the seed's C(v1, ..., vm)).

    Attributes
    ----------
    dim : int
        m, the number of parameters.

    Methods
    -------
    cost(v, batch=None)
        C(v) as a Python float. For a :class:`Sampled` objective the cost is a
        mean over training inputs x (eq. 6: C = 1/(2n) Σx ‖y(x) − a‖²) and
        ``batch`` (an index array) restricts the mean to a mini-batch; other
        objectives ignore ``batch``. Must not modify ``v``.
    """

    @property
    def dim(self) -> int: ...

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float: ...


@runtime_checkable
class HasGradient(Protocol):
    """Optional capability: an analytic gradient ∇C(v) (eq. 8).

    ``gradient(v, batch=None, out=None)`` returns ∇C at v, of v's shape and
    dtype, written into ``out`` when given (and then returning ``out``).
    """

    def gradient(
        self, v: FloatArray, batch: Batch | None = None, out: FloatArray | None = None
    ) -> FloatArray: ...


@runtime_checkable
class Sampled(Protocol):
    """Optional capability: the cost is a mean over ``n_samples`` training
    inputs, so mini-batch SGD can estimate ∇C from a random subset (eq. 18)."""

    @property
    def n_samples(self) -> int: ...


@runtime_checkable
class HasInitialPoint(Protocol):
    """Optional capability: a default starting point drawn from ``rng``."""

    def initial_point(self, rng: np.random.Generator) -> FloatArray: ...


@runtime_checkable
class ComplexCost(Protocol):
    """Optional, opt-in capability needed by complex-step differences.

    ``complex_cost(v, batch=None)`` evaluates the same C on a complex vector
    with an analytic (holomorphic) formula, for example ``(r * r).sum()``
    rather than ``abs(r) ** 2``, and returns a complex number.
    """

    def complex_cost(
        self, v: npt.NDArray[np.complexfloating[Any, Any]], batch: Batch | None = None
    ) -> complex: ...


@runtime_checkable
class Traceable(Protocol):
    """Optional capability needed by autodiff gradient sources (``autograd``, ``jax``).

    ``traced_cost(xp, v, batch=None)`` computes the same C with the array
    namespace ``xp`` (numpy's API: ``autograd.numpy``, ``jax.numpy``) and
    returns it as a 0-d array, not a float, so that the library can trace
    it: no ``float()`` of intermediate values, no in-place assignment.
    """

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any: ...


@runtime_checkable
class TracesData(Protocol):
    """Optional capability of a :class:`Traceable` objective that holds data:
    its traced cost as a pure function of v and the batch's arrays.

    ``batch_data(batch=None)`` returns the arrays ``batch`` selects (all of
    them when None), for example ``(inputs, targets)``, as numpy arrays;
    ``traced_cost_on(xp, v, data)`` computes from them, and from nothing else
    the objective holds, the same C as ``traced_cost(xp, v, batch)``. A
    compiling autodiff source (``jax``) passes ``data`` as arguments of one
    compiled function, so it compiles once per run, not once per mini-batch,
    and never bakes the training data into the compiled code.
    """

    def batch_data(self, batch: Batch | None = None) -> tuple[npt.NDArray[Any], ...]: ...

    def traced_cost_on(self, xp: Any, v: Any, data: tuple[Any, ...]) -> Any: ...


@runtime_checkable
class Shardable(Protocol):
    """Optional capability of a :class:`Sampled` objective: its data as rows,
    and the objective rebuilt on any shard of them, so that a distributed
    gradient source (``dask``) evaluates it where its data lives.

    ``shard_data()`` returns the arrays holding the n training inputs, one
    input per row along the first axis (for example ``(inputs, targets)``):
    numpy arrays, or chunked arrays of another library (``dask.array``) that
    never have to exist in one process. ``shard_builder()`` returns a
    picklable callable holding none of the data: ``builder(*rows)``, given
    numpy arrays of some of those rows, makes an objective with the same
    settings over these rows only. Since C is a mean over the inputs (eq. 6),
    C and ∇C over all n are the row-weighted means of the shards' own.
    """

    def shard_data(self) -> tuple[Any, ...]: ...

    def shard_builder(self) -> Callable[..., Objective]: ...


@runtime_checkable
class Evaluates(Protocol):
    """Optional capability: metrics to record once per epoch (for example
    test accuracy). Returns a mapping name → float."""

    def evaluate(self, v: FloatArray) -> dict[str, float]: ...


@runtime_checkable
class GradientSource(Protocol):
    """Where ∇C comes from: analytic, or finite differences (eq. 8, 13).

    ``gradient(objective, v, batch=None, out=None)`` returns ∇C(v) with v's
    shape and floating dtype, written into ``out`` when given.
    """

    def gradient(
        self,
        objective: Objective,
        v: FloatArray,
        batch: Batch | None = None,
        out: FloatArray | None = None,
    ) -> FloatArray: ...


@runtime_checkable
class ComputesCost(Protocol):
    """Optional capability of a gradient source that holds the data (on a
    cluster's workers, say): it computes C too, and :func:`gdkit.minimize`
    then takes every C of the run from it rather than from the objective.

    ``cost(objective, v, batch=None)`` returns C(v) as a float (on ``batch``
    when given); ``value_and_gradient(objective, v, batch=None, out=None)``
    returns ``(C(v), ∇C(v))`` from one pass over the data (∇C written into
    ``out`` when given), which the full-batch loop asks for once per step.
    """

    def cost(self, objective: Objective, v: FloatArray, batch: Batch | None = None) -> float: ...

    def value_and_gradient(
        self,
        objective: Objective,
        v: FloatArray,
        batch: Batch | None = None,
        out: FloatArray | None = None,
    ) -> tuple[float, FloatArray]: ...


@runtime_checkable
class ReusesPass(Protocol):
    """Optional capability of a :class:`Sampled` objective with its own
    gradient: the costs a mini-batch step asks for reuse the work of the
    step's gradient call (a line search's C(v) and its trials).

    ``cost_at_gradient(v, batch)`` is C(v) on ``batch`` read from the forward
    pass of the last ``gradient(v, batch, out)`` call, when that call got
    these very arrays ``v`` and ``batch`` and nothing has been computed since;
    ``cost_on_batch(w, batch)`` is C(w) on ``batch`` computed with the inputs
    that call gathered, when they are still held. Each returns exactly what
    ``cost(v, batch)`` (``cost(w, batch)``) would, bit for bit, or None when
    it cannot (then the caller calls ``cost``). ``line_cost(v, d, batch)``
    is the function η ↦ C(v + ηd) on ``batch`` from that call's work, equal
    to ``cost(v + ηd, batch)`` to rounding (the same sums in another order),
    or None. The step context uses them (:class:`StepContext`, ``reuse=``);
    ``v`` must not have moved since the gradient call (``ctx.fun`` is read
    before moving v).
    """

    def cost_at_gradient(self, v: FloatArray, batch: Batch) -> float | None: ...

    def cost_on_batch(self, w: FloatArray, batch: Batch) -> float | None: ...

    def line_cost(self, v: FloatArray, d: FloatArray, batch: Batch
                  ) -> Callable[[float], float] | None: ...


@runtime_checkable
class ValidatesObjective(Protocol):
    """Optional capability of a gradient source: refuse, once per run and with
    a clear :class:`~gdkit.errors.GdkitError`, an objective it cannot
    differentiate."""

    def validate(self, objective: Objective) -> None: ...


@runtime_checkable
class StepRule(Protocol):
    """How v moves given ∇C: v → v − η∇C (eq. 10, 15) with η fixed or adaptive.

    ``step(v, grad, ctx)`` moves ``v`` in place and returns the η it used
    (0.0 when it rejected the step and left ``v`` unchanged). ``ctx`` is a
    :class:`StepContext`: ``ctx.fun`` is C(v) and ``ctx.cost(w)`` evaluates C
    on the same batch, for rules driven by the cost.
    """

    def step(self, v: FloatArray, grad: FloatArray, ctx: StepContext) -> float: ...


@runtime_checkable
class PureStepRule(Protocol):
    """A step rule whose state goes in and comes out (optax's ``init``/``update``).

    The loop owns the state: ``init(v)`` makes it once per run,
    ``update(v, grad, state, ctx)`` moves ``v`` in place and returns the η it
    used and the next state; ``state_dict(state)`` is the state as
    ``{name: number or array}`` for a checkpoint, and ``load_state(v, saved)``
    turns such a mapping back into a state (checked). The rule itself holds
    configuration only, so one object can drive any number of runs.
    :func:`gdkit.chain` builds such rules.
    """

    def init(self, v: FloatArray) -> Any: ...

    def update(self, v: FloatArray, grad: FloatArray, state: Any,
               ctx: StepContext) -> tuple[float, Any]: ...

    def state_dict(self, state: Any) -> dict[str, Any]: ...

    def load_state(self, v: FloatArray, saved: Any) -> Any: ...


@runtime_checkable
class Stateful(Protocol):
    """Optional capability of a monolithic step rule (one with ``step``) that
    keeps its own state (an adaptive η, the previous point...). ``reset()``
    starts a fresh run; ``get_state()`` / ``set_state()`` exchange the state
    as plain numbers and arrays so a checkpoint can store it without pickle.
    Such a rule drives one run at a time; a :class:`PureStepRule` any number."""

    def reset(self) -> None: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class Cost(Protocol):
    """A model's output layer and its cost: the outputs a made from the
    weighted inputs z, and how far they are from the desired outputs y.

    The quadratic cost of eq. (6) with sigmoid outputs is one; the
    cross-entropy cost and the softmax layer with log-likelihood (Nielsen,
    ch. 3) are others. Arrays hold one training input a row, B rows.

    ``activate(z)`` turns z into the outputs a, in place, and returns it.
    ``cost(a, y)`` is the mean over the rows of the per-input cost, a float.
    ``delta(a, y, out)`` writes ∂C/∂z of that mean into ``out`` and returns
    it: the output error δᴸ that backpropagation starts from (BP1).
    Optionally, ``traced(xp, z, y)`` gives the same mean cost from z with the
    array namespace ``xp``, which lets an autodiff gradient source
    (``autograd``) differentiate a network using it.
    """

    def activate(self, z: FloatArray) -> FloatArray: ...

    def cost(self, a: FloatArray, y: FloatArray) -> float: ...

    def delta(self, a: FloatArray, y: FloatArray, out: FloatArray) -> FloatArray: ...


@runtime_checkable
class Transform(Protocol):
    """Turns the current direction d into a new one (momentum, clipping, ...).

    In a :func:`gdkit.chain` the direction starts as d = −∇C (the seed's
    steepest descent, eq. 10) and passes through each transform in order; a
    :class:`StepSize` then moves v along the result.

    ``init(v)`` returns the state for a run starting at ``v`` (a
    :data:`PartState`, fresh arrays; it must not keep or modify ``v``).
    ``update(d, state, v, ctx)`` rewrites ``d`` in place and returns the new
    state; it may write into the arrays of ``state`` (the run owns them) but
    must not modify ``v``. ``ctx.grad`` is ∇C.
    """

    def init(self, v: FloatArray) -> PartState: ...

    def update(self, d: FloatArray, state: PartState, v: FloatArray,
               ctx: StepContext) -> PartState: ...


@runtime_checkable
class StepSize(Protocol):
    """Picks η along a direction d and moves v → v + η·d (eq. 10 with Δv = η·d).

    ``init(v)`` returns the state for a run starting at ``v`` (a
    :data:`PartState`). ``move(v, d, state, ctx)`` moves ``v`` in place and
    returns ``(η, new_state)``; η = 0.0 means the step was rejected and ``v``
    is unchanged. ``d`` must not be modified. ``ctx.fun`` is C(v),
    ``ctx.cost(w)`` evaluates C on the same batch, ``ctx.grad`` is ∇C and
    ``ctx.work(v)`` a scratch array.
    """

    def init(self, v: FloatArray) -> PartState: ...

    def move(self, v: FloatArray, d: FloatArray, state: PartState,
             ctx: StepContext) -> tuple[float, PartState]: ...


@runtime_checkable
class SteepestMove(Protocol):
    """Optional capability of a step size: move along d = −∇C without
    materializing d. A chain with no transforms calls
    ``move_steepest(v, grad, state, ctx)`` instead of ``move``; it must give
    the same η, state and v as ``move(v, -grad, state, ctx)`` (an array pass
    saved per step on the hot path)."""

    def move_steepest(self, v: FloatArray, grad: FloatArray, state: PartState,
                      ctx: StepContext) -> tuple[float, PartState]: ...


class Span(NamedTuple):
    """What a :class:`CompiledSteps` span did.

    Attributes
    ----------
    taken : int
        The steps taken.
    eta : float
        The η of the last one (NaN when none was).
    gsum : float
        When fewer steps were taken than asked and ``handoff`` is False: the
        non-finite sum of the gradient that stopped them (the run diverged).
    rule_state : object
        The step rule's state after the steps taken (the run's, to keep).
    nfev : int
        Cost evaluations the steps made (a line search's trials), as the
        numpy path counts them: 0 for a fixed η.
    handoff : bool
        The next step is the numpy path's: the compiled code stopped before
        a step it does not decide alone (a line search's rare cases). The
        loop takes that one step on the numpy path, then hands the rest of
        the span back.
    """

    taken: int
    eta: float
    gsum: float
    rule_state: Any
    nfev: int = 0
    handoff: bool = False


@runtime_checkable
class CompiledSteps(Protocol):
    """Runs spans of mini-batch steps in compiled code, for one run: the
    compiled span runner behind the loop's seam.

    ``steps(perm, start, stop, iteration, epoch, rule_state, gradient)``
    takes the mini-batch steps over ``perm[start:stop]`` (``start`` and
    ``stop`` at mini-batch boundaries, or ``stop`` = n) from the step rule's
    state ``rule_state`` (the run's, which the loop owns) and returns a
    :class:`Span`. With ``gradient`` True, the run's gradient buffer then
    holds the gradient of the last step taken (the loop asks at the end of
    an epoch and of a run); otherwise its contents are unspecified, which
    lets compiled code take a step without forming its whole gradient. Its
    plugin binds it to the run's v and gradient buffer before handing it
    over.
    """

    def steps(self, perm: Batch, start: int, stop: int, iteration: int, epoch: int,
              rule_state: Any, gradient: bool) -> Span: ...


@runtime_checkable
class CompilesSpans(Protocol):
    """Optional capability of a sampled objective: a compiled path for
    mini-batch SGD. ``compiled_spans(gradient, rule, batch_size, v, g,
    rule_state)`` returns a :class:`CompiledSteps` bound to this run's
    parameters ``v``, gradient buffer ``g`` and step rule state, computing
    what the numpy path computes, or None when it cannot (its extra is not
    installed, a part it cannot compile, another gradient source): the loop
    then runs as always. What a part must offer to be compiled is the
    compiling plugin's business (for the built-in network: the ``gdkit[fast]``
    extra's)."""

    def compiled_spans(self, gradient: GradientSource, rule: Any, batch_size: int,
                       v: FloatArray, g: FloatArray, rule_state: Any) -> CompiledSteps | None: ...
