"""Exact gradients of ``jax.numpy`` code, compiled: the ``jax`` gradient source (``gdkit[jax]``).

`JAX <https://docs.jax.dev>`_ differentiates a cost written with
``jax.numpy`` by reverse mode and compiles the gradient with XLA: ∇C to
rounding, with none of autograd's per-operation Python bookkeeping once it
is compiled. The source compiles ``jax.grad`` of the objective's traced cost
**once per run** (in :meth:`JaxGradient.validate`, which
:func:`gdkit.minimize` calls before the first step); the compiled function
takes v and the batch's data as arguments, so every mini-batch of one size
reuses it (an objective with :class:`~gdkit.protocols.TracesData`). A
sampled objective that only offers ``traced_cost(xp, v, batch)`` is
differentiated without compiling for its mini-batches (correct, slower).

JAX computes in float32 unless its 64-bit mode is on; float64 parameters
with the mode off are refused with a clear error rather than silently
rounded. Results are numpy arrays of v's dtype.

JAX is imported when a run first asks for this source, never when gdkit or
its plugins load.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import gdkit
from gdkit.errors import ConfigError, MissingExtraError
from gdkit.protocols import Batch, FloatArray, Objective, TracesData

from .autodiff import TRACE_ERRORS, delivered, require_traceable, untraceable

__all__ = ["JaxGradient"]

_CAUSES = ("Likely causes: the cost uses plain numpy (write it with jax.numpy), assigns into "
           "an array in place (use x.at[i].set(...)), calls float() or .item() on an "
           "intermediate value, or branches with `if` on one (use jnp.where).")
_X64 = ("the gradient source 'jax' got float64 parameters, but JAX's 64-bit mode is off and "
        "it would compute in float32: set JAX_ENABLE_X64=1 in the environment (or call "
        "jax.config.update('jax_enable_x64', True) before any JAX work), or run in float32.")


class JaxGradient:
    """∇C by reverse-mode automatic differentiation of the cost, compiled (JAX).

    Exact to rounding for any cost written with ``jax.numpy``; the result is
    a numpy array of v's dtype, written into ``out`` when given. Needs the
    ``jax`` extra (``pip install 'gdkit[jax]'``).
    """

    def __init__(self) -> None:
        self._objective: Objective | None = None
        self._compiled: Any = None  # jit(grad(cost)) for the objective of this run
        self._on_data = False  # the compiled function takes (v, data)
        self._all_data: tuple[Any, ...] | None = None  # the full batch, on the device

    def __repr__(self) -> str:
        return "JaxGradient()"

    def validate(self, objective: Objective) -> None:
        """Refuse an objective whose cost cannot be traced, and compile for the run."""
        traceable = require_traceable("jax", "jax.numpy", objective)
        jax, jnp = _jax()
        self._on_data = isinstance(objective, TracesData)
        if isinstance(objective, TracesData):
            on_data = objective

            def cost_on(w: Any, data: tuple[Any, ...]) -> Any:
                return on_data.traced_cost_on(jnp, w, data)
            self._compiled = jax.jit(jax.grad(cost_on))
        else:
            def cost(w: Any) -> Any:
                return traceable.traced_cost(jnp, w, None)
            self._compiled = jax.jit(jax.grad(cost))
        self._objective = objective
        self._all_data = None

    def gradient(self, objective: Objective, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        """∇C(v) (of the mini-batch cost when ``batch`` is given)."""
        if objective is not self._objective:  # a direct call, or a new run's objective
            self.validate(objective)
        jax, jnp = _jax()
        if v.dtype == np.float64 and not jax.config.jax_enable_x64:
            raise ConfigError(_X64)
        try:
            g = np.asarray(self._call(objective, v, batch, jax, jnp))
        except TRACE_ERRORS as exc:
            raise untraceable("jax", objective, exc, _CAUSES) from exc
        return delivered("jax", objective, g, v, out)

    def _call(self, objective: Any, v: FloatArray, batch: Batch | None, jax: Any,
              jnp: Any) -> Any:
        if self._on_data:
            if batch is not None:
                return self._compiled(v, objective.batch_data(batch))
            if self._all_data is None:  # moved to the device once per run
                self._all_data = tuple(jax.device_put(a) for a in objective.batch_data(None))
            return self._compiled(v, self._all_data)
        if batch is None:
            return self._compiled(v)
        # No data seam: a mini-batch can only be traced as the objective indexes it.
        return jax.grad(lambda w: objective.traced_cost(jnp, w, batch))(v)


def _jax() -> tuple[Any, Any]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise MissingExtraError("the gradient source 'jax'", "jax", "jax") from None
    return jax, jnp


@gdkit.hookimpl
def gdkit_gradient_sources() -> dict[str, Any]:
    return {"jax": JaxGradient}
