"""Plain Python callables as objectives, as in :func:`scipy.optimize.minimize`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, final

import numpy as np

from .errors import ShapeError
from .protocols import Batch, FloatArray

__all__ = ["FunctionObjective", "as_objective"]


@final
class FunctionObjective:
    """An :class:`~gdkit.protocols.Objective` made of a callable ``fun(v) -> float``.

    Parameters
    ----------
    fun : callable
        C(v), taking a 1-D float array of length ``dim``.
    dim : int
        The number of parameters m.
    jac : callable, optional
        ∇C(v), returning an array of v's shape. When given the objective has
        an analytic gradient (:class:`~gdkit.protocols.HasGradient`).
    complex_safe : bool, default False
        Declare that ``fun`` is analytic in v and accepts complex input, which
        opts it in to complex-step differences.
    """

    __slots__ = ("_complex", "_jac", "dim", "fun")

    def __init__(
        self,
        fun: Callable[[FloatArray], float],
        dim: int,
        jac: Callable[[FloatArray], Any] | None = None,
        *,
        complex_safe: bool = False,
    ) -> None:
        self.fun = fun
        self.dim = int(dim)
        self._jac = jac
        self._complex = complex_safe

    def __repr__(self) -> str:
        name = getattr(self.fun, "__name__", repr(self.fun))
        return f"FunctionObjective({name}, dim={self.dim})"

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        return float(self.fun(v))

    def __getattr__(self, name: str) -> Any:
        # Capabilities exist only when the callable provides them, so that
        # isinstance(obj, HasGradient) / ComplexCost tell the truth.
        if name == "gradient" and self._jac is not None:
            return self._gradient
        if name == "complex_cost" and self._complex:
            return self._complex_cost
        raise AttributeError(name)

    def _gradient(
        self, v: FloatArray, batch: Batch | None = None, out: FloatArray | None = None
    ) -> FloatArray:
        assert self._jac is not None
        g = np.asarray(self._jac(v))
        if g.shape != v.shape:
            raise ShapeError(
                f"jac returned an array of shape {g.shape} for v of shape {v.shape}; "
                "it must return the gradient with v's shape."
            )
        if out is None:
            return g.astype(v.dtype, copy=False)
        out[...] = g
        return out

    def _complex_cost(self, v: Any, batch: Batch | None = None) -> complex:
        return complex(self.fun(v))


def as_objective(
    fun: Callable[[FloatArray], float],
    dim: int,
    jac: Callable[[FloatArray], Any] | None = None,
    *,
    complex_safe: bool = False,
) -> FunctionObjective:
    """Wrap a callable ``fun(v) -> float`` (and optional ``jac``) as an Objective."""
    return FunctionObjective(fun, dim, jac, complex_safe=complex_safe)
