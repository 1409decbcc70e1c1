"""Logistic regression scored by the cross-entropy cost: a sampled objective."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gdkit.errors import ConfigError, ShapeError
from gdkit.protocols import Batch, FloatArray

Array = npt.NDArray[Any]


def _sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^−z), without overflow for large |z|."""
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


class Logistic:
    """Logistic regression: a = σ(w·x + b), scored by the cross-entropy cost.

    C(w, b) = −1/n Σₓ [y ln a + (1 − y) ln(1 − a)] + (λ/2) ‖w‖²

    over n training inputs x with labels y ∈ {0, 1}. The parameters are
    v = (w, b), so ``dim = n_features + 1``. The cost is a mean over the
    inputs (``n_samples``), so ``gdkit.minimize(..., batch_size=...)`` runs
    mini-batch SGD; ``batch`` (an index array) restricts the mean. The
    gradient is analytic: ∂C/∂w = 1/n Σ (a − y) x + λw, ∂C/∂b = 1/n Σ (a − y).

    With no data given, a seeded synthetic problem is made: inputs from a
    standard normal, labels drawn with probability σ(w*·x + b*) for a random
    w*, plus as many held-out inputs on which :meth:`evaluate` reports the
    accuracy.

    Parameters
    ----------
    inputs : array_like, shape (n, d), optional
    labels : array_like of {0, 1}, shape (n,), optional
    n_samples : int, default 200
        Training inputs of the synthetic problem (and as many held out).
    n_features : int, default 5
    l2 : float, default 1e-3
        λ >= 0, the weight decay (it keeps w finite on separable data).
    seed : int, default 0
    """

    def __init__(self, inputs: Any = None, labels: Any = None, *, n_samples: int = 200,
                 n_features: int = 5, l2: float = 1e-3, seed: int = 0) -> None:
        if (inputs is None) != (labels is None):
            raise ConfigError("logistic: give both inputs and labels, or neither.")
        if not (isinstance(l2, (int, float)) and l2 >= 0):
            raise ConfigError(f"logistic: l2 must be a number >= 0, got {l2!r}.")
        self.l2 = float(l2)
        self.test_inputs: Array | None = None
        self.test_labels: Array | None = None
        if inputs is None:
            for name, val in (("n_samples", n_samples), ("n_features", n_features)):
                if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                    raise ConfigError(f"logistic: {name} must be an integer >= 1, got {val!r}.")
            rng = np.random.default_rng(seed)
            x = rng.standard_normal((2 * n_samples, n_features))
            w_true, b_true = rng.standard_normal(n_features), 0.5
            y = (rng.random(2 * n_samples) < _sigmoid(x @ w_true + b_true)).astype(float)
            x, self.test_inputs = x[:n_samples], x[n_samples:]
            y, self.test_labels = y[:n_samples], y[n_samples:]
        else:
            x = np.asarray(inputs, dtype=float)
            y = np.asarray(labels, dtype=float)
            if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
                raise ShapeError(f"logistic: inputs must be (n, d) and labels (n,) with n >= 1, "
                                 f"got {x.shape} and {y.shape}.")
            if not np.all((y == 0) | (y == 1)):
                raise ShapeError("logistic: labels must be 0 or 1.")
        self.inputs = np.ascontiguousarray(x)
        self.labels = np.ascontiguousarray(y)

    def __repr__(self) -> str:
        return f"Logistic(n_samples={self.n_samples}, n_features={self.dim - 1}, l2={self.l2})"

    @property
    def dim(self) -> int:
        return int(self.inputs.shape[1] + 1)

    @property
    def n_samples(self) -> int:
        return int(self.inputs.shape[0])

    def _z(self, v: FloatArray, batch: Batch | None) -> tuple[Array, Array, Array]:
        x = self.inputs if batch is None else self.inputs[batch]
        y = self.labels if batch is None else self.labels[batch]
        w = v[:-1].astype(np.float64)
        return x, y, x @ w + float(v[-1])

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        """The mean cross-entropy, ln(1 + e^z) − y z per input, plus (λ/2)‖w‖²."""
        _, y, z = self._z(v, batch)
        w = v[:-1].astype(np.float64)
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * self.l2 * (w @ w))

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        """∇C, in v's dtype, written into ``out`` when given."""
        x, y, z = self._z(v, batch)
        r = (_sigmoid(z) - y) / x.shape[0]
        if out is None:
            out = np.empty_like(v)
        out[:-1] = x.T @ r + self.l2 * v[:-1]
        out[-1] = r.sum()
        return out

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        """Small random weights and a zero bias."""
        v: FloatArray = np.zeros(self.dim)
        v[:-1] = 0.01 * rng.standard_normal(self.dim - 1)
        return v

    def evaluate(self, v: FloatArray) -> dict[str, float]:
        """Accuracy on the held-out inputs (synthetic problem only)."""
        if self.test_inputs is None or self.test_labels is None:
            return {}
        pred = (self.test_inputs @ v[:-1].astype(np.float64) + float(v[-1])) > 0
        return {"accuracy": float(np.mean(pred == (self.test_labels == 1)))}
