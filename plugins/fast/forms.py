"""What a part must offer to be compiled: the compiled path's vocabulary.

A run takes the compiled path only when every part agrees: the step rule is
a chain whose every part has a :class:`CompiledForm` (:class:`HasCompiledForm`),
and the objective (:class:`CompilesSteps`) returns a :class:`CompiledRunner`
for this gradient source, these forms, batch size and dtype.
:func:`compiled_run` asks them, for an objective's
:meth:`~gdkit.protocols.CompilesSpans.compiled_spans`; the core knows only
that seam (:mod:`gdkit.compiled`). This module imports nothing heavy: the
built-in transforms and step sizes import :class:`CompiledForm` from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from gdkit.compose import Chain
from gdkit.protocols import CompiledSteps, FloatArray, GradientSource, PartState

__all__ = ["CompiledForm", "CompiledRunner", "CompilesSteps", "HasCompiledForm",
           "compiled_run"]


class CompiledForm(NamedTuple):
    """What a transform or step size is, in terms compiled code can run.

    ``kind`` names the rule (``"fixed"``, ``"momentum"``); ``constants`` are
    its numbers (momentum: β and 1.0 for Nesterov, else 0.0); a step size's
    ``eta(iteration, epoch)`` gives η at a step (a schedule included), the
    same η its ``move`` would use.
    """

    kind: str
    constants: tuple[float, ...] = ()
    eta: Callable[[int, int], float] | None = None


@runtime_checkable
class HasCompiledForm(Protocol):
    """Optional capability of a transform or step size: its
    :class:`CompiledForm`, or None when this configuration has none. A
    compiled path runs a chain only if every part has one and the
    objective's compiled code knows every kind."""

    def compiled_form(self) -> CompiledForm | None: ...


@runtime_checkable
class CompiledRunner(CompiledSteps, Protocol):
    """A :class:`~gdkit.protocols.CompiledSteps` to bind to a run.

    ``bind(v, g, states)`` hands it the run's parameters, gradient buffer
    and the chain's part states (arrays it updates in place, so checkpoints
    see them), before the loop calls its ``steps``.
    """

    def bind(self, v: FloatArray, g: FloatArray, states: list[PartState]) -> None: ...


@runtime_checkable
class CompilesSteps(Protocol):
    """Optional capability of a sampled objective: a compiled path for
    mini-batch SGD. ``compiled_steps(gradient, forms, batch_size, dtype)``
    returns a :class:`CompiledRunner` computing what the numpy path computes
    with this gradient source and these step-rule forms, or None when it
    cannot (its extra is not installed, a form it does not know, another
    gradient source): the loop then runs as always."""

    def compiled_steps(self, gradient: GradientSource, forms: tuple[CompiledForm, ...],
                       batch_size: int, dtype: np.dtype[Any]) -> CompiledRunner | None: ...


def compiled_run(obj: CompilesSteps, src: GradientSource, rule: Any, batch_size: int,
                 v: FloatArray, g: FloatArray, state: Any) -> CompiledRunner | None:
    """A runner bound to this run's v, g and the chain's state ``state`` (its
    arrays are updated in place by the compiled steps), or None for the numpy
    path."""
    if not isinstance(rule, Chain):
        return None
    forms: list[CompiledForm] = []
    for part in rule.parts:
        form = part.compiled_form() if isinstance(part, HasCompiledForm) else None
        if form is None:
            return None
        forms.append(form)
    runner = obj.compiled_steps(src, tuple(forms), batch_size, v.dtype)
    if runner is not None:
        runner.bind(v, g, list(state.parts))
    return runner
