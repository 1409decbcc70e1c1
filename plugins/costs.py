"""Output layers and their costs: quadratic (eq. 6), cross-entropy, log-likelihood.

A :class:`~gdkit.protocols.Cost` says how a model's outputs a are made from
the weighted inputs z of its last layer and what they cost against the
desired outputs y; the network objective takes one as ``cost=`` and starts
backpropagation from its ``delta`` (BP1). Rows are training inputs.

- ``quadratic`` (the default, chapter 1): sigmoid outputs and eq. (6),
  C = 1/(2n) Σₓ ‖y − a‖². Its δᴸ = (a − y) ⊙ σ'(z) vanishes when an output
  saturates at the wrong value, which is how an output neuron gets stuck.
- ``cross-entropy`` (chapter 3, eq. 57): sigmoid outputs and
  C = −1/n Σₓ Σⱼ [yⱼ ln aⱼ + (1 − yⱼ) ln(1 − aⱼ)]; δᴸ = a − y (per input),
  so a saturated wrong output learns fastest rather than not at all.
- ``log-likelihood`` (chapter 3, eq. 80): a softmax output layer,
  aⱼ = e^zⱼ / Σₖ e^zₖ, and C = −1/n Σₓ ln a_y(x); δᴸ = a − y as well.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

import gdkit
from gdkit.protocols import FloatArray

from .quadratic import quadratic_cost, quadratic_cost_gradient

__all__ = ["CrossEntropy", "LogLikelihood", "QuadraticCost"]

_MAX_SCRATCH: Final = 4


def _special() -> Any:
    """scipy.special, imported when a cost is first built (0.3 s), not when the plugins load."""
    import scipy.special

    return scipy.special


def _clipped(a: FloatArray) -> FloatArray:
    """a kept inside [ε, 1 − ε] for the logarithms (ε of its dtype): a saturated
    wrong output then costs −ln ε (36 in float64) instead of infinity."""
    eps = float(np.finfo(a.dtype).eps)
    clipped: FloatArray = np.clip(a, eps, 1.0 - eps)
    return clipped


def _sigmoid(xp: Any, z: Any) -> Any:
    """σ(z) = (1 + tanh(z/2))/2 with the array namespace ``xp``: no overflow."""
    return 0.5 * (xp.tanh(0.5 * z) + 1.0)


class _SigmoidOutputs:
    """Sigmoid output neurons, a = σ(z) (scipy's expit)."""

    def __init__(self) -> None:
        self._expit = _special().expit

    def __reduce__(self) -> tuple[type, tuple[()]]:
        # Rebuilt, not copied: a scipy ufunc pickles by a search of every
        # loaded module for its name, which may find a module a worker
        # process (the ``dask`` source's) cannot import.
        return type(self), ()

    def activate(self, z: FloatArray) -> FloatArray:
        """a = σ(z), in place."""
        out: FloatArray = self._expit(z, out=z)
        return out


class QuadraticCost(_SigmoidOutputs):
    """Sigmoid outputs scored by the quadratic cost of eq. (6) (chapter 1's network)."""

    def __init__(self) -> None:
        super().__init__()
        self._scratch: dict[tuple[tuple[int, ...], np.dtype[Any]], FloatArray] = {}

    def __repr__(self) -> str:
        return "QuadraticCost()"

    def cost(self, a: FloatArray, y: FloatArray) -> float:
        """C = 1/(2B) Σ ‖y − a‖² over the B rows (eq. 6)."""
        return float(quadratic_cost(a, y))

    def traced(self, xp: Any, z: Any, y: FloatArray) -> Any:
        """The same cost from z with the array namespace ``xp``, for autodiff."""
        r = _sigmoid(xp, z) - y
        return xp.sum(r * r) / (2 * z.shape[0])

    def delta(self, a: FloatArray, y: FloatArray, out: FloatArray) -> FloatArray:
        """δᴸ = ∇ₐC ⊙ σ'(z) = (a − y)/B ⊙ a(1 − a) (BP1), into ``out``."""
        s = self._buffer(a)
        quadratic_cost_gradient(a, y, out=out)
        np.subtract(1, a, out=s)
        s *= a
        out *= s
        return out

    def _buffer(self, a: FloatArray) -> FloatArray:
        key = (a.shape, a.dtype)
        s = self._scratch.get(key)
        if s is None:
            if len(self._scratch) >= _MAX_SCRATCH:
                self._scratch.clear()
            s = self._scratch[key] = np.empty_like(a)
        return s


class CrossEntropy(_SigmoidOutputs):
    """Sigmoid outputs scored by the cross-entropy cost (Nielsen ch. 3, eq. 57).

    ``ln a`` and ``ln(1 − a)`` are taken of a clipped to [ε, 1 − ε], so the
    cost stays finite where an output saturates at exactly 0 or 1; δᴸ is
    exact: the derivative of the unclipped cost.
    """

    def __init__(self) -> None:
        super().__init__()
        self._xlogy = _special().xlogy

    def __repr__(self) -> str:
        return "CrossEntropy()"

    def cost(self, a: FloatArray, y: FloatArray) -> float:
        """C = −1/B Σ [y ln a + (1 − y) ln(1 − a)] over the B rows and outputs."""
        c = _clipped(a)
        total = self._xlogy(y, c) + self._xlogy(1.0 - y, 1.0 - c)
        return -float(np.sum(total)) / int(a.shape[0])

    def traced(self, xp: Any, z: Any, y: FloatArray) -> Any:
        """The same cost from z with ``xp``, unclipped: −ln σ(z) = softplus(−z)."""
        return xp.sum(y * xp.logaddexp(0.0, -z) + (1 - y) * xp.logaddexp(0.0, z)) / z.shape[0]

    def delta(self, a: FloatArray, y: FloatArray, out: FloatArray) -> FloatArray:
        """δᴸ = (a − y)/B: σ'(z) cancels (eq. 61), into ``out``."""
        result: FloatArray = quadratic_cost_gradient(a, y, out=out)
        return result


class LogLikelihood:
    """A softmax output layer scored by the log-likelihood cost (ch. 3, eq. 78-80).

    The outputs of a row are positive and sum to 1, a probability for each
    class; the cost of an input is −ln of the probability of its class.
    Targets are one-hot rows (a soft target y gives the cross-entropy of the
    two distributions, −Σⱼ yⱼ ln aⱼ).
    """

    def __init__(self) -> None:
        self._xlogy = _special().xlogy

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return type(self), ()  # rebuilt, as the sigmoid costs are

    def __repr__(self) -> str:
        return "LogLikelihood()"

    def activate(self, z: FloatArray) -> FloatArray:
        """aⱼ = e^zⱼ / Σₖ e^zₖ for each row, in place (shifted by the row's max: no overflow)."""
        z -= np.max(z, axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= np.sum(z, axis=1, keepdims=True)
        return z

    def cost(self, a: FloatArray, y: FloatArray) -> float:
        """C = −1/B Σ Σⱼ yⱼ ln aⱼ over the B rows (−ln a of the right class)."""
        return -float(np.sum(self._xlogy(y, _clipped(a)))) / int(a.shape[0])

    def traced(self, xp: Any, z: Any, y: FloatArray) -> Any:
        """The same cost from z with ``xp``: −Σ y ln softmax(z) by log-sum-exp."""
        shift = xp.max(z, axis=1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(z - shift), axis=1)) + shift[:, 0]
        return xp.sum(lse * xp.sum(y, axis=1) - xp.sum(y * z, axis=1)) / z.shape[0]

    def delta(self, a: FloatArray, y: FloatArray, out: FloatArray) -> FloatArray:
        """δᴸ = (a − y)/B (eq. 81-82, for rows y that sum to 1), into ``out``."""
        result: FloatArray = quadratic_cost_gradient(a, y, out=out)
        return result


@gdkit.hookimpl
def gdkit_costs() -> dict[str, Any]:
    return {"quadratic": QuadraticCost, "cross-entropy": CrossEntropy,
            "log-likelihood": LogLikelihood}
