"""The compiled path (``gdkit[fast]``, numba): what it compiles, and the kernels.

:mod:`.forms` is the vocabulary: what a part must offer to be compiled
(:class:`CompiledForm`, :class:`HasCompiledForm`, :class:`CompilesSteps`)
and :func:`compiled_run`, which an objective's
:meth:`~gdkit.protocols.CompilesSpans.compiled_spans` calls. :mod:`.network`
compiles the sigmoid network's mini-batch steps (:func:`network_steps`) with
the numba kernels of :mod:`._kernels` (numba is imported only when a
compiled run starts). Importing this package imports neither numba nor any
other plugin.
"""

from __future__ import annotations

from .forms import CompiledForm, CompiledRunner, CompilesSteps, HasCompiledForm, compiled_run
from .network import CompiledNetworkSteps, available, network_steps

__all__ = ["CompiledForm", "CompiledNetworkSteps", "CompiledRunner", "CompilesSteps",
           "HasCompiledForm", "available", "compiled_run", "network_steps"]
