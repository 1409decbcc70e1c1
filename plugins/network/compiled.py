"""The network's compiled hook: mini-batch SGD in compiled code, offered by
:mod:`gdkit_plugins.fast` (``gdkit[fast]``, numba)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gdkit.protocols import FloatArray, GradientSource

from .backprop import Backprop

if TYPE_CHECKING:
    from ..fast import CompiledForm, CompiledRunner

__all__ = ["CompiledHook"]


class CompiledHook(Backprop):
    """``compiled_spans`` (the core's seam, :class:`~gdkit.protocols.CompilesSpans`)
    and ``compiled_steps`` (what :mod:`gdkit_plugins.fast` asks a network for).

    Only a class that declares ``_compiled_kernels = True`` in its own body
    (:class:`~gdkit_plugins.network.Network` does) is compiled: a subclass
    may change what a step computes, so it is not, unless it declares it too.
    """

    def compiled_spans(self, gradient: GradientSource, rule: Any, batch_size: int,
                       v: FloatArray, g: FloatArray, rule_state: Any) -> CompiledRunner | None:
        """A compiled runner bound to this run (:func:`gdkit_plugins.fast.compiled_run`),
        or None for the numpy path."""
        from .. import fast
        return fast.compiled_run(self, gradient, rule, batch_size, v, g, rule_state)

    def compiled_steps(self, gradient: GradientSource, forms: tuple[CompiledForm, ...],
                       batch_size: int, dtype: np.dtype[Any]) -> CompiledRunner | None:
        """Mini-batch SGD compiled with numba (``gdkit[fast]``), or None for the
        numpy path: see :mod:`gdkit_plugins.fast` for what it supports."""
        from .. import fast
        # Exactly the network: a subclass may change what a step computes.
        if not vars(type(self)).get("_compiled_kernels", False):
            return None
        if self._lazy or not fast.available():
            return None
        return fast.network_steps(self, gradient, forms, batch_size, dtype)
