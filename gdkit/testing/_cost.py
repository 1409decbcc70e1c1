""":func:`check_cost`: a cost is checked through the smallest model that uses it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ..protocols import Batch, Cost, FloatArray
from ..registry import check_part
from ._common import DEFAULT_MAX_EXAMPLES, PartReport, part_label
from ._objective import check_objective

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

_INPUTS: Final = 3
_CLASSES: Final = 3
_ROWS: Final = 8


class CostModel:
    """A one-layer model scored by a cost: a = activate(X Wᵀ + b), C = cost(a, Y).

    The reference objective :func:`check_cost` runs the objective checks on
    (gradient against central differences, eq. 9, dtypes, purity, ...), with
    ∇C from the cost's ``delta`` alone: ∂C/∂W = δᵀX, ∂C/∂b = Σ_rows δ. Its
    data are fixed: ``rows`` inputs in [0, 1] and one-hot targets of a seeded
    random class each. Sampled: ``batch`` selects rows.
    """

    def __init__(self, cost: Cost, *, inputs: int = _INPUTS, classes: int = _CLASSES,
                 rows: int = _ROWS, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.part = cost
        self.x = rng.random((rows, inputs))
        self.y = np.eye(classes)[rng.integers(classes, size=rows)]
        self.shape = (classes, inputs)
        self.dim = classes * (inputs + 1)

    def __repr__(self) -> str:
        return f"CostModel({self.part!r})"

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        v: FloatArray = rng.standard_normal(self.dim)
        return v

    def _outputs(self, v: FloatArray, batch: Batch | None) -> tuple[Any, Any, Any]:
        rows = slice(None) if batch is None else batch
        x, y = self.x[rows].astype(v.dtype), self.y[rows].astype(v.dtype)
        k = self.shape[0] * self.shape[1]
        z = x @ v[:k].reshape(self.shape).T + v[k:]
        return x, y, self.part.activate(z)

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        _, y, a = self._outputs(v, batch)
        return float(self.part.cost(a, y))

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        x, y, a = self._outputs(v, batch)
        delta = self.part.delta(a, y, np.empty_like(a))
        if out is None:
            out = np.empty_like(v)
        k = self.shape[0] * self.shape[1]
        out[:k] = (delta.T @ x).reshape(-1)
        out[k:] = delta.sum(axis=0)
        return out


def check_cost(
    cost: Cost,
    *,
    name: str | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check a :class:`~gdkit.protocols.Cost` through a model built on it.

    The cost's ``delta`` must be the derivative of its ``cost`` through its
    ``activate``: :class:`CostModel` (a one-layer model a = activate(XWᵀ + b)
    on fixed data) computes ∇C from ``delta`` alone, and
    :func:`check_objective` checks that model: the protocol, purity,
    float32 and float64, determinism, finite values, ∇C against central
    differences and the descent promise of eq. (9).

    Parameters
    ----------
    cost : Cost
        The part, built with the configuration you ship.
    name, max_examples, skip, database, derandomize
        As for :func:`check_objective`.

    Returns
    -------
    PartReport
        Of kind ``"cost"``.

    Raises
    ------
    CheckError
        A check failed; the message names it and the counterexample.
    """
    label = name or part_label(cost)
    check_part("cost", cost, f"the cost {label}", "Give it activate, cost and delta.")
    report = check_objective(CostModel(cost), name=label, max_examples=max_examples, skip=skip,
                             database=database, derandomize=derandomize)
    return dataclasses.replace(report, kind="cost", notes=(
        *report.notes, "checked through CostModel, a one-layer model a = activate(XWᵀ + b)"))
