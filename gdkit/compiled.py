"""The compiled path's seam: when the mini-batch loop hands its steps to compiled code.

A run takes the compiled path only when the objective offers
:class:`~gdkit.protocols.CompilesSpans` and returns a runner
(:class:`~gdkit.protocols.CompiledSteps`) for this gradient source, step
rule and batch size. Nothing else needs Python between steps in mini-batch
mode (callbacks, hooks and evaluations run between epochs), so the loop can
hand over whole spans of steps. ``GDKIT_NO_COMPILE=1`` keeps every run on
the numpy path. The core knows no compiler and no compiled form of a part:
the objective's plugin brings its own (``gdkit[fast]``: numba, and what a
part must offer to be compiled, in that plugin).
"""

from __future__ import annotations

import os
from typing import Any

from .protocols import CompiledSteps, CompilesSpans, FloatArray, GradientSource, Objective

__all__ = ["NO_COMPILE", "compiled_steps", "enabled"]

NO_COMPILE = "GDKIT_NO_COMPILE"
"""The environment variable that, set to anything but empty or 0, switches the
compiled path off."""


def enabled() -> bool:
    """False when ``GDKIT_NO_COMPILE`` switches the compiled path off."""
    return os.environ.get(NO_COMPILE, "") in ("", "0")


def compiled_steps(obj: Objective, src: GradientSource, rule: Any, batch_size: int,
                   v: FloatArray, g: FloatArray, state: Any) -> CompiledSteps | None:
    """A runner bound to this run's v, g and the step rule's state ``state``
    (its arrays are updated in place by the compiled steps), or None for the
    numpy path."""
    if not enabled() or not isinstance(obj, CompilesSpans):
        return None
    return obj.compiled_spans(src, rule, batch_size, v, g, state)
