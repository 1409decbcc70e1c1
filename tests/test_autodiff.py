"""Exact gradients of numpy code: what is particular to the ``autograd`` gradient source
(what both autodiff sources promise is in test_autodiff_sources.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit.errors import ConfigError

anp = pytest.importorskip("autograd.numpy", reason="the autodiff extra is not installed")


@pytest.mark.parametrize(("code", "cause"), [
    (lambda v: float(anp.sum(v * v)), "float()"),
    (lambda v: np.asarray(v, dtype=float).sum(), "plain numpy"),
    (lambda v: (v @ v).item(), ".item()"),
])
def test_a_cost_autograd_cannot_trace_is_one_clear_error(code: Any, cause: str) -> None:
    with pytest.raises(ConfigError) as info:
        gdkit.minimize(code, [1.0, 2.0], gradient="autograd", max_iter=3)
    text = str(info.value)
    assert text.startswith("the gradient source 'autograd' could not trace the cost of "
                           "FunctionObjective(<lambda>, dim=2)")
    assert cause in text


def test_an_in_place_assignment_is_named() -> None:
    def cost(v: Any) -> Any:
        w = anp.zeros(2)
        w[0] = v[0]  # autograd cannot trace an assignment into an array
        return anp.sum(w * w)

    with pytest.raises(ConfigError, match=r"could not trace.*in place"):
        gdkit.minimize(cost, [1.0, 2.0], gradient="autograd", max_iter=3)


