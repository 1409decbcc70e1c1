"""Small test functions: the seed's two-variable valley and Rosenbrock's."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

import gdkit
from gdkit.errors import ConfigError
from gdkit.protocols import Batch, FloatArray
from gdkit.validate import COPIES, integer, memory, number

__all__ = ["Rosenbrock", "Valley"]


class Valley:
    """The seed's two-variable bowl: C(v1, v2) = (c1 v1² + c2 v2²) / 2.

    A valley whose floor is the minimum at (0, 0); unequal curvatures make it
    elongated, so a fixed η zig-zags across it (good for pictures).

    Parameters
    ----------
    curvature : pair of float, default (1.0, 5.0)
        c1, c2 > 0. A fixed step descends for every η < 2 / max(c1, c2).
    """

    dim = 2

    def __init__(self, curvature: tuple[float, float] = (1.0, 5.0)) -> None:
        if isinstance(curvature, (str, bytes)) or np.ndim(curvature) != 1 \
                or len(curvature) != 2:
            raise ConfigError(f"valley: curvature must be two positive numbers, got {curvature!r}.")
        self.curvature = np.array([number("valley", "curvature", c, low=0.0) for c in curvature])

    def __repr__(self) -> str:
        return f"Valley(curvature={tuple(self.curvature.tolist())})"

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        return float(0.5 * (self.curvature @ (v * v)))

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        return 0.5 * xp.sum(self.curvature * v * v)

    def complex_cost(self, v: npt.NDArray[Any], batch: Batch | None = None) -> complex:
        return complex(0.5 * np.sum(self.curvature * v * v))

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        if out is None:
            out = np.empty_like(v)
        np.multiply(self.curvature, v, out=out, casting="same_kind")
        return out

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        return rng.uniform(-2.0, 2.0, size=2)


class Rosenbrock:
    """Rosenbrock's function in any dimension m ≥ 2 (:func:`scipy.optimize.rosen`).

    C(v) = Σ 100 (v_{i+1} − v_i²)² + (1 − v_i)², minimum 0 at (1, …, 1).

    Parameters
    ----------
    dim : int, default 2
    """

    def __init__(self, dim: int = 2) -> None:
        self.dim = integer("rosenbrock", "dim", dim, minimum=2)
        memory("rosenbrock", f"dim = {self.dim:,}", self.dim * 8 * COPIES)
        # scipy.optimize takes 0.4 s to import: only when a Rosenbrock is built,
        # not whenever the plugins load (gdkit --help).
        from scipy.optimize import rosen, rosen_der

        self._rosen, self._rosen_der = rosen, rosen_der

    def __repr__(self) -> str:
        return f"Rosenbrock(dim={self.dim})"

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        return float(self._rosen(v))

    def complex_cost(self, v: npt.NDArray[Any], batch: Batch | None = None) -> complex:
        return complex(self.traced_cost(np, v))

    def traced_cost(self, xp: Any, v: Any, batch: Batch | None = None) -> Any:
        return xp.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        g = self._rosen_der(v)
        if out is None:
            return np.asarray(g, dtype=v.dtype)
        out[...] = g
        return out

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        """The classic start (−1.2, 1, −1.2, 1, …); ``rng`` is not used."""
        return np.resize(np.array([-1.2, 1.0]), self.dim)


@gdkit.hookimpl
def gdkit_objectives() -> dict[str, Any]:
    return {"valley": Valley, "rosenbrock": Rosenbrock}
