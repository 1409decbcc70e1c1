"""What :func:`~gdkit.check_gradient` reports: one :class:`Comparison` per
derivative compared, and the :class:`GradientCheck` holding them (passed,
errors, the worst coordinate, and a report as its ``str()``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import final

__all__ = ["Comparison", "GradientCheck"]


@final
@dataclass(frozen=True)
class Comparison:
    """One derivative of C: the gradient's value against the cost's.

    Attributes
    ----------
    label : str
        ``"∂C/∂v[i]"`` or ``"∇C·u (random unit direction #k)"``.
    index : int or None
        The coordinate i, or None for a random direction.
    analytic : float
        ∇C·u from the gradient checked (u = eᵢ for a coordinate).
    reference : float
        The same derivative from the cost: central differences or the complex step.
    error : float
        ``|analytic − reference|``.
    tolerance : float
        The error allowed here.
    h : float
        The difference step.
    """

    label: str
    analytic: float
    reference: float
    error: float
    tolerance: float
    h: float
    index: int | None = None

    @property
    def relative(self) -> float:
        """``error / max(|analytic|, |reference|)`` (0 when both are 0)."""
        scale = max(abs(self.analytic), abs(self.reference))
        return self.error / scale if scale > 0 else (0.0 if self.error == 0 else math.inf)

    @property
    def ok(self) -> bool:
        """The error is within the tolerance (a NaN is not)."""
        return self.error <= self.tolerance

    @property
    def badness(self) -> float:
        """``error / tolerance``: above 1 fails."""
        if math.isnan(self.error):
            return math.inf
        return self.error / self.tolerance if self.tolerance > 0 else math.inf


def _worst(comparisons: Sequence[Comparison]) -> Comparison | None:
    """The failing comparison furthest beyond its tolerance, if any fails."""
    bad = [c for c in comparisons if not c.ok]
    return max(bad, key=lambda c: c.badness) if bad else None


@final
@dataclass(frozen=True)
class GradientCheck:
    """What :func:`~gdkit.check_gradient` compared, and whether the gradient passed.

    Attributes
    ----------
    objective : str
        The objective checked (its repr).
    gradient : str
        ``"analytic"`` (the objective's own gradient) or the gradient source checked.
    method : {"central", "complex-step"}
        What the gradient was compared with.
    dtype : str
        v's dtype.
    dim : int
        m, the number of parameters.
    batch : int or None
        The size of the mini-batch the cost and gradient were taken on, or
        None for the full cost.
    comparisons : tuple of Comparison
        Every derivative compared: coordinates first, then random directions.
    rtol : float or None
        The relative tolerance each comparison allowed, on top of the error
        of the reference itself (None where not recorded).
    """

    objective: str
    gradient: str
    method: str
    dtype: str
    dim: int
    batch: int | None
    comparisons: tuple[Comparison, ...] = field(repr=False)
    rtol: float | None = None

    @property
    def passed(self) -> bool:
        """Every comparison is within its tolerance."""
        return all(c.ok for c in self.comparisons)

    @property
    def failures(self) -> tuple[Comparison, ...]:
        """The comparisons outside their tolerance."""
        return tuple(c for c in self.comparisons if not c.ok)

    @property
    def coordinates(self) -> tuple[int, ...]:
        """The coordinates checked one by one."""
        return tuple(c.index for c in self.comparisons if c.index is not None)

    @property
    def directions(self) -> int:
        """How many random directions were checked."""
        return sum(c.index is None for c in self.comparisons)

    @property
    def abs_error(self) -> float:
        """The largest absolute error over the comparisons."""
        return max((c.error for c in self.comparisons), default=0.0)

    @property
    def rel_error(self) -> float:
        """The largest relative error over the comparisons."""
        return max((c.relative for c in self.comparisons), default=0.0)

    @property
    def worst(self) -> Comparison | None:
        """The comparison closest to (or furthest beyond) its tolerance."""
        return max(self.comparisons, key=lambda c: c.badness, default=None)

    @property
    def worst_coordinate(self) -> Comparison | None:
        """Of the coordinates checked, the one closest to (or furthest beyond)
        its tolerance; its ``index`` names it."""
        coords = [c for c in self.comparisons if c.index is not None]
        return max(coords, key=lambda c: c.badness, default=None)

    def __str__(self) -> str:
        ref = "central differences" if self.method == "central" else "the complex step"
        what = "analytic gradient" if self.gradient == "analytic" else f"gradient {self.gradient}"
        on = "" if self.batch is None else f", on a mini-batch of {self.batch} inputs"
        ncoord = len(self.coordinates)
        coords = (f"all {ncoord} coordinates" if ncoord == self.dim
                  else f"{ncoord} of {self.dim} coordinates (a random sample)")
        lines = [f"{self.objective} ({self.dim} parameters, {self.dtype}{on}): {what} "
                 f"against {ref}",
                 f"  checked {coords} and {self.directions} random directions",
                 f"  largest absolute error {self.abs_error:.3g}, largest relative error "
                 f"{self.rel_error:.3g}"]
        worst = self.worst_coordinate
        if worst is not None:
            lines.append("  worst coordinate: " + _line(worst, self.method))
        lines += self._why_a_large_relative_error_passes()
        bad = self.failures
        lines += ["  FAILED " + _line(c, self.method) for c in bad[:10]]
        if len(bad) > 10:
            lines.append(f"  ... and {len(bad) - 10} more failures")
        lines.append(f"{'PASSED' if self.passed else 'FAILED'}: {len(self.comparisons) - len(bad)}"
                     f" of {len(self.comparisons)} derivatives agree")
        return "\n".join(lines)


    def _why_a_large_relative_error_passes(self) -> list[str]:
        """One line when the largest relative error is above rtol and yet passes: a
        derivative so small that the reference cannot resolve it any better."""
        top = max(self.comparisons, key=lambda c: c.relative, default=None)
        if top is None or not top.ok or self.rtol is None or top.relative <= self.rtol:
            return []
        ref = "central differences" if self.method == "central" else "the complex step"
        size = max(abs(top.analytic), abs(top.reference))
        return [f"  the largest relative error passes: {top.label} is only {size:.3g}, and "
                f"its absolute error {top.error:.3g} is within the {top.tolerance:.3g} "
                f"allowed there (rtol {self.rtol:.3g} of it, plus the rounding and "
                f"truncation error of {ref} itself)"]


def _line(c: Comparison, method: str) -> str:
    ref = "central differences" if method == "central" else "complex step"
    return (f"{c.label}: gradient {c.analytic:.10g}, {ref} {c.reference:.10g}: absolute error "
            f"{c.error:.3g} ({c.tolerance:.3g} allowed), relative {c.relative:.3g}")
