"""Step sizes: pick η along a direction d and move v → v + η·d (eq. 10, 15).

In a :func:`gdkit.chain` the direction d starts as −∇C, so with no
transforms each of these is the seed's update v → v − η∇C with η chosen in
its own way; after a transform (momentum, clipping) they move along the new
direction. Each keeps the promise of eq. (9), ΔC ≈ η ∇C·d ≤ 0, in its own
way:

- ``fixed``: η a number, or a number times a schedule of the step count and
  epoch (the seed's "η is often varied"); descends when η is small enough.
- ``armijo``: backtracking until C(v + ηd) ≤ C(v) + c·η·∇C·d (sufficient
  decrease, tested in difference form, on the slope where C is flat to
  rounding); refuses a direction that is not a descent direction.
- ``normalized``: η = ε/‖d‖, so every step has length ε (the seed's last
  paragraph: "choose ‖Δv‖ = ε").
- ``bold-driver``: grow η after a step that lowered C, undo one that raised it.
- ``barzilai-borwein``: η from the last two points and gradients, guarded by a
  non-monotone line search (full batch only).
- ``wolfe``: a line search to the strong Wolfe conditions (sufficient
  decrease and curvature), the partner of the ``lbfgs`` transform.

A non-finite trial cost is treated as "reject and shrink", never accepted.
State is a NamedTuple of numbers and arrays made by ``init``; the chain
saves and restores it for checkpoints.
"""

from __future__ import annotations

from typing import Any

import gdkit

from ._search import _ROUNDING_ULPS
from .armijo import Armijo, ArmijoState, BoldDriver, BoldDriverState
from .bb import BarzilaiBorwein, BBState
from .fixed import Fixed, Normalized
from .wolfe import Wolfe, WolfeState

__all__ = [
    "_ROUNDING_ULPS",
    "Armijo",
    "ArmijoState",
    "BBState",
    "BarzilaiBorwein",
    "BoldDriver",
    "BoldDriverState",
    "Fixed",
    "Normalized",
    "Wolfe",
    "WolfeState",
]


@gdkit.hookimpl
def gdkit_step_sizes() -> dict[str, Any]:
    return {
        "fixed": Fixed,
        "armijo": Armijo,
        "normalized": Normalized,
        "bold-driver": BoldDriver,
        "barzilai-borwein": BarzilaiBorwein,
        "wolfe": Wolfe,
    }
