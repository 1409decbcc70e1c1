"""The network's compiled hook: mini-batch SGD in compiled code, offered by
:mod:`gdkit_plugins.fast` (``gdkit[fast]``, numba)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gdkit.protocols import CompiledForm, CompiledSteps, GradientSource

from .backprop import Backprop

__all__ = ["CompiledHook"]


class CompiledHook(Backprop):
    """``compiled_steps``: what the compiled path asks a network for."""

    def compiled_steps(self, gradient: GradientSource, forms: tuple[CompiledForm, ...],
                       batch_size: int, dtype: np.dtype[Any]) -> CompiledSteps | None:
        """Mini-batch SGD compiled with numba (``gdkit[fast]``), or None for the
        numpy path: see :mod:`gdkit_plugins.fast` for what it supports."""
        from .. import fast
        if self._lazy or not fast.available():
            return None
        return fast.network_steps(self, gradient, forms, batch_size, dtype)
