"""The reference objectives gradient sources and step rules are checked on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, final

import numpy as np
import numpy.typing as npt

from ..protocols import Batch, FloatArray, Objective


@final
class _Bowl:
    """C(v) = ½ Σ c_i (v_i − t_i)², curvatures c_i in [0.5, 2]: a well-scaled valley."""

    def __init__(self, dim: int = 5, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.c = rng.uniform(0.5, 2.0, dim)
        self.t = rng.uniform(-1.0, 1.0, dim)
        self.curvature = float(self.c.max())
        self.minimizer = self.t.copy()
        self.minimum = 0.0

    def __repr__(self) -> str:
        return f"gdkit.testing bowl (dim {self.dim})"

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        r = v.astype(np.float64) - self.t
        return float(0.5 * (self.c @ (r * r)))

    def complex_cost(self, v: npt.NDArray[Any], batch: Batch | None = None) -> complex:
        r = v - self.t
        return complex(0.5 * np.sum(self.c * r * r))

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        r = v - self.t
        return 0.5 * xp.sum(self.c * r * r)

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        if out is None:
            out = np.empty_like(v)
        out[...] = self.c * (v.astype(np.float64) - self.t)
        return out

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        return rng.uniform(-2.0, 2.0, self.dim)


@final
class _Logistic:
    """A sampled, non-quadratic reference: mean logistic loss plus ½λ‖v‖².

    C(v) = 1/n Σ_j log(1 + exp(−y_j a_j·v)) + ½ λ ‖v‖², y_j = ±1.
    """

    def __init__(self, dim: int = 4, n: int = 24, lam: float = 0.1, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.a = rng.standard_normal((n, dim))
        w = rng.standard_normal(dim)
        self.y = np.where(self.a @ w + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
        self.lam = lam
        self.curvature = 0.25 * float(np.linalg.norm(self.a, 2) ** 2) / n + lam
        self.minimizer = self._newton()
        self.minimum = self.cost(self.minimizer)

    def __repr__(self) -> str:
        return f"gdkit.testing logistic (dim {self.dim}, n_samples {self.n_samples})"

    @property
    def n_samples(self) -> int:
        return int(self.a.shape[0])

    def _rows(self, batch: Batch | None) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        return (self.a, self.y) if batch is None else (self.a[batch], self.y[batch])

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        a, y = self._rows(batch)
        v64 = v.astype(np.float64)
        return float(np.mean(np.logaddexp(0.0, -y * (a @ v64))) + 0.5 * self.lam * (v64 @ v64))

    def complex_cost(self, v: npt.NDArray[Any], batch: Batch | None = None) -> complex:
        a, y = self._rows(batch)
        return complex(np.mean(np.log(1.0 + np.exp(-y * (a @ v)))) + 0.5 * self.lam * (v @ v))

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        return self.traced_cost_on(xp, v, self._rows(batch))

    def batch_data(self, batch: Batch | None = None) -> tuple[npt.NDArray[Any], ...]:
        return self._rows(batch)

    def traced_cost_on(self, xp: Any, v: Any, data: tuple[Any, ...]) -> Any:
        a, y = data
        return xp.mean(xp.logaddexp(0.0, -y * xp.dot(a, v))) + 0.5 * self.lam * xp.dot(v, v)

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        a, y = self._rows(batch)
        v64 = v.astype(np.float64)
        s = -y * _sigmoid(-y * (a @ v64))
        if out is None:
            out = np.empty_like(v)
        out[...] = a.T @ s / a.shape[0] + self.lam * v64
        return out

    def shard_data(self) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """The inputs and labels, rows first (:class:`~gdkit.protocols.Shardable`)."""
        return self.a, self.y

    def shard_builder(self) -> Callable[..., _Logistic]:
        """The same loss and λ on some of the rows: ½λ‖v‖² is in every shard's
        cost, and the shards' costs weighted by their rows add up to C."""
        return functools.partial(_logistic_on, self.dim, self.lam)

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        return rng.uniform(-2.0, 2.0, self.dim)

    def _newton(self) -> FloatArray:
        v = np.zeros(self.dim)
        for _ in range(50):
            z = self.a @ v
            p = _sigmoid(-self.y * z)
            g = self.gradient(v)
            h = (self.a.T * (p * (1 - p))) @ self.a / self.n_samples + self.lam * np.eye(self.dim)
            v = v - np.linalg.solve(h, g)
        return v


def _logistic_on(dim: int, lam: float, a: npt.NDArray[Any], y: npt.NDArray[Any]) -> _Logistic:
    """The logistic reference on given rows (a shard of its data)."""
    obj = _Logistic.__new__(_Logistic)
    obj.dim, obj.lam = dim, lam
    obj.a, obj.y = np.asarray(a, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return obj


def _sigmoid(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    out: npt.NDArray[Any] = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def reference_objectives() -> list[Objective]:
    """The small objectives gradient sources and step rules are checked on.

    A 5-D bowl ½ Σ cᵢ(vᵢ − tᵢ)² with curvatures in [0.5, 2], and a 4-D
    mean logistic loss over 24 samples with ½·0.1‖v‖² (sampled: it takes
    mini-batches). Both have an analytic gradient, a complex-safe cost, a
    ``curvature`` attribute bounding ‖∇²C‖ and their exact ``minimizer``,
    and evaluate C in float64 whatever v's dtype.
    """
    return [_Bowl(), _Logistic()]
