"""The quadratic cost (eq. 6) and the least-squares objective built on it.

C(w, b) = 1/(2n) Σx ‖y(x) − a‖²  (eq. 6)

where a is the model's output for input x and y(x) the desired output.
:func:`quadratic_cost` and :func:`quadratic_cost_gradient` are public so
other objectives (the MNIST network) reuse them rather than rewrite them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

import gdkit
from gdkit.errors import ConfigError, ShapeError
from gdkit.protocols import Batch, FloatArray
from gdkit.validate import COPIES, integer, memory, number

from .lazy import is_lazy, lazy_shape, not_here

__all__ = ["Quadratic", "quadratic_cost", "quadratic_cost_gradient"]

Array = npt.NDArray[Any]


def quadratic_cost(outputs: Array, targets: Array) -> Any:
    """The quadratic cost of eq. (6): ``1/(2n) Σx ‖y(x) − a(x)‖²``.

    Parameters
    ----------
    outputs : ndarray, shape (n, k) or (n,)
        The model's outputs a, one row per training input x.
    targets : ndarray, same shape
        The desired outputs y(x).

    Returns
    -------
    float or complex
        A Python float for real input; for complex input (complex-step
        differentiation) the same holomorphic formula, as a complex.
    """
    r = outputs - targets
    n = r.shape[0]
    if np.iscomplexobj(r):
        return complex(np.sum(r * r)) / (2 * n)
    flat = r.reshape(-1)
    return float(flat @ flat) / (2 * n)


def quadratic_cost_gradient(outputs: Array, targets: Array, out: Array | None = None) -> Array:
    """∂C/∂a of eq. (6) for each row: ``(a − y) / n``, written into ``out`` if given."""
    n = outputs.shape[0]
    out = np.subtract(outputs, targets, out=out)
    out *= 1.0 / n
    return out


class Quadratic:
    """Least squares: the quadratic cost (eq. 6) of an affine model a = W x + b.

    The parameters are v = (W.ravel(), b); the cost is a mean over the n
    training inputs, so mini-batch SGD applies (``n_samples``). With no data
    given, a seeded synthetic problem is made: a convex bowl whose exact
    minimizer :meth:`solution` gives (by :func:`scipy.linalg.lstsq`).

    Parameters
    ----------
    inputs : array_like, shape (n, d), optional
        The inputs x, one per row: a numpy array, or a ``dask.array`` that
        stays where it is (see :meth:`shard_data`).
    targets : array_like, shape (n, k) or (n,), optional
        The desired outputs y(x) (a ``dask.array`` with dask inputs).
    n_samples, n_features, n_outputs : int
        The synthetic problem's size (when no data is given).
    noise : float, default 0.1
        Standard deviation of the synthetic targets' noise.
    seed : int, default 0
        Seed of the synthetic problem.
    """

    def __init__(
        self,
        inputs: Any = None,
        targets: Any = None,
        *,
        n_samples: int = 100,
        n_features: int = 3,
        n_outputs: int = 2,
        noise: float = 0.1,
        seed: int = 0,
    ) -> None:
        if (inputs is None) != (targets is None):
            raise ConfigError("quadratic: give both inputs and targets, or neither "
                              "(for the seeded synthetic problem).")
        self._lazy = is_lazy(inputs) or is_lazy(targets)
        if self._lazy:
            xs = lazy_shape("quadratic", "inputs", inputs)
            ys = lazy_shape("quadratic", "targets", targets)
            if len(xs) != 2 or len(ys) not in (1, 2) or xs[0] != ys[0] or xs[0] == 0:
                raise ShapeError(f"quadratic: inputs must be (n, d) and targets (n, k) or (n,) "
                                 f"with the same n >= 1; got {xs} and {ys}.")
            self.inputs, self.targets = inputs, targets
            self._k, self._d = (ys[1] if len(ys) == 2 else 1), xs[1]
            return
        if inputs is None:
            for name, val in (("n_samples", n_samples), ("n_features", n_features),
                              ("n_outputs", n_outputs)):
                integer("quadratic", name, val, minimum=1)
            memory("quadratic", f"{n_samples:,} samples of {n_features:,} features and "
                   f"{n_outputs:,} outputs", 8 * n_samples * (n_features + n_outputs)
                   + 8 * COPIES * n_outputs * (n_features + 1))
            number("quadratic", "noise", noise, low=0.0, low_closed=True)
            rng = np.random.default_rng(seed)
            x = rng.standard_normal((n_samples, n_features))
            w = rng.standard_normal((n_outputs, n_features))
            b = rng.standard_normal(n_outputs)
            y = x @ w.T + b + noise * rng.standard_normal((n_samples, n_outputs))
        else:
            x = np.asarray(inputs, dtype=float)
            y = np.asarray(targets, dtype=float)
            if y.ndim == 1:
                y = y[:, None]
            if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
                raise ShapeError(f"quadratic: inputs must be (n, d) and targets (n, k) or (n,) "
                                 f"with the same n >= 1; got {x.shape} and {y.shape}.")
        self.inputs = np.ascontiguousarray(x)
        self.targets = np.ascontiguousarray(y)
        self._k, self._d = self.targets.shape[1], self.inputs.shape[1]

    def __repr__(self) -> str:
        return (f"Quadratic(n_samples={self.n_samples}, n_features={self._d}, "
                f"n_outputs={self._k})")

    @property
    def dim(self) -> int:
        return int(self._k * self._d + self._k)

    @property
    def n_samples(self) -> int:
        return int(self.inputs.shape[0])

    def _split(self, v: Array) -> tuple[Array, Array]:
        kd = self._k * self._d
        return v[:kd].reshape(self._k, self._d), v[kd:]

    def _data(self, batch: Batch | None) -> tuple[Array, Array]:
        if self._lazy:
            raise not_here(repr(self))
        if batch is None:
            return self.inputs, self.targets
        return self.inputs[batch], self.targets[batch]

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        """C(v) of eq. (6) over all inputs, or over ``batch``."""
        x, y = self._data(batch)
        w, b = self._split(v)
        return float(quadratic_cost(x @ w.T + b, y))

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        """The same cost with the array namespace ``xp``, for autodiff."""
        return self.traced_cost_on(xp, v, self.batch_data(batch))

    def batch_data(self, batch: Batch | None = None) -> tuple[Array, Array]:
        """The inputs and targets ``batch`` selects (all when None)."""
        return self._data(batch)

    def traced_cost_on(self, xp: Any, v: Any, data: tuple[Any, ...]) -> Any:
        """C of eq. (6) on ``data = (inputs, targets)``, with the namespace ``xp``."""
        x, y = data
        w, b = self._split(v)
        r = xp.dot(x, w.T) + b - y
        return xp.sum(r * r) / (2 * x.shape[0])

    def complex_cost(self, v: Array, batch: Batch | None = None) -> complex:
        """The same cost, holomorphic in complex v (for complex-step differences)."""
        x, y = self._data(batch)
        w, b = self._split(v)
        return complex(quadratic_cost(x @ w.T + b, y))

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        """∇C: ∂C/∂W = (a − y)ᵀ x / n and ∂C/∂b = Σ (a − y) / n."""
        x, y = self._data(batch)
        w, b = self._split(v)
        delta = quadratic_cost_gradient(x @ w.T + b, y)
        if out is None:
            out = np.empty_like(v)
        gw, gb = self._split(out)
        gw[...] = delta.T @ x
        gb[...] = delta.sum(axis=0)
        return out

    def shard_data(self) -> tuple[Any, Any]:
        """The inputs and targets, rows first, as given (numpy or dask arrays)."""
        return self.inputs, self.targets

    def shard_builder(self) -> type[Quadratic]:
        """``Quadratic`` itself: ``Quadratic(inputs, targets)`` on a shard's rows."""
        return Quadratic

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        return rng.standard_normal(self.dim)

    def solution(self) -> FloatArray:
        """The exact minimizer, by :func:`scipy.linalg.lstsq` on [x, 1]."""
        x, y = self._data(None)
        design = np.hstack([x, np.ones((self.n_samples, 1))])
        import scipy.linalg  # 0.1 s to import: only when asked

        coef = scipy.linalg.lstsq(design, y)[0]  # (d + 1, k)
        return np.concatenate([coef[:-1].T.ravel(), coef[-1]])


@gdkit.hookimpl
def gdkit_objectives() -> dict[str, Any]:
    return {"quadratic": Quadratic}
