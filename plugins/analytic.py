"""The analytic gradient source: ∇C from the objective itself (eq. 8)."""

from __future__ import annotations

from typing import Any, final

import gdkit
from gdkit.errors import ConfigError
from gdkit.protocols import Batch, FloatArray, HasGradient, Objective

__all__ = ["Analytic"]


@final
class Analytic:
    """Asks the objective for its own gradient: ``objective.gradient(v, batch, out)``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Analytic()"

    def validate(self, objective: Objective) -> None:
        """Refuse an objective without a ``gradient`` method."""
        if not isinstance(objective, HasGradient):
            head = f"{objective!r} has no analytic gradient (no gradient(v, batch, out) method). "
            raise ConfigError(
                head + "Use a finite-difference source, gradient='central', or give it a "
                "gradient (gradient=jac for a callable).", setting="gradient", what=head)

    def gradient(self, objective: Objective, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        return objective.gradient(v, batch, out)  # type: ignore[attr-defined,no-any-return]


@gdkit.hookimpl
def gdkit_gradient_sources() -> dict[str, Any]:
    return {"analytic": Analytic}
