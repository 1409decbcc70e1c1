"""Exact gradients of numpy code: the ``autograd`` gradient source (``gdkit[autodiff]``).

`autograd <https://github.com/HIPS/autograd>`_ differentiates ordinary numpy
code written against ``autograd.numpy`` by reverse mode: ∇C to rounding, for
about the cost of two or three evaluations of C whatever the number of
parameters m, where finite differences need m + 1 (forward) or 2m (central).
It traces the objective's :class:`~gdkit.protocols.Traceable` cost: a
callable you pass to :func:`gdkit.minimize` (written with
``import autograd.numpy as np``), or a built-in objective's ``traced_cost``.

autograd is imported when a gradient is first asked for, never when gdkit
or its plugins load.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import gdkit
from gdkit.errors import ConfigError, MissingExtraError
from gdkit.protocols import Batch, FloatArray, Objective, Traceable

__all__ = ["TRACE_ERRORS", "AutogradGradient", "delivered", "require_traceable", "untraceable"]

TRACE_ERRORS = (TypeError, ValueError, AttributeError, NotImplementedError)
"""What an autodiff library raises on a cost it cannot trace."""

_CAUSES = ("Likely causes: the cost uses plain numpy (import autograd.numpy as np), assigns "
           "into an array in place (a[i] = ..., a += ...), or calls float() or .item() on an "
           "intermediate value; return the expression itself.")


class AutogradGradient:
    """∇C by reverse-mode automatic differentiation of the cost (autograd).

    Exact to rounding for any cost written with ``autograd.numpy``; the
    result has v's dtype and is written into ``out`` when given. Needs the
    ``autodiff`` extra (``pip install 'gdkit[autodiff]'``).
    """

    def __repr__(self) -> str:
        return "AutogradGradient()"

    def validate(self, objective: Objective) -> None:
        """Refuse, before the run, an objective whose cost cannot be traced."""
        require_traceable("autograd", "autograd.numpy", objective)

    def gradient(self, objective: Objective, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        """∇C(v) (of the mini-batch cost when ``batch`` is given)."""
        traced_cost: Any = getattr(objective, "traced_cost", None)
        if traced_cost is None:  # minimize validated once per run; a direct call lands here
            self.validate(objective)
        anp, grad = _autograd()

        def cost(w: Any) -> Any:
            return traced_cost(anp, w, batch)

        try:
            g = grad(cost)(v)
        except TRACE_ERRORS as exc:
            raise untraceable("autograd", objective, exc, _CAUSES) from exc
        return delivered("autograd", objective, g, v, out)


def require_traceable(source: str, numpy_name: str, objective: Objective) -> Traceable:
    """``objective`` as a :class:`~gdkit.protocols.Traceable`, or one line
    refusing what an autodiff ``source`` cannot trace."""
    if not isinstance(objective, Traceable):
        raise ConfigError(
            f"the gradient source '{source}' needs a cost it can trace: a callable written "
            f"with {numpy_name}, or an objective with traced_cost; {objective!r} has "
            "neither. Use its analytic gradient or 'central'.")
    return objective


def untraceable(source: str, objective: Objective, exc: Exception, causes: str) -> ConfigError:
    """The one-line error for a cost the library failed to trace: the library's
    first line, and the likely ``causes``."""
    first = str(exc).strip().split("\n")[0][:240]
    return ConfigError(f"the gradient source '{source}' could not trace the cost of "
                       f"{objective!r} ({type(exc).__name__}: {first}). {causes}")


def delivered(source: str, objective: Objective, g: Any, v: FloatArray,
              out: FloatArray | None) -> FloatArray:
    """The traced gradient ``g`` checked against v's shape, as a writable
    array of v's dtype, or written into ``out``."""
    g = np.asarray(g)
    if g.shape != v.shape:
        raise ConfigError(f"the gradient source '{source}' got a gradient of shape {g.shape} "
                          f"for v of shape {v.shape} from {objective!r}: its cost must "
                          "return one number (a 0-d array).")
    if out is None:  # a copy only when needed (JAX's buffers are read-only)
        result: FloatArray = g.astype(v.dtype, copy=not g.flags.writeable)
        return result
    out[...] = g
    return out


def _autograd() -> tuple[Any, Any]:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        raise MissingExtraError("the gradient source 'autograd'", "autodiff", "autograd") from None
    return anp, autograd.grad


@gdkit.hookimpl
def gdkit_gradient_sources() -> dict[str, Any]:
    return {"autograd": AutogradGradient}
