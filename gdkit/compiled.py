"""The compiled path's seam: when the mini-batch loop hands its steps to compiled code.

A run takes the compiled path only when every part agrees: the objective
offers :class:`~gdkit.protocols.CompilesSteps` and returns a runner for this
gradient source, batch size and dtype, and the step rule is a chain whose
every part has a :class:`~gdkit.protocols.CompiledForm`. Nothing else needs
Python between steps in mini-batch mode (callbacks, hooks and evaluations
run between epochs), so the loop can hand over whole spans of steps.
``GDKIT_NO_COMPILE=1`` keeps every run on the numpy path. The core knows no
compiler: the objective's plugin brings its own (``gdkit[fast]``: numba).
"""

from __future__ import annotations

import os
from typing import Any

from .compose import Chain
from .protocols import (
    CompiledForm,
    CompiledSteps,
    CompilesSteps,
    FloatArray,
    GradientSource,
    HasCompiledForm,
    Objective,
)

__all__ = ["NO_COMPILE", "compiled_steps", "enabled"]

NO_COMPILE = "GDKIT_NO_COMPILE"
"""The environment variable that, set to anything but empty or 0, switches the
compiled path off."""


def enabled() -> bool:
    """False when ``GDKIT_NO_COMPILE`` switches the compiled path off."""
    return os.environ.get(NO_COMPILE, "") in ("", "0")


def compiled_steps(obj: Objective, src: GradientSource, rule: Any, batch_size: int,
                   v: FloatArray, g: FloatArray, state: Any) -> CompiledSteps | None:
    """A runner bound to this run's v, g and the chain's state ``state`` (its
    arrays are updated in place by the compiled steps), or None for the numpy
    path."""
    if not enabled() or not isinstance(obj, CompilesSteps) or not isinstance(rule, Chain):
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
