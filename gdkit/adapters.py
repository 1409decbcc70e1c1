"""Plain Python callables as objectives, as in :func:`scipy.optimize.minimize`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ShapeError
from .protocols import Batch, FloatArray

__all__ = ["FunctionObjective", "as_objective"]


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
        opts it in to complex-step differences
        (:class:`~gdkit.protocols.ComplexCost`).

    Notes
    -----
    The instance's class has a ``gradient`` / ``complex_cost`` method only
    when ``jac`` / ``complex_safe`` is given, so ``isinstance`` checks against
    the capability protocols tell the truth (they look at the class).
    """

    __slots__ = ("_jac", "dim", "fun")

    def __new__(
        cls,
        fun: Callable[[FloatArray], float],
        dim: int,
        jac: Callable[[FloatArray], Any] | None = None,
        *,
        complex_safe: bool = False,
    ) -> FunctionObjective:
        if cls is FunctionObjective:
            cls = _VARIANTS[(jac is not None, bool(complex_safe))]
        return super().__new__(cls)

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

    def __repr__(self) -> str:
        name = getattr(self.fun, "__name__", repr(self.fun))
        return f"FunctionObjective({name}, dim={self.dim})"

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        """``fun(v)`` itself, for an autodiff gradient source to trace (``fun``
        must then be written with that library's numpy, ``xp``)."""
        return self.fun(v)

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        # As fun returns it: a numpy scalar keeps its dtype, so finite
        # differences see a float32 cost's precision, and a value that is no
        # number at all is named by minimize's first check, not float()'s.
        value: Any = self.fun(v)
        if not isinstance(value, (int, float, np.generic, np.ndarray)) and hasattr(
                value, "__array__"):  # another library's array (jax.Array): as numpy's
            value = np.asarray(value)[()]
        return value  # type: ignore[no-any-return]


class _WithGradient(FunctionObjective):
    __slots__ = ()

    def gradient(
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


class _WithComplex(FunctionObjective):
    __slots__ = ()

    def complex_cost(self, v: Any, batch: Batch | None = None) -> complex:
        value: Any = self.fun(v)
        return value  # type: ignore[no-any-return]  # as it is: a real one is refused


class _WithBoth(_WithGradient, _WithComplex):
    __slots__ = ()


_VARIANTS: dict[tuple[bool, bool], type[FunctionObjective]] = {
    (False, False): FunctionObjective,
    (True, False): _WithGradient,
    (False, True): _WithComplex,
    (True, True): _WithBoth,
}


def as_objective(
    fun: Callable[[FloatArray], float],
    dim: int,
    jac: Callable[[FloatArray], Any] | None = None,
    *,
    complex_safe: bool = False,
) -> FunctionObjective:
    """Wrap a callable ``fun(v) -> float`` (and optional ``jac``) as an Objective."""
    return FunctionObjective(fun, dim, jac, complex_safe=complex_safe)
