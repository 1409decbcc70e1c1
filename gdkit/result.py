"""What a run returns: :class:`Result` (scipy's ``OptimizeResult`` conventions) and its
:class:`History`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, final

import numpy as np

from .protocols import FloatArray

__all__ = ["CONVERGED", "COST_ROSE", "EPOCHS_DONE", "MAX_ITER", "PRECISION_LOST", "STEP_FAILED",
           "STOPPED", "History", "Result", "honest"]

# Result.status values, as in scipy.optimize.
CONVERGED, MAX_ITER, STOPPED, STEP_FAILED, EPOCHS_DONE, COST_ROSE = 0, 1, 2, 3, 4, 5
PRECISION_LOST = 6
"""v can no longer move: no step changes C by more than its rounding (scipy's
"precision loss")."""


def honest(status: int, message: str, start: float, end: float) -> tuple[int, str]:
    """A run that would claim success (converged, or all its epochs done) at a
    cost above its starting cost gets ``COST_ROSE`` (5) instead: a gradient
    that underflows at a worse point, or sigmoids saturated by a huge η, is
    not convergence."""
    if status in (CONVERGED, EPOCHS_DONE) and end > start:
        return COST_ROSE, (f"no success: the cost rose from {start:.6g} at the start to "
                           f"{end:.6g} ({message}). The steps were too large for this "
                           "objective: try a smaller η or the 'armijo' step size.")
    return status, message


_ORDER = ("message", "success", "status", "fun", "x", "nit", "epochs", "grad_norm", "jac",
          "nfev", "ngev", "gradient_source", "step_rule", "history")


class Result(dict[str, Any]):
    """The outcome of :func:`minimize`, with scipy's ``OptimizeResult`` fields.

    A dict whose keys are also attributes (``res.x`` is ``res["x"]``),
    printed as scipy prints its results, as :class:`scipy.optimize.OptimizeResult`
    is; it does not derive from it, so that ``import gdkit`` need not import
    ``scipy.optimize`` (0.4 s).

    Attributes
    ----------
    x : ndarray
        The final parameters v.
    fun : float
        C(x) (in mini-batch mode: the full training cost after the last epoch).
    jac : ndarray
        The last gradient computed (of a mini-batch, in mini-batch mode).
    grad_norm : float
        ‖jac‖.
    nit : int
        Steps taken.
    nfev, ngev : int
        Cost evaluations (by the loop and the step rule) and gradient evaluations.
    epochs : int
        Epochs completed (0 in full-batch mode).
    success : bool
        Whether the run met its goal: ‖∇C‖ ≤ gtol (full batch) or all its
        epochs (mini-batch), at a cost no higher than the starting cost.
    status : int
        0 converged, 1 max_iter reached, 2 stopped by the callback, 3 the step
        rule failed, 4 all epochs done, 5 the cost ended above its start
        (:func:`~gdkit.result.honest`).
    message : str
        Why the run stopped, in words.
    history : History
        The cost (and more) per iteration, or per epoch in mini-batch mode.
    gradient_source : GradientSource
        Where ∇C came from (``gradient="auto"`` resolved: the objective's
        own gradient, or central differences).
    step_rule : StepRule
        How v moved (``step="auto"`` resolved: ``lbfgs,wolfe`` in full-batch
        mode, ``fixed`` in mini-batch mode).
    compiled : bool
        Mini-batch mode only: whether the steps ran on the compiled path
        (:mod:`gdkit.compiled`) rather than in numpy.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return list(self.keys())

    def __repr__(self) -> str:
        if not self:
            return f"{type(self).__name__}()"
        rank = {k: i for i, k in enumerate(_ORDER)}
        keys = sorted(self, key=lambda k: rank.get(k, len(_ORDER)))
        width = max(map(len, keys)) + 1
        lines = []
        for k in keys:
            text = np.array2string(self[k], separator=" ") if isinstance(self[k], np.ndarray) \
                else repr(self[k])
            lines.append(f"{k.rjust(width)}: " + text.replace("\n", "\n" + " " * (width + 2)))
        return "\n".join(lines)


@final
class History(Mapping[str, FloatArray]):
    """Records of a run: named columns of equal length, one row per iteration
    (full batch) or per epoch (mini-batch). ``history["cost"]`` or
    ``history.cost``.

    Full batch: row k holds ``cost`` C(v_k), ``grad_norm`` ‖∇C(v_k)‖ and
    ``eta``, the η of the step from v_k (NaN on the last row). Mini-batch: row
    e holds the training ``cost`` after epoch e, ``eta`` (the last η of the
    epoch), ``seconds`` (the epoch's training time) and every metric the
    objective's ``evaluate`` returns (for example ``accuracy``).
    """

    __slots__ = ("_columns", "per")

    def __init__(self, per: str, columns: Mapping[str, Any]) -> None:
        self.per = per
        self._columns = {k: np.asarray(v, dtype=float) for k, v in columns.items()}

    def __getitem__(self, key: str) -> FloatArray:
        return self._columns[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __getattr__(self, key: str) -> FloatArray:
        try:
            return self._columns[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def rows(self) -> int:
        """The number of records (iterations or epochs)."""
        return len(next(iter(self._columns.values()), ()))

    def __repr__(self) -> str:
        return f"History(per={self.per!r}, rows={self.rows}, columns={list(self._columns)})"
