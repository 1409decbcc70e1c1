"""gdkit: gradient descent as a library.

The mathematics of "Learning with gradient descent" (Nielsen, *Neural
Networks and Deep Learning*, ch. 1) cut into three swappable parts, an
:class:`~gdkit.protocols.Objective` C(v), a
:class:`~gdkit.protocols.GradientSource` for ∇C and a
:class:`~gdkit.protocols.StepRule` for v → v − η∇C (a
:func:`chain` of direction transforms and a step size), composed by one
loop, :func:`minimize`. Parts are found by name through a pluggy registry fed by
the ``gdkit.plugins`` entry-point group, or passed as objects.

>>> import gdkit
>>> res = gdkit.minimize("rosenbrock", step=gdkit.step_rule("armijo"), max_iter=50_000)
>>> res.success, res.x.round(4).tolist()
(True, [1.0, 1.0])
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import errors, protocols
from .adapters import FunctionObjective, as_objective
from .compose import Chain, chain
from .descent import minimize
from .gradcheck import Comparison, GradientCheck, check_gradient
from .hookspecs import hookimpl, hookspec
from .observers import EpochEnd, Observer
from .parts import cost, gradient_source, objective, parse_step, step_rule, step_size, transform
from .protocols import (
    Cost,
    GradientSource,
    Objective,
    PureStepRule,
    StepContext,
    StepRule,
    StepSize,
    Transform,
)
from .registry import Registry, get_registry, reset_registry
from .result import History, Result
from .settings import Checkpointing, RunOptions

try:
    __version__ = version("gdkit")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = [
    "Chain",
    "Checkpointing",
    "Comparison",
    "Cost",
    "EpochEnd",
    "FunctionObjective",
    "GradientCheck",
    "GradientSource",
    "History",
    "Objective",
    "Observer",
    "PureStepRule",
    "Registry",
    "Result",
    "RunOptions",
    "StepContext",
    "StepRule",
    "StepSize",
    "Transform",
    "__version__",
    "as_objective",
    "chain",
    "check_gradient",
    "cost",
    "errors",
    "get_registry",
    "gradient_source",
    "hookimpl",
    "hookspec",
    "minimize",
    "objective",
    "parse_step",
    "protocols",
    "reset_registry",
    "step_rule",
    "step_size",
    "transform",
]
